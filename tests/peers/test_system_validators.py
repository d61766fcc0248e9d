"""nodedoctor beside kubeadm's own system validators, on the same live node states.

kubeadm's SystemVerification preflight check is ``k8s.io/system-validators``. Debian ships it
as golang-k8s-system-validators-dev (1.4.0); ``system_validators/main.go`` runs its kernel, OS
and cgroups validators as kubeadm's ``SystemVerificationCheck`` does, built offline
(``GO111MODULE=off GOPROXY=off GOPATH=<dir>:/usr/share/gocode go build``) once per version of
its inputs into a cache directory under the system's temporary directory.

Each node state is made live inside a private mount namespace of the test's own (``unshare
--mount --propagation private``), never on the host: files bound over ``/proc/config.gz`` (the
Debian 12 distribution kernel's configuration, from Debian's linux-config-6.1, edited as the
state says), ``/proc/cgroups``, ``/proc/cmdline`` and ``/proc/sys/kernel/osrelease``; for a
cgroup v2 state the host's cgroup mounts are detached in the namespace and a read-only cgroup2
is mounted at ``/sys/fs/cgroup`` with its ``cgroup.controllers`` bound over from a file; a
tmpfs over ``/boot`` holds ``config-<release>``; an old kernel is ``setarch --uname-2.6`` (the
kernel's UNAME26 personality) with the matching ``osrelease``. The validators and ``nodedoctor
check`` then run in the same namespace, and every problem the validators report (their errors
and warnings, as kubeadm prints them, and the items they mark bad or warn) must be reported by
nodedoctor too, by the rule :data:`PROBLEMS` maps it to, with evidence and a fix. Where kubeadm
1.35's validators (v1.12.1) report more than Debian's 1.4.0, :data:`KUBEADM_135` adds it from
their source. The host's mounts and ``/proc`` files are compared before and after.

Debian's 1.4.0 has no freezer probe (it counts ``freezer`` and ``devices`` as always present on
cgroup v2; v1.11 and later create a cgroup under the unified mount to probe ``cgroup.freeze``),
so no state needs a writable cgroup.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import lzma
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
MAIN_GO = Path(__file__).with_name("system_validators") / "main.go"
GOCODE = Path("/usr/share/gocode")
VALIDATORS_SRC = GOCODE / "src/k8s.io/system-validators/validators"
#: Debian 12's distribution kernel configuration (linux-config-6.1, amd64 flavour).
DEBIAN_KCONFIG = Path("/usr/src/linux-config-6.1/config.amd64_none_amd64.xz")
ROOTS = REPO / "tests/roots"
#: A cgroup v2 host's /proc/cgroups and root cgroup.controllers (kubeadm 1.33 on Ubuntu 24.04).
V2_CGROUPS = ROOTS / "kubeadm-healthy-v2/root/proc/cgroups"
V2_CONTROLLERS = ROOTS / "kubeadm-healthy-v2/root/sys/fs/cgroup/cgroup.controllers"
V2_CMDLINE = ROOTS / "kubeadm-healthy-v2/root/proc/cmdline"

#: The rule other helpers of issue 13 write (rename here if it lands under another id):
#: kernel build options the kubelet, containerd and kube-proxy need.
KERNEL_CONFIG_RULE = "kernel-config-missing"
#: A kernel older than kubeadm's validators accept; no rule yet.
KERNEL_VERSION_RULE = "kernel-version-unsupported"


@dataclass(frozen=True)
class Problem:
    """How one kind of validator message is matched: its pattern, the nodedoctor rule that
    must report it (``None``: deliberately not reported, ``why`` says why), and the group of
    the pattern that the finding must name."""

    pattern: str
    rule: str | None
    why: str = ""


#: Validator message (an error, a warning, or a reported item ``KEY: value``) -> rule.
PROBLEMS: tuple[Problem, ...] = (
    Problem(r"^missing required cgroups: (\S+)", "cgroup-controller-disabled"),
    Problem(r"^missing optional cgroups: (\S+)", "cgroup-controller-disabled"),
    Problem(r"^CGROUPS_(\S+): missing$", "cgroup-controller-disabled"),
    Problem(r"^cgroups v1 support is (?:deprecated|in maintenance)", "cgroup-v1-unsupported"),
    Problem(r"^unsupported kernel release: (\S+)", KERNEL_VERSION_RULE),
    Problem(r"^KERNEL_VERSION: (\S+)$", KERNEL_VERSION_RULE),
    Problem(
        r"^CONFIG_AUFS_FS: not set",
        None,
        "aufs is an out-of-tree filesystem no distribution kernel builds; only Docker before "
        "18.09 used it, containerd and CRI-O use overlayfs (CONFIG_OVERLAY_FS)",
    ),
    Problem(
        r"^CONFIG_BLK_DEV_DM: not set",
        None,
        "devicemapper is a storage driver that no runtime's default uses",
    ),
    Problem(r"^unexpected kernel config: CONFIG_(\S+)", KERNEL_CONFIG_RULE),
    Problem(r"^CONFIG_(\S+): (?:not set|disabled)", KERNEL_CONFIG_RULE),
)

#: The validators name a missing option by the last alias they tried (types_unix.go
#: DefaultSysSpec); the option's own name is the one a finding names.
ALIASES = {"OVERLAYFS_FS": "OVERLAY_FS", "IP_NF_TARGET_REDIRECT": "NETFILTER_XT_TARGET_REDIRECT"}

#: What kubeadm 1.35's validators (k8s.io/system-validators v1.12.1,
#: validators/cgroup_validator_linux.go) report beyond Debian's 1.4.0, per state: on cgroup
#: v1 an error while the kubelet's failCgroupV1 is true, its 1.35 default.
KUBEADM_135: dict[str, tuple[str, ...]] = {
    "cgroup-v1": (
        "cgroups v1 support is deprecated and will be removed in a future release. Please "
        "migrate to cgroups v2. To explicitly enable cgroups v1 support for kubelet v1.35 or "
        "newer, you must set the kubelet configuration option 'FailCgroupV1' to 'false'.",
    ),
}


@dataclass(frozen=True)
class State:
    name: str
    #: ``v2``: a read-only cgroup2 at /sys/fs/cgroup; ``host``: the host's own hierarchy
    #: (hybrid on the machines these tests run on: cgroup v1 for the kubelet).
    cgroup: str = "v2"
    #: Controllers the root cgroup.controllers lists (v2).
    controllers: str = ""
    #: /proc/cgroups rows to mark disabled (``cgroup_disable=``).
    disabled: tuple[str, ...] = ()
    #: Kernel configuration options to turn off (``# CONFIG_X is not set``).
    kconfig_off: tuple[str, ...] = ()
    #: Run under the UNAME26 personality: an old kernel release.
    old_kernel: bool = False
    nodedoctor_args: tuple[str, ...] = ()
    #: Rules the state's problems depend on, for the reader (see the module docstring).
    needs: tuple[str, ...] = field(default=())


STATES = (
    State("healthy"),
    State("memory-cgroup-missing", disabled=("memory",), needs=("cgroup-controller-disabled",)),
    State("kconfig-no-overlayfs", kconfig_off=("OVERLAY_FS",), needs=(KERNEL_CONFIG_RULE,)),
    State(
        "kconfig-no-xt-comment",
        kconfig_off=("NETFILTER_XT_MATCH_COMMENT",),
        needs=(KERNEL_CONFIG_RULE,),
    ),
    State(
        "cgroup-v1",
        cgroup="host",
        nodedoctor_args=("--kubernetes-version", "1.35"),
        needs=("cgroup-v1-unsupported",),
    ),
    State("old-kernel", old_kernel=True, needs=(KERNEL_VERSION_RULE,)),
)


def _need(condition: bool, why: str) -> None:
    if not condition:
        pytest.skip(why)


def _inputs_key() -> str:
    """What the built binary depends on: main.go, the validators' package version, go."""
    digest = hashlib.sha256(MAIN_GO.read_bytes())
    version = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "golang-k8s-system-validators-dev"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    go = subprocess.run(["go", "version"], capture_output=True, text=True, check=False).stdout
    digest.update(version.encode() + b"\0" + go.encode())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="module")
