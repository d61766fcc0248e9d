"""Runs INSIDE private mount, network and PID namespaces (``unshare --mount --net
--propagation private --pid --fork --mount-proc``), started by tests/clean/test_clean_real.py.
Never run it directly.

It builds a torn-down node for real, with the real paths visible only in this namespace:
tmpfs over ``/run`` and ``/var/lib``; Calico's cgroup2 at ``/run/calico/cgroup`` (on a
tmpfs ``/run/calico``); Cilium's cgroup2 at ``/run/cilium/cgroupv2`` and its fallback bpffs
at ``/run/cilium/bpffs``; the standard bpffs at ``/sys/fs/bpf`` (to be kept); a CNI netns bind
mount ``/run/netns/cni-...``; a tmpfs *at* ``/var/lib/kubelet`` (to be kept, as ``kubeadm
reset`` keeps it) with pod volume tmpfs mounts and a subpath bind mount strictly under it
(scenario ``microk8s``: also a pod volume under MicroK8s's kubelet directory, on a private
``/var``); and kubepods cgroups for both drivers in a uniquely named subtree of the unified
(cgroup2) hierarchy, mounted privately at WORK/cg. One pod cgroup holds a live process.

Then it runs the scenario through the real CLI and prints one JSON object with what it saw.
The cgroup subtree is removed before it exits, whatever happens; the mounts die with the
namespace.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from nodedoctor.cli import main as nodedoctor_main

POD_A = "3f1c2b9e-8d3a-4c56-9f01-2a3b4c5d6e7f"
POD_B = "9a8b7c6d-1e2f-4a5b-8c7d-0e1f2a3b4c5d"
POD_LIVE = "0c0ffee0-1111-4222-8333-444455556666"
SECRET_VOLUME = f"/var/lib/kubelet/pods/{POD_B}/volumes/kubernetes.io~secret/default-token"
TOKEN_VOLUME = (
    f"/var/lib/kubelet/pods/{POD_A}/volumes/kubernetes.io~projected/kube-api-access-7xk2p"
)
#: MicroK8s's kubelet runs with --root-dir=${SNAP_COMMON}/var/lib/kubelet.
MICROK8S_VOLUME = (
    f"/var/snap/microk8s/common/var/lib/kubelet/pods/{POD_A}/volumes/"
    "kubernetes.io~projected/kube-api-access-m8s2x"
)


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def mountinfo() -> list[tuple[str, str]]:
    out = []
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            out.append((fields[4], fields[sep + 1]))
    return out


def host_cgroups(exclude: str) -> list[str]:
    """Every cgroup directory of the host's hierarchies, except our own test subtree."""
    found: list[str] = []
    for top, dirs, _ in os.walk("/sys/fs/cgroup"):
        if top == exclude or top.startswith(exclude + "/"):
            dirs[:] = []
            continue
        found.append(top)
    return sorted(found)


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = nodedoctor_main(list(args))
    return code, out.getvalue(), err.getvalue()


def isolate(work: Path) -> None:
    """The namespace's own /etc (an overlay whose writes go to WORK) and the network sysfs
    of its own network namespace: clean sees nothing of the host's CNI files, kubeadm
    files or interfaces."""
    for d in ("etc-up", "etc-work", "sys"):
        (work / d).mkdir()
    sh(
        "mount",
        "-t",
        "overlay",
        "overlay",
        "-o",
        f"lowerdir=/etc,upperdir={work}/etc-up,workdir={work}/etc-work",
        "/etc",
    )
    sh("mount", "-t", "sysfs", "sysfs", str(work / "sys"))
    sh("mount", "--bind", str(work / "sys/class/net"), "/sys/class/net")
    sh("mount", "--bind", str(work / "sys/devices/virtual/net"), "/sys/devices/virtual/net")


