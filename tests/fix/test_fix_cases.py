"""One runner for every remedy's golden case (tests/fix/cases/<case>/).

A case holds ``case.yaml`` and ``after/`` (the expected bytes of every file the fix
writes, at their node paths; exactly these files must change). ``case.yaml``::

    root: tests/roots/rocky9-rpi4-before-kubespray/root   # the node before (default: ./root)
    only: [cgroup-controller-disabled]    # --only (default: every rule)
    profile: microk8s                     # --profile
    kubernetes_version: "1.29"            # --kubernetes-version
    outcomes: {cgroup-controller-disabled: needs-reboot}   # what the re-check says
    changed_lines: {/boot/cmdline.txt: 2} # diff-size assertion: lines removed + added
    commands: ["systemctl daemon-reload"] # the plan's commands (offline: not run)
    restart: ["snap restart microk8s"]    # the plan's restarts (offline: not run)
    reboot: [cgroup-controller-disabled]  # the rules the plan reboots for (default: unchecked)
    after_findings: [boot-cmdline-ignored]  # rules that must fire after the apply
    appeared: [boot-cmdline-ignored]      # findings the re-check adds (default: none)
    containerd: {path: /etc/containerd/config.toml, systemd: true}  # the real containerd
                                          # must load the written file: SystemdCgroup as
                                          # given, no disabled plugin, CRI plugin ok

For each case, on a copy of the root whose files are owned by 4321:4321: the plan is shown
(exit 1), ``fix --apply --yes`` writes exactly ``after/`` with modes and owners kept, the
re-check gives ``outcomes``, a second ``fix`` plans nothing (exit 0), and ``rollback``
returns the root to byte-identical, with modes and owners.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from nodedoctor.cli import main
from tests import realcontainerd
from tests.fix.helpers import snapshot
from tests.helpers import check_root

REPO = Path(__file__).parents[2]
CASES = Path(__file__).parent / "cases"
CASE_DIRS = sorted(p for p in CASES.iterdir() if (p / "case.yaml").is_file())
OWNER = 4321


def _load(case: Path) -> dict[str, Any]:
    data = yaml.safe_load((case / "case.yaml").read_text(encoding="utf-8")) or {}
    assert isinstance(data, dict)
    return data


def _copy_root(case: Path, spec: dict[str, Any], dest: Path) -> Path:
    source = REPO / spec["root"] if "root" in spec else case / "root"
    shutil.copytree(source, dest, symlinks=True)
    for dirpath, _dirs, files in os.walk(dest):
        for name in files:
            p = Path(dirpath) / name
            if not p.is_symlink():
                os.chown(p, OWNER, OWNER)
    return dest


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip().startswith(("{", "[")) else {"text": out}


def _expected_after(case: Path) -> dict[str, bytes]:
    after = case / "after"
    out: dict[str, bytes] = {}
    for dirpath, _dirs, files in os.walk(after):
        for name in files:
            p = Path(dirpath) / name
            out["/" + str(p.relative_to(after))] = p.read_bytes()
    return out


def _real_containerd_loads(root: Path, want: dict[str, Any], workdir: Path) -> None:
    why_not = realcontainerd.missing_daemon()
    if why_not is not None:
        pytest.skip(f"real containerd: {why_not}")
    config = root / str(want["path"]).lstrip("/")
    dump = realcontainerd.effective_config(config)
    cri = dump["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is want["systemd"]
    assert dump.get("disabled_plugins", []) == []
    started = realcontainerd.start(config, workdir)
    assert started.ok, started.log[-2000:]
    assert started.status("io.containerd.grpc.v1.cri") == "ok", started.plugins


@pytest.mark.parametrize("case", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
def test_fix_case(case: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _load(case)
    root = _copy_root(case, spec, tmp_path / "root")
    before = snapshot(root)
    args = ["--root", str(root), "--format", "json"]
    if spec.get("profile"):
        args += ["--profile", str(spec["profile"])]
    if spec.get("kubernetes_version"):
        args += ["--kubernetes-version", str(spec["kubernetes_version"])]
    if spec.get("only"):
        args += ["--only", *spec["only"]]
    expected = _expected_after(case)

    code, shown = _run(capsys, "fix", *args)
    plan = shown["plan"]
    assert code == 1, plan
    assert {s["path"] for s in plan["steps"]} == set(expected), plan["refused"]
    assert [" ".join(c["argv"]) for c in plan["commands"]] == spec.get("commands", [])
    assert [" ".join(r["argv"]) for r in plan["restart"]] == spec.get("restart", [])
    if "reboot" in spec:
        assert plan["reboot"]["rules"] == spec["reboot"], plan["reboot"]
    for path, limit in (spec.get("changed_lines") or {}).items():
        diff = next(s["diff"] for s in plan["steps"] if s["path"] == path)
        counted = [line for line in diff.splitlines()[2:] if line[:1] in "+-"]
        assert len(counted) == limit, diff

    code, applied = _run(capsys, "fix", *args, "--apply", "--yes")
    result = applied["applied"]
    outcomes = {o["rule"]: o["status"] for o in result["outcomes"]}
    assert outcomes == spec["outcomes"], result
    assert sorted(f["rule"] for f in result["appeared"]) == sorted(spec.get("appeared", []))
    assert code == (1 if "still-wrong" in outcomes.values() else 0)
    assert sorted(result["written"]) == sorted(expected)
    for path, data in expected.items():
        host = root / path.lstrip("/")
        assert host.read_bytes() == data, path
        if path.lstrip("/") in before:
            _digest, mode, uid, gid = before[path.lstrip("/")]
            st = host.stat()
            assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (mode, uid, gid), path
    changed = {p for p, v in snapshot(root).items() if before.get(p) != v}
    # Links inside the root (MicroK8s's current -> <revision>) are followed: the target changes.
    real = {os.path.relpath(os.path.realpath(root / p.lstrip("/")), root) for p in expected}
    assert changed == real
    if "containerd" in spec:
        _real_containerd_loads(root, spec["containerd"], tmp_path / "containerd")
    if "after_findings" in spec:
        version = spec.get("kubernetes_version")
        report = check_root(
            root,
            profile=spec.get("profile"),
            kubernetes_version=str(version) if version else None,
        )
        assert set(spec["after_findings"]) <= {f.rule for f in report.findings}

    code, again = _run(capsys, "fix", *args)
    assert code == 0, again["plan"]
    assert not again["plan"]["steps"]
    assert not again["plan"]["commands"]

    code, listed = _run(capsys, "journal", "--root", str(root), "--format", "json")
    assert code == 0
    assert [e["state"] for e in listed] == ["applied"]

    code, rolled = _run(capsys, "rollback", "--root", str(root), "--format", "json")
    assert code == 0, rolled
    assert snapshot(root) == before
