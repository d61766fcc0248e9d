"""The host side of the VM test: the image (scripts/build_vm_image), the 9p share the guest
reads and writes, and one boot of QEMU with software emulation (TCG; KVM does not work on these
machines, research/real-systemd-vm.md), killed when it overruns and checked to be gone.

Nothing is written outside the test's temporary directory and the image cache: the guest's
root file system is the cached image opened with ``snapshot=on`` (its writes go to a temporary
file in ``TMPDIR``, which is the test's directory), and the share is a directory of the test.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from nodedoctor._record import record

REPO = Path(__file__).resolve().parents[2]
BUILD_IMAGE = REPO / "scripts" / "build_vm_image"
BUILD_ZIPAPP = REPO / "scripts" / "build_zipapp.py"
GUEST = Path(__file__).resolve().parent / "guest"
ROOTS = REPO / "tests" / "roots"
QEMU = shutil.which("qemu-system-x86_64")
#: A build from scratch takes about 2 minutes here; far more means something hangs.
BUILD_TIMEOUT = 1800.0
#: Boot and scenario take about 3 minutes here (research: 2.5); far more means a hang.
BOOT_TIMEOUT = 1500.0
KERNEL_ARGS = "root=/dev/vda rw console=ttyS0 panic=-1"

#: The MicroK8s node: tests/nodes/microk8s-debian12-cpuset-not-delegated (MicroK8s 1.29, snap
#: revision 6532, on Debian 12: the files of tests/roots/microk8s-1.29-power-cut with the
#: containerd args of microk8s-default-layout), its files that say where its kubelet and its
#: containerd are configured.
MICROK8S_ROOT = REPO / "tests" / "nodes" / "microk8s-debian12-cpuset-not-delegated" / "root"
MICROK8S_FILES = (
    "snap/microk8s/6532/meta/snap.yaml",
    "snap/microk8s/current",
    "var/snap/microk8s/6532/args/kubelet",
    "var/snap/microk8s/6532/args/containerd.toml",
    "var/snap/microk8s/6532/args/containerd-template.toml",
    "var/snap/microk8s/current",
)
MICROK8S_UNIT = "etc/systemd/system/snap.microk8s.daemon-kubelite.service"
#: snapd's unit runs ``snap run``, which mounts nothing here: the guest has no snapd and no
#: squashfs of the snap, so the unit loses its mount dependency and runs the stand-in
#: directly. Nothing nodedoctor reads changes (it takes kubelite's flags from args/kubelet).
MICROK8S_UNIT_EDITS = (
    ("Requires=snap-microk8s-6532.mount\n", ""),
    ("After=snap-microk8s-6532.mount network.target", "After=network.target"),
    (
        "ExecStart=/usr/bin/snap run microk8s.daemon-kubelite",
        "ExecStart=/snap/microk8s/6532/kubelite",
    ),
)
#: MicroK8s's containerd as a running node shows it (tests/nodes/microk8s-debian12, from
#: ``run-containerd-with-args``): the command line its unit ends up running.
MICROK8S_CONTAINERD_CMDLINE = (
    REPO / "tests" / "nodes" / "microk8s-debian12" / "root/proc/733/cmdline"
)
MICROK8S_CONTAINERD_UNIT = "etc/systemd/system/snap.microk8s.daemon-containerd.service"
#: The kubeadm node: the kubelet unit of the Kubernetes packages and its kubeadm drop-in
#: (tests/roots/kubeadm-ubuntu22-containerd-default), upstream containerd's unit
#: (tests/roots/containerd-2.1-confd-dropin), unchanged.
KUBEADM_FILES = (
    (
        ROOTS / "kubeadm-ubuntu22-containerd-default" / "root",
        "usr/lib/systemd/system/kubelet.service",
    ),
    (
        ROOTS / "kubeadm-ubuntu22-containerd-default" / "root",
        "usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf",
    ),
    (
        ROOTS / "containerd-2.1-confd-dropin" / "root",
        "usr/local/lib/systemd/system/containerd.service",
    ),
)


@record
class Boot:
    """One run of the VM."""

    returncode: int | None
    timed_out: bool
    seconds: float
    console: str
    qemu_log: str
    #: Processes still naming the share after QEMU ended (none expected).
    left_behind: tuple[int, ...]


def image_state() -> tuple[Path, bool]:
    """The image's directory and whether it is built."""
    ran = subprocess.run(
        [str(BUILD_IMAGE), "--path"], capture_output=True, text=True, timeout=60, check=False
    )
    return Path(ran.stdout.strip()), ran.returncode == 0


def why_not() -> str | None:
    """Why the VM cannot run here, or None."""
    if QEMU is None:
        return "qemu-system-x86_64 is not installed (scripts/install-system-deps, as root)"
    _, built = image_state()
    if built:
        return None
    if os.geteuid() != 0:
        return "the VM image is not built and building it needs root (debootstrap)"
    for tool in ("debootstrap", "mkfs.ext4", "unshare"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/install-system-deps, as root)"
    return None


