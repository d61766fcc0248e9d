"""A finding carries its remedy, decided by its rule, and ``fix`` carries it out as it is.

On node roots: the remedy a rule puts on its finding names the file, the table and key, the
value, the service (a finding's remedy is data one can read before anything runs); carried
out, it gives the diff the fix case holds. Across every root under tests/: what a plan does
for a finding stays within what the finding's advice tells the reader (the files, commands,
restarts and reboot it names), and a rule's findings all carry a remedy or none do.
Unit tests: every kind of step has its applier; a remedy that waits for another finding's
cause; a TOML table chosen by the file's version as planned.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import get_args

import pytest
import yaml

from nodedoctor.facts import Facts
from nodedoctor.facts.packages import snap_confinement
from nodedoctor.fix.appliers import _APPLIERS, apply_steps
from nodedoctor.fix.plan import Workspace
from nodedoctor.fix.planner import build_plan
from nodedoctor.model import Finding, Severity
from nodedoctor.remedies import steps
from nodedoctor.remedies.steps import (
    PLAN_ORDER,
    ContainerdVersion2,
    Instruction,
    Refuse,
    Remedy,
    Restart,
    TomlArrayRemove,
    TomlSet,
)
from nodedoctor.rules.families import RULE_FAMILIES
from nodedoctor.sources.root import directory_root
from tests.helpers import CASES, ROOTS, case_dirs, case_profile, case_root, check_root

REPO = Path(__file__).parents[2]
FIX_CASES = Path(__file__).parent / "cases"


def _fix_case_root(case: Path) -> Path:
    spec = yaml.safe_load((case / "case.yaml").read_text(encoding="utf-8")) or {}
    return REPO / spec["root"] if "root" in spec else case / "root"


def _after(case: str, path: str) -> bytes:
    return (FIX_CASES / case / "after" / path.lstrip("/")).read_bytes()


def _only(root: Path, rule: str) -> Finding:
    (finding,) = [f for f in check_root(root).findings if f.rule == rule]
    return finding


def test_every_kind_of_step_has_one_applier() -> None:
    assert set(_APPLIERS) == set(get_args(steps.Step))


def test_the_plan_order_names_rules() -> None:
    assert len(set(PLAN_ORDER)) == len(PLAN_ORDER)
    assert set(PLAN_ORDER) <= set(RULE_FAMILIES)


def test_the_conmon_finding_carries_its_edit() -> None:
    root = _fix_case_root(FIX_CASES / "crio-cgroupfs-wrong-conmon")
    finding = _only(root, "crio-conmon-cgroup-invalid")
    path = "/etc/crio/crio.conf.d/20-cgroupfs.conf"
    assert finding.remedy is not None
    (edit, restart) = finding.remedy.steps
    assert isinstance(edit, TomlSet)
    assert (edit.path, edit.table, edit.key, edit.value) == (
        path,
        ("crio", "runtime"),
        "conmon_cgroup",
        "pod",
    )
    assert restart == Restart("crio.service")
    plan = build_plan(Facts(directory_root(str(root))), [finding])
    (step,) = plan.steps
    assert step.path == path
    assert step.new == _after("crio-cgroupfs-wrong-conmon", path)


def test_the_docker_file_findings_carry_their_edits() -> None:
    """Docker's containerd.io file: CRI back on, and SystemdCgroup in the table of the file's
    version (1: the short plugin name), each decided by its rule; one plan applies both."""
    root = _fix_case_root(FIX_CASES / "docker-containerd-io")
    config = "/etc/containerd/config.toml"
    report = check_root(root)
    cri = next(f for f in report.findings if f.rule == "containerd-cri-disabled")
    driver = next(f for f in report.findings if f.rule == "cgroup-driver-mismatch")
    assert cri.remedy is not None
    assert driver.remedy is not None
    remove = cri.remedy.steps[0]
    assert isinstance(remove, TomlArrayRemove)
    assert (remove.path, remove.key, remove.values) == (
        config,
        ("disabled_plugins",),
        ("cri", "io.containerd.grpc.v1.cri"),
    )
    systemd = driver.remedy.steps[0]
    assert isinstance(systemd, TomlSet)
    assert (systemd.path, systemd.key, systemd.value) == (config, "SystemdCgroup", True)
    assert dict(systemd.tables)[1][:2] == ("plugins", "cri")
    assert dict(systemd.tables)[2][:2] == ("plugins", "io.containerd.grpc.v1.cri")
    plan = build_plan(Facts(directory_root(str(root))), [driver, cri])
    (step,) = plan.steps
    assert step.rules == ("containerd-cri-disabled", "cgroup-driver-mismatch")
    assert step.new == _after("docker-containerd-io", config)


def test_the_table_follows_the_version_as_planned(tmp_path: Path) -> None:
    """``version = 2`` planned first: SystemdCgroup goes to the full-name table the version-2
    reading looks in, not the short-name table the facts saw, and with containerd's keys."""
    root = tmp_path / "root"
    config = root / "etc/containerd/config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[plugins."io.containerd.grpc.v1.cri".containerd]\n  snapshotter = "x"\n')
    short = ("plugins", "cri", "containerd", "runtimes", "runc", "options")
    full = ("plugins", "io.containerd.grpc.v1.cri", "containerd", "runtimes", "runc", "options")
    path = "/etc/containerd/config.toml"
    set_driver = TomlSet(path, full, "SystemdCgroup", True, tables=((1, short), (2, full)))
    ws = Workspace(Facts(directory_root(str(root))))
    rule = "cgroup-driver-mismatch"
    finding = Finding(rule, Severity.ERROR, rule, "")
    apply_steps(ws, [ContainerdVersion2((path,), "version 2"), set_driver], finding)
    (step,) = ws.steps()
    assert step.new.decode().startswith("version = 2\n")
    assert '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]' in (
        step.new.decode()
    )
    assert step.reasons[-1].description == (
        'SystemdCgroup = true in [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.'
        "runc.options]"
    )
    alone = Workspace(Facts(directory_root(str(root))))
    apply_steps(alone, [set_driver], finding)
    assert "[plugins.cri.containerd.runtimes.runc.options]" in alone.steps()[0].new.decode()


