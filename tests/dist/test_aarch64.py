"""The single-file build on aarch64: Debian's arm64 python3, run under qemu-user.

scripts/install-system-deps installs qemu-user-static and unpacks Debian's arm64 ``python3``
(and the libraries it links) into a sysroot, by default /var/cache/nodedoctor/arm64-sysroot
(``NODEDOCTOR_ARM64_SYSROOT`` moves it). Every run here is
``qemu-aarch64-static -L SYSROOT SYSROOT/usr/bin/python3 -I -S nodedoctor.pyz ...``: the
arm64 interpreter, its arm64 extension modules (``_json``, ``_bz2``, ...) and libc, with
nothing taken from binfmt registration. What it prints must equal the x86_64 run of the same
file by the machine's own ``python3`` (tests/dist/test_zipapp.py compares that one with the
installed package). Emulation makes timings meaningless, so nothing here is timed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from nodedoctor.rules import all_rules
from tests.dist import test_zipapp as zipapp
from tests.helpers import ROOTS

SYSROOT = Path(os.environ.get("NODEDOCTOR_ARM64_SYSROOT", "/var/cache/nodedoctor/arm64-sysroot"))
ARM64_PYTHON = SYSROOT / "usr" / "bin" / "python3"
QEMU = shutil.which("qemu-aarch64-static")
#: Scenario roots run one at a time (the batch test runs every root, through forked workers):
#: runtime TOML and kubelet YAML, a cgroup tree, a Raspberry Pi boot partition; each has findings.
SINGLE_ROOTS = (
    "crio-cgroupfs-wrong-conmon",
    "kubeadm-ubuntu22-containerd-default",
    "microk8s-1.29-power-cut",
    "rpi-os-bookworm-stub-edited",
)
EM_AARCH64 = 183  # e_machine in the ELF header


def _why_not() -> str | None:
    if QEMU is None:
        return "qemu-aarch64-static is not installed (scripts/install-system-deps, as root)"
    if not ARM64_PYTHON.exists():
        return f"no arm64 python3 in {SYSROOT} (scripts/install-system-deps builds it, as root)"
    return None


pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(_why_not() is not None, reason=str(_why_not())),
]

# The same build and environment as tests/dist/test_zipapp.py.
pyz = zipapp.pyz
env = zipapp.env


def run_arm64(pyz: Path, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    assert QEMU is not None
    cmd = [QEMU, "-L", str(SYSROOT), str(ARM64_PYTHON), "-I", "-S", str(pyz), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=False)


def run_x86_64(pyz: Path, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return zipapp.run_zip(pyz, args, env)


def own_cache(env: dict[str, str], tmp_path: Path, name: str) -> dict[str, str]:
    """Each interpreter unpacks and byte-compiles the zip in a cache of its own."""
    return {**env, "NODEDOCTOR_CACHE_DIR": str(tmp_path / name)}


def findings(report: dict[str, Any]) -> list[tuple[str, str, Any]]:
    return [(f["rule"], f["severity"], f["evidence"]) for f in report["findings"]]


def profile_args(profile: str | None) -> list[str]:
    return ["--profile", profile] if profile else []


def test_the_interpreter_is_debians_arm64_python3(env: dict[str, str]) -> None:
    with ARM64_PYTHON.resolve().open("rb") as f:
        header = f.read(20)
    assert header[:4] == b"\x7fELF"
    assert header[4] == 2  # 64-bit
    assert int.from_bytes(header[18:20], "little") == EM_AARCH64
    assert QEMU is not None
    probe = (
        "import json, platform, sys, _json; print(json.dumps([platform.machine(), "
        "list(sys.version_info[:2]), sys.prefix, _json.__file__]))"
    )
    out = subprocess.run(
        [QEMU, "-L", str(SYSROOT), str(ARM64_PYTHON), "-I", "-S", "-c", probe],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    machine, version, prefix, json_ext = json.loads(out.stdout)
    assert machine == "aarch64"
    assert tuple(version) >= (3, 9)
    # Its own standard library and arm64 extension modules, not the machine's.
    assert prefix == str(SYSROOT / "usr")
    assert json_ext.startswith(str(SYSROOT / "usr" / "lib"))
    assert json_ext.endswith("-aarch64-linux-gnu.so")


def test_version_on_aarch64_equals_x86_64(pyz: Path, env: dict[str, str], tmp_path: Path) -> None:
    x86 = run_x86_64(pyz, ["--version"], own_cache(env, tmp_path, "x86_64"))
    assert x86.returncode == 0, x86.stderr
    assert x86.stdout.startswith("nodedoctor 0.")
    cache = tmp_path / "aarch64"
    for cache_dir in (str(cache), "off"):
        arm = run_arm64(pyz, ["--version"], {**env, "NODEDOCTOR_CACHE_DIR": cache_dir})
        assert arm.returncode == 0, arm.stderr
        assert arm.stdout == x86.stdout
    # The arm64 interpreter unpacked the zip and wrote its own bytecode there.
    builds = [p for p in cache.iterdir() if not p.name.startswith(".")]
    assert len(builds) == 1
    assert (builds[0] / ".complete").is_file()
    assert list((builds[0] / "nodedoctor").glob("__pycache__/*.pyc"))


@pytest.mark.parametrize("scenario", SINGLE_ROOTS)
def test_single_root_on_aarch64_equals_x86_64(
    pyz: Path, env: dict[str, str], tmp_path: Path, scenario: str
) -> None:
    case = ROOTS / scenario
    assert (case / "root").is_dir(), f"scenario {scenario} is gone; pick another"
    profile = zipapp._profile(case)
    args = ["check", "--root", str(case / "root"), "--format", "json", "--fail-on", "info"]
    args += profile_args(profile)
    x86 = run_x86_64(pyz, args, own_cache(env, tmp_path, "x86_64"))
    arm = run_arm64(pyz, args, own_cache(env, tmp_path, "aarch64"))
    assert x86.returncode == 1, x86.stderr  # the scenario has findings: the comparison counts
    assert arm.returncode == x86.returncode, arm.stderr
    expected, got = json.loads(x86.stdout), json.loads(arm.stdout)
    assert findings(expected)
    assert findings(got) == findings(expected)
    assert zipapp.comparable(got) == zipapp.comparable(expected)


def test_every_root_on_aarch64_equals_x86_64(
    pyz: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """Every scenario and rule-case root through the batch mode (forked workers)."""
    by_profile: dict[str | None, list[Path]] = {}
    for root, profile in zipapp._roots():
        by_profile.setdefault(profile, []).append(root)
    if not by_profile:
        pytest.skip("no scenario roots yet")
    compared = with_findings = 0
    for profile, roots in by_profile.items():
        args = ["check", "--format", "json", "--root", *map(str, roots), str(roots[0])]
        args += profile_args(profile)
        x86 = run_x86_64(pyz, args, own_cache(env, tmp_path, "x86_64"))
        arm = run_arm64(pyz, args, own_cache(env, tmp_path, "aarch64"))
        assert x86.returncode in (0, 1), x86.stderr
        assert arm.returncode == x86.returncode, arm.stderr
        x86_lines, arm_lines = x86.stdout.splitlines(), arm.stdout.splitlines()
        assert len(x86_lines) == len(roots) + 1
        assert len(arm_lines) == len(x86_lines)
        for root, x86_line, arm_line in zip([*roots, roots[0]], x86_lines, arm_lines):
            expected, got = json.loads(x86_line), json.loads(arm_line)
            assert got["node"]["root"] == str(root)
            assert findings(got) == findings(expected), root
            assert zipapp.comparable(got) == zipapp.comparable(expected), root
            compared += 1
            with_findings += bool(expected["findings"])
    assert compared > len(SINGLE_ROOTS)
    assert with_findings > 0


def test_explain_every_rule_on_aarch64_from_the_zip(pyz: Path, env: dict[str, str]) -> None:
    """Rule documents read by importlib.resources straight from the zip (cache off)."""
    env = {**env, "NODEDOCTOR_CACHE_DIR": "off"}
    rules = all_rules()
    assert rules
    for rule in rules:
        x86 = run_x86_64(pyz, ["explain", rule.id], env)
        arm = run_arm64(pyz, ["explain", rule.id], env)
        assert x86.returncode == 0, x86.stderr
        assert arm.returncode == 0, (rule.id, arm.stderr)
        assert arm.stdout == x86.stdout, rule.id
        assert "SYMPTOMS" in arm.stdout