def build(work: Path, test_name: str) -> dict[str, object]:
    isolate(work)
    sh("mount", "-t", "tmpfs", "run", "/run")
    for d in ("/run/calico", "/run/cilium/cgroupv2", "/run/cilium/bpffs", "/run/netns"):
        os.makedirs(d, exist_ok=True)
    sh("mount", "-t", "tmpfs", "calico", "/run/calico")
    os.makedirs("/run/calico/cgroup")
    sh("mount", "-t", "cgroup2", "none", "/run/calico/cgroup")
    sh("mount", "-t", "cgroup2", "none", "/run/cilium/cgroupv2")
    sh("mount", "-t", "bpf", "bpf", "/run/cilium/bpffs")
    sh("mount", "-t", "bpf", "bpf", "/sys/fs/bpf")
    netns = "/run/netns/cni-5b8a9e0c-2d4f-4e6a-9b1c-3d5e7f9a1b2c"
    Path(netns).touch()
    sh("mount", "--bind", "/proc/self/ns/net", netns)

    sh("mount", "-t", "tmpfs", "varlib", "/var/lib")
    os.makedirs("/var/lib/kubelet")
    sh("mount", "-t", "tmpfs", "kubelet-disk", "/var/lib/kubelet")
    pods = "/var/lib/kubelet/pods"
    token = TOKEN_VOLUME
    secret = SECRET_VOLUME
    subpath_src = f"{pods}/{POD_B}/volumes/kubernetes.io~empty-dir/data"
    subpath = f"{pods}/{POD_B}/volume-subpaths/data/app/0"
    for d in (token, secret, subpath_src, subpath):
        os.makedirs(d)
    sh("mount", "-t", "tmpfs", "tmpfs", token)
    sh("mount", "-t", "tmpfs", "tmpfs", secret)
    sh("mount", "--bind", subpath_src, subpath)

    cg = work / "cg"
    cg.mkdir()
    sh("mount", "-t", "cgroup2", "none", str(cg))
    root = cg / test_name
    cgroups = [
        "kubepods/burstable/pod" + POD_A + "/c0ffee",
        "kubepods/besteffort/pod" + POD_B,
        "kubepods/pod" + POD_LIVE + "/abc123",
        "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
        + POD_A.replace("-", "_")
        + ".slice/cri-containerd-0123.scope",
        "kubepods.slice/kubepods-besteffort.slice",
        "system.slice/not-kubernetes.service",
    ]
    for rel in cgroups:
        (root / rel).mkdir(parents=True)
    return {"cgroup_root": str(root), "cgroup_mount": str(cg)}


def stale(cgroup_root: str, procs: list[subprocess.Popen[bytes]]) -> dict[str, object]:
    """Plan, then change the node under the plan, then apply the stale plan."""
    from nodedoctor.clean.engine import apply_plan
    from nodedoctor.clean.plan import plan_clean
    from nodedoctor.facts import Facts
    from nodedoctor.sources.root import live_root

    plan = plan_clean(Facts(live_root()), cgroup_root)
    sh("umount", "/run/cilium/bpffs")  # gone already
    sh("mount", "-t", "tmpfs", "over", "/run/calico/cgroup")  # another mount on top
    os.makedirs(f"{TOKEN_VOLUME}/nested")
    sh("mount", "-t", "tmpfs", "nested", f"{TOKEN_VOLUME}/nested")  # an unplanned mount below
    late = spawn(shutil.which("sleep") or "/bin/sleep")
    procs.append(late)
    Path(cgroup_root, "kubepods", "besteffort", "pod" + POD_B, "cgroup.procs").write_text(
        str(late.pid)
    )
    result = apply_plan(plan, cgroup_root=cgroup_root)
    return {
        "stale_outcomes": [o.to_json() for o in result.outcomes],
        "stale_left": result.after.to_json(),
    }


def spawn(exe: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([exe, "300"], executable=exe, stdin=subprocess.DEVNULL)


def remove_tree(root: str) -> None:
    """Our cgroup subtree, deepest first, only with rmdir (processes killed first)."""
    if not os.path.isdir(root):
        return
    for top, _, _ in sorted(os.walk(root), key=lambda t: -t[0].count("/")):
        for _attempt in range(50):
            try:
                os.rmdir(top)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.1)