@pytest.mark.parametrize(
    ("line", "confinement"),
    [
        ("confinement: classic", "classic"),
        ("confinement: 'strict'  # set by the store", "strict"),
        ("  confinement: classic", None),  # not top-level: a nested key
        ("grade: stable", None),
    ],
)
def test_snap_confinement(tmp_path: Path, line: str, confinement: str | None) -> None:
    """What decides whether MicroK8s gets the delegation drop-in (microk8s#4503 applies to
    classic confinement only)."""
    meta = tmp_path / "snap/microk8s/current/meta/snap.yaml"
    meta.parent.mkdir(parents=True)
    meta.write_text(f"name: microk8s\nversion: v1.29.15\n{line}\n", encoding="utf-8")
    assert snap_confinement(Facts(directory_root(str(tmp_path))), "microk8s") == confinement


def test_a_remedy_waits_while_its_cause_is_found() -> None:
    waiting = Instruction("fix {rules} first", "why")
    remedy = Remedy((Refuse("no"),), unless_found=("b", "a"), instead=(waiting,))
    assert remedy.chosen({"c"}) == (Refuse("no"),)
    assert remedy.chosen({"a", "b", "c"}) == (Instruction("fix a, b first", "why"),)


def _roots() -> dict[str, tuple[Path, str | None]]:
    out: dict[str, tuple[Path, str | None]] = {}
    for scenario in sorted(ROOTS.glob("*/root")):
        out[f"roots/{scenario.parent.name}"] = (scenario, None)
    for case in sorted(p for p in FIX_CASES.iterdir() if (p / "case.yaml").is_file()):
        out[f"fix/{case.name}"] = (_fix_case_root(case), None)
    for case in case_dirs():
        if case.name.startswith("bad"):
            out[f"cases/{case.relative_to(CASES)}"] = (case, case_profile(case))
    return out


ROOT_NAMES = list(_roots())


@pytest.mark.parametrize("name", ROOT_NAMES)
def test_the_plan_stays_within_the_advice(name: str) -> None:
    """What the report tells the reader covers what ``fix`` does: the files it edits, the
    commands it runs, the services it restarts (by unit, or by the advice's command), the
    reboot; and a fix the advice calls available is planned without refusal."""
    where, profile = _roots()[name]
    root = case_root(where) if where.is_relative_to(CASES) else where
    report = check_root(root, profile=profile)
    with_remedy: dict[str, set[bool]] = {}
    for finding in report.findings:
        with_remedy.setdefault(finding.rule, set()).add(finding.remedy is not None)
        advice = finding.fix
        if finding.remedy is None or advice is None:
            continue
        plan = build_plan(Facts(directory_root(str(root)), profile=profile), [finding])
        if advice.files:
            assert {s.path for s in plan.steps} <= set(advice.files), finding.rule
        advised = [tuple(shlex.split(c)) for c in advice.commands]
        assert all(c.argv in advised for c in plan.commands), finding.rule
        if plan.reboot:
            assert advice.reboot, finding.rule
        if advice.restart or advice.commands:
            for r in plan.restarts:
                named = r.service.removesuffix(".service") in advice.restart
                assert named or " ".join(r.argv) in advice.commands, (finding.rule, r)
        if advice.available:
            assert plan.steps, finding.rule
            assert not plan.refusals, (finding.rule, plan.refusals)
    mixed = [rule for rule, has in with_remedy.items() if len(has) > 1]
    assert not mixed, f"findings of {mixed} carry a remedy only sometimes"