def validators() -> Path:
    """The validators' binary, built once and kept in the temporary directory's cache."""
    _need(os.geteuid() == 0, "needs root (mount namespaces)")
    _need(shutil.which("unshare") is not None, "needs unshare (util-linux)")
    _need(shutil.which("setarch") is not None, "needs setarch (util-linux)")
    _need(
        shutil.which("go") is not None and VALIDATORS_SRC.is_dir(),
        "needs golang-go and golang-k8s-system-validators-dev (scripts/install-system-deps)",
    )
    _need(DEBIAN_KCONFIG.is_file(), "needs linux-config-6.1 (scripts/install-system-deps)")
    cache = Path(tempfile.gettempdir()) / "nodedoctor-test-cache"
    binary = cache / f"system-validators-{_inputs_key()}"
    if binary.is_file():
        return binary
    cache.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as work:
        package = Path(work) / "gopath/src/nodedoctor-peers/system-validators"
        package.mkdir(parents=True)
        shutil.copy(MAIN_GO, package / "main.go")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": work,
            "GO111MODULE": "off",
            "GOPROXY": "off",
            "GOFLAGS": "",
            "CGO_ENABLED": "0",
            "GOPATH": f"{work}/gopath:{GOCODE}",
            "GOCACHE": str(cache / "go-build"),
        }
        built = Path(work) / "system-validators"
        result = subprocess.run(
            ["go", "build", "-o", str(built), "nodedoctor-peers/system-validators"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr
        os.replace(built, binary)
    return binary


def _kernel_config(state: State, release: str) -> bytes:
    """Debian 12's kernel configuration with ``state.kconfig_off`` turned off as kconfig
    writes it (the option's sub-options go with it), its banner naming the running kernel's
    version: the configuration stands in for the running kernel's (nodedoctor, unlike the
    validators, does not judge a kernel by another kernel's configuration)."""
    lines = lzma.decompress(DEBIAN_KCONFIG.read_bytes()).decode().splitlines()
    version = release.split("-", 1)[0]
    out: list[str] = []
    for line in lines:
        banner = re.match(r"^# (Linux/\S+) \S+ (.*Kernel Configuration)$", line)
        if banner:
            out.append(f"# {banner.group(1)} {version} {banner.group(2)}")
            continue
        name = re.match(r"^(?:# )?CONFIG_([A-Z0-9_]+)[= ]", line)
        option = name.group(1) if name else None
        off = next((o for o in state.kconfig_off if option == o), None)
        under = any(option and option.startswith(o + "_") for o in state.kconfig_off)
        if off is not None:
            out.append(f"# CONFIG_{off} is not set")
        elif not under:
            out.append(line)
    return ("\n".join(out) + "\n").encode()


def _proc_cgroups(state: State) -> str:
    rows = V2_CGROUPS.read_text().splitlines()
    out = [rows[0]]
    for row in rows[1:]:
        fields = row.split("\t")
        if fields[0] in state.disabled:
            fields[3] = "0"
        out.append("\t".join(fields))
    return "\n".join(out) + "\n"


def _script(state: State, work: Path, validators: Path) -> Path:
    """The shell script that makes ``state`` inside the namespace and runs both tools."""
    files = work / "files"
    files.mkdir()
    controllers = V2_CONTROLLERS.read_text().split()
    controllers = [c for c in controllers if c not in state.disabled]
    (files / "cgroup.controllers").write_text(" ".join(controllers) + "\n")
    (files / "cgroups").write_text(_proc_cgroups(state))
    cmdline = V2_CMDLINE.read_text().strip()
    if state.disabled:
        cmdline += " " + " ".join(f"cgroup_disable={c}" for c in state.disabled)
    (files / "cmdline").write_text(cmdline + "\n")
    release = os.uname().release
    if state.old_kernel:
        # The kernel's UNAME26 personality: 2.6.(60 + minor), then the rest of the release.
        release = subprocess.run(
            ["setarch", os.uname().machine, "--uname-2.6", "uname", "-r"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    (files / "osrelease").write_text(release + "\n")
    (files / "config.gz").write_bytes(gzip.compress(_kernel_config(state, release), mtime=0))
    # Forwarding on, as kubeadm's own preflight needs (not a SystemVerification check).
    (files / "ip_forward").write_text("1\n")
    bin_dir = work / "bin"
    bin_dir.mkdir()
    # The validators load the "configs" module when they find no configuration: never here.
    (bin_dir / "modprobe").write_text("#!/bin/sh\necho 'modprobe: not in this test' >&2\nexit 1\n")
    (bin_dir / "modprobe").chmod(0o755)
    setarch = f"setarch {os.uname().machine} --uname-2.6 " if state.old_kernel else ""
    v2 = state.cgroup == "v2"
    # No container runtime runs in the test's namespace: kubeadm's CRI check (not one of the
    # validators' SystemVerification checks) is left out here; tests/test_preflight_rules.py
    # runs cri-socket-not-answering against a real containerd.
    # Nor are the runtime and the init system this machine happens to have: judged against
    # what kubeadm will configure (the systemd cgroup driver, kubelet 1.37 by default), its
    # PID 1 (not systemd) and Debian's containerd 1.6 are findings of their own
    # (cgroup-driver-not-systemd, runtime-version-unsupported; tests/test_preflight_live.py).
    check = ["-m", "nodedoctor", "check", "--format", "json", "--profile", "kubeadm"]
    check += ["--skip", "cri-socket-not-answering", "CgroupDriverMismatch"]
    check += ["runtime-version-unsupported"]
    nodedoctor = " ".join([sys.executable, *check, *state.nodedoctor_args])
    script = work / "state.sh"
    script.write_text(
        f"""set -eu
F={files}
{'for f in cgroups cmdline; do mount --bind "$F/$f" "/proc/$f"; done' if v2 else ""}
mount --bind "$F/osrelease" /proc/sys/kernel/osrelease
mount --bind "$F/ip_forward" /proc/sys/net/ipv4/ip_forward
if [ -e /proc/config.gz ]; then mount --bind "$F/config.gz" /proc/config.gz; fi
mount -t tmpfs -o size=8m,mode=0755 nodedoctor-test-boot /boot
gzip -dc "$F/config.gz" > "/boot/config-{release}"
{"umount -R /sys/fs/cgroup" if v2 else ""}
{"mount -t cgroup2 -o ro,nosuid,nodev,noexec cgroup2 /sys/fs/cgroup" if v2 else ""}
{'mount --bind "$F/cgroup.controllers" /sys/fs/cgroup/cgroup.controllers' if v2 else ""}
export PATH="{bin_dir}:$PATH"
set +e
{setarch}{validators} > {work}/validators.json 2> {work}/validators.stderr
echo $? > {work}/validators.rc
export PYTHONPATH="{REPO}/src:{REPO}"
{setarch}{nodedoctor} > {work}/nodedoctor.json 2> {work}/nodedoctor.stderr
echo $? > {work}/nodedoctor.rc
"""
    )
    return script


def _host_state() -> dict[str, str]:
    def read(path: str) -> str:
        try:
            return hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError as exc:
            return f"unreadable: {exc.strerror}"

    mounts = Path("/proc/self/mountinfo").read_text()
    # num_cgroups (the third column) moves with whatever else runs on the host.
    cgroups = [
        row.split()[:2] + row.split()[3:] for row in Path("/proc/cgroups").read_text().splitlines()
    ]
    return {
        "mountinfo": mounts,
        "cgroups": json.dumps(cgroups),
        **{p: read(p) for p in ("/proc/config.gz", "/proc/cmdline")},
        "osrelease": Path("/proc/sys/kernel/osrelease").read_text(),
        "boot": " ".join(sorted(os.listdir("/boot"))),
    }


@dataclass
class Run:
    validators: dict[str, Any]
    validators_rc: int
    report: dict[str, Any] | None
    nodedoctor_rc: int
    nodedoctor_stderr: str


def _run(state: State, validators: Path, work: Path) -> Run:
    before = _host_state()
    script = _script(state, work, validators)
    made = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", str(script)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert _host_state() == before, "the host's mounts or /proc files changed"
    assert made.returncode == 0, made.stderr
    raw = (work / "nodedoctor.json").read_text()
    return Run(
        validators=json.loads((work / "validators.json").read_text()),
        validators_rc=int((work / "validators.rc").read_text()),
        report=json.loads(raw) if raw.strip() else None,
        nodedoctor_rc=int((work / "nodedoctor.rc").read_text()),
        nodedoctor_stderr=(work / "nodedoctor.stderr").read_text(),
    )


def problems(output: dict[str, Any]) -> list[str]:
    """What the validators report: their errors and warnings (kubeadm's [ERROR|WARNING
    SystemVerification] lines) and every item they mark bad or warn, as ``KEY: value``."""
    items = [f"{i['key']}: {i['value']}" for i in output["items"] if i["result"] != "good"]
    return [*output["errors"], *output["warnings"], *items]


def _match(problem: str) -> tuple[Problem, str | None]:
    for known in PROBLEMS:
        m = re.search(known.pattern, problem)
        if m:
            return known, (m.group(1) if m.groups() else None)
    raise AssertionError(f"no entry in PROBLEMS for the validators' {problem!r}")


def _finding_text(finding: dict[str, Any]) -> str:
    evidence = " ".join(f"{e['source']} {e['text']}" for e in finding.get("evidence", []))
    return " ".join([finding["title"], finding["message"], finding.get("impact", ""), evidence])


def _assert_reported(problem: str, report: dict[str, Any]) -> None:
    known, token = _match(problem)
    if known.rule is None:
        assert known.why, problem
        return
    found = [f for f in report["findings"] if f["rule"] == known.rule]
    assert found, f"the validators report {problem!r}; nodedoctor has no {known.rule} finding"
    if token is not None:
        name = ALIASES.get(token, token).rstrip(".:").lower()
        found = [f for f in found if name in _finding_text(f).lower()]
        assert found, f"no {known.rule} finding names {token!r} ({problem!r})"
    for f in found:
        assert f["evidence"], f
        assert f["fix"].get("summary"), f"{f['rule']}: no fix"


@pytest.mark.root
@pytest.mark.system
@pytest.mark.parametrize("state", STATES, ids=[s.name for s in STATES])
def test_nodedoctor_reports_what_the_validators_report(
    state: State, validators: Path, tmp_path: Path
) -> None:
    run = _run(state, validators, tmp_path)
    assert run.report is not None, (run.nodedoctor_rc, run.nodedoctor_stderr)
    assert run.nodedoctor_rc in (0, 1), run.nodedoctor_stderr
    reported = problems(run.validators)
    for problem in [*reported, *KUBEADM_135.get(state.name, ())]:
        _assert_reported(problem, run.report)
    if state.name == "healthy":
        # The validators pass (kubeadm prints nothing) and nodedoctor finds nothing to warn of.
        assert run.validators_rc == 0
        assert run.validators["errors"] == run.validators["warnings"] == []
        assert all(_match(p)[0].rule is None for p in reported), reported
        loud = [f for f in run.report["findings"] if f["severity"] in ("error", "warning")]
        assert loud == [], loud
    else:
        # The state is what it says: the validators (or kubeadm 1.35's) see a problem.
        assert [p for p in reported if _match(p)[0].rule] or state.name in KUBEADM_135


@pytest.mark.root
@pytest.mark.system
def test_the_states_are_what_the_validators_see(validators: Path, tmp_path: Path) -> None:
    """The faked files reach the validators: memory missing, the option off, the old kernel."""
    seen = {}
    for state in STATES:
        work = tmp_path / state.name
        work.mkdir()
        seen[state.name] = problems(_run(state, validators, work).validators)
    assert "missing required cgroups: memory" in seen["memory-cgroup-missing"]
    assert "CONFIG_OVERLAYFS_FS: not set - Required for overlayfs." in seen["kconfig-no-overlayfs"]
    assert (
        "unexpected kernel config: CONFIG_NETFILTER_XT_MATCH_COMMENT"
        in seen["kconfig-no-xt-comment"]
    )
    assert any(p.startswith("unsupported kernel release: 2.6.") for p in seen["old-kernel"])
    assert seen["cgroup-v1"] == seen["healthy"]  # 1.4.0 has no cgroup v1 policy