def main() -> int:
    scenario, work_arg, test_name = sys.argv[1:4]
    work = Path(work_arg)
    procs: list[subprocess.Popen[bytes]] = []
    report: dict[str, object] = {"scenario": scenario}
    cgroup_root = ""
    try:
        if scenario == "microk8s":
            # /var/snap may not exist on the host: a private /var holds it (and /var/lib).
            sh("mount", "-t", "tmpfs", "var", "/var")
            os.makedirs("/var/lib")
        built = build(work, test_name)
        if scenario == "microk8s":
            os.makedirs(MICROK8S_VOLUME)
            sh("mount", "-t", "tmpfs", "tmpfs", MICROK8S_VOLUME)
        cgroup_root = str(built["cgroup_root"])
        report.update(built)
        live = spawn(shutil.which("sleep") or "/bin/sleep")
        procs.append(live)
        Path(cgroup_root, "kubepods", "pod" + POD_LIVE, "abc123", "cgroup.procs").write_text(
            str(live.pid)
        )
        report["live_pid"] = live.pid
        if scenario in ("refuse", "stop"):
            bindir = work / "bin"
            bindir.mkdir()
            kubelet = bindir / "kubelet"
            shutil.copy2(shutil.which("sleep") or "/bin/sleep", kubelet)
            procs.append(spawn(str(kubelet)))
            time.sleep(0.2)
        own_cgroup_root = os.path.join("/sys/fs/cgroup/unified", test_name)
        report["mounts_before"] = mountinfo()
        report["cgroups_before"] = host_cgroups(own_cgroup_root)
        report["tree_before"] = sorted(t for t, _, _ in os.walk(cgroup_root))
        common = ("--cgroup-root", cgroup_root, "--format", "json")
        code, out, err = run_cli("clean", *common)
        report["plan_code"], report["plan"], report["plan_err"] = code, json.loads(out), err
        if scenario == "microk8s":
            code, out, err = run_cli("clean", "--apply", "--yes", *common)
            report["apply_code"], report["apply"], report["apply_err"] = code, json.loads(out), err
        elif scenario == "apply":
            # A file held open in a pod volume: that unmount is busy and must be detached.
            held = open(f"{SECRET_VOLUME}/token", "w", encoding="utf-8")  # noqa: SIM115
            code, out, err = run_cli("clean", "--apply", "--yes", *common)
            held.close()
            report["apply_code"], report["apply"], report["apply_err"] = code, json.loads(out), err
            code, out, err = run_cli("clean", "--apply", "--yes", *common)
            report["again_code"], report["again"] = code, json.loads(out)
        elif scenario == "refuse":
            code, out, err = run_cli("clean", "--apply", "--yes", *common)
            report["refused_code"], report["refused_err"] = code, err
            report["mounts_after_refusal"] = mountinfo()
            report["tree_after_refusal"] = sorted(t for t, _, _ in os.walk(cgroup_root))
            code, out, err = run_cli("clean", "--apply", "--yes", "--force", *common)
            report["forced_code"], report["forced"] = code, json.loads(out)
        elif scenario == "stale":
            report.update(stale(cgroup_root, procs))
        elif scenario == "stop":
            code, out, err = run_cli("clean", "--apply", "--yes", "--stop", *common)
            report["stop_code"], report["stop_err"] = code, err
        report["mounts_after"] = mountinfo()
        report["cgroups_after"] = host_cgroups(own_cgroup_root)
        report["tree_after"] = sorted(t for t, _, _ in os.walk(cgroup_root))
    finally:
        for p in procs:
            p.kill()
            p.wait()
        if cgroup_root:
            remove_tree(cgroup_root)
            report["removed_test_tree"] = not os.path.exists(cgroup_root)
    sys.stdout.write(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