def build_image() -> tuple[Path, float]:
    """Build (or find) the image; its directory and the seconds it took."""
    began = time.monotonic()
    ran = subprocess.run(
        [str(BUILD_IMAGE)], capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False
    )
    if ran.returncode != 0:
        raise RuntimeError(f"scripts/build_vm_image failed ({ran.returncode}):\n{ran.stderr}")
    return Path(ran.stdout.strip().splitlines()[-1]), time.monotonic() - began


def _copy(src_root: Path, rel: str, dest_root: Path) -> None:
    src, dest = src_root / rel, dest_root / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    if src.is_symlink():
        dest.symlink_to(os.readlink(src))
    else:
        shutil.copy2(src, dest)


def _standin(name: str, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(GUEST / name, dest)
    dest.chmod(0o755)


def microk8s_unit() -> str:
    """snapd's unit for kubelite, made to run the stand-in (MICROK8S_UNIT_EDITS)."""
    text = (MICROK8S_ROOT / MICROK8S_UNIT).read_text(encoding="utf-8")
    for old, new in MICROK8S_UNIT_EDITS:
        if old not in text:
            raise ValueError(f"{MICROK8S_UNIT} of {MICROK8S_ROOT} has no {old!r}")
        text = text.replace(old, new)
    return text


def microk8s_containerd_unit() -> str:
    """snapd's unit for MicroK8s's containerd, as snapd writes it from the same template as
    kubelite's: the app's name, ``Type=notify`` for its ``daemon: notify`` (snap.yaml), and
    the stand-in run with containerd's recorded command line."""
    text = microk8s_unit().replace("daemon-kubelite", "daemon-containerd")
    argv = MICROK8S_CONTAINERD_CMDLINE.read_bytes().decode().split("\0")
    replaced = {"Type=simple": "Type=notify"}
    lines = [
        "ExecStart=" + " ".join(a for a in argv if a)
        if line.startswith("ExecStart=")
        else replaced.get(line, line)
        for line in text.splitlines()
    ]
    return "\n".join(lines) + "\n"


def prepare_share(share: Path) -> None:
    """The zipapp, the scenario (``run``) and the two node layouts, as the guest reads them."""
    share.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, str(BUILD_ZIPAPP), str(share / "nodedoctor.pyz")],
        check=True,
        capture_output=True,
        timeout=300,
    )
    _standin("scenario.py", share / "run")
    microk8s = share / "nodes" / "microk8s"
    for rel in MICROK8S_FILES:
        _copy(MICROK8S_ROOT, rel, microk8s)
    unit = microk8s / MICROK8S_UNIT
    unit.parent.mkdir(parents=True, exist_ok=True)
    unit.write_text(microk8s_unit(), encoding="utf-8")
    (microk8s / MICROK8S_CONTAINERD_UNIT).write_text(microk8s_containerd_unit(), encoding="utf-8")
    _standin("kubelet_standin.py", microk8s / "snap/microk8s/6532/kubelite")
    _standin("containerd_standin.py", microk8s / "snap/microk8s/6532/bin/containerd")
    kubeadm = share / "nodes" / "kubeadm"
    for root, rel in KUBEADM_FILES:
        _copy(root, rel, kubeadm)
    _standin("kubelet_standin.py", kubeadm / "usr/bin/kubelet")
    _standin("containerd_standin.py", kubeadm / "usr/local/bin/containerd")


def processes_naming(text: str) -> tuple[int, ...]:
    """Processes whose command line contains ``text``."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if text.encode() in cmdline:
            found.append(int(entry.name))
    return tuple(found)


def _die_with_parent() -> None:
    """In the child before QEMU starts: SIGKILL when the test's process dies, however it
    dies (``prctl(PR_SET_PDEATHSIG, SIGKILL)``), so no QEMU outlives a killed test run."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def boot(image: Path, share: Path, work: Path, timeout: float = BOOT_TIMEOUT) -> Boot:
    """Boot the image with the share; the guest runs the share's ``run`` and powers off."""
    assert QEMU is not None
    console = work / "console.log"
    qemu_log = work / "qemu.log"
    argv = [
        QEMU,
        "-accel",
        "tcg",
        "-m",
        "1024",
        "-smp",
        "1",
        "-nodefaults",
        "-no-reboot",
        "-display",
        "none",
        "-serial",
        f"file:{console}",
        "-kernel",
        str(image / "vmlinuz"),
        "-initrd",
        str(image / "initrd.img"),
        "-append",
        KERNEL_ARGS,
        "-drive",
        f"file={image / 'rootfs.img'},if=virtio,format=raw,snapshot=on",
        "-virtfs",
        f"local,path={share},mount_tag=share,security_model=none",
    ]
    env = {**os.environ, "TMPDIR": str(work)}  # where snapshot=on keeps the guest's writes
    began = time.monotonic()
    timed_out = False
    with qemu_log.open("wb") as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - no thread of the test runs then
        )
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(60)
    return Boot(
        returncode=proc.returncode,
        timed_out=timed_out,
        seconds=time.monotonic() - began,
        console=console.read_text(encoding="utf-8", errors="replace") if console.exists() else "",
        qemu_log=qemu_log.read_text(encoding="utf-8", errors="replace"),
        left_behind=processes_naming(str(share)),
    )
