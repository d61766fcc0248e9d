"""``cgroup-controller-disabled``: the rule's advice and its remedy's plan are one decision.

Both read ``facts.get(controller_fix)``; these tests hold them to it on every node root with
the finding (the fix cases, tests/roots, and variants where the disabling word is set outside
the boot file): the files the advice names are the files the plan edits, the commands it
lists are the plan's commands in the same order (or, with no edit to follow, the plan's
instructions), and a plan claims "reboot" only when the advice does and nothing else is
left to do.
"""

from __future__ import annotations

import json
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from nodedoctor.cli import main
from nodedoctor.facts import Facts
from nodedoctor.fix.plan import Plan
from nodedoctor.fix.planner import build_plan
from nodedoctor.model import Finding
from nodedoctor.sources.root import directory_root
from tests.fix.helpers import snapshot
from tests.helpers import check_root

REPO = Path(__file__).parents[2]
CASES = Path(__file__).parent / "cases"
RULE = "cgroup-controller-disabled"


def _case_root(case: Path) -> Path:
    spec = yaml.safe_load((case / "case.yaml").read_text(encoding="utf-8")) or {}
    return REPO / spec["root"] if "root" in spec else case / "root"


def _drop_from_grub(word: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        grub = root / "etc/default/grub"
        text = grub.read_text(encoding="utf-8")
        assert word in text
        grub.write_text(text.replace(f" {word}", "").replace(word, ""), encoding="utf-8")

    return edit


def _also_disable_pids_elsewhere(root: Path) -> None:
    """``cgroup_disable=pids`` in /proc/cmdline only (a boot-menu edit nobody kept)."""
    cmdline = root / "proc/cmdline"
    cmdline.write_text(cmdline.read_text().rstrip("\n") + " cgroup_disable=pids\n")
    controllers = root / "sys/fs/cgroup/cgroup.controllers"
    controllers.write_text(controllers.read_text().replace(" pids", ""))


#: name -> (the root it starts from, how it is changed)
VARIANTS: dict[str, tuple[Path, Callable[[Path], None]]] = {
    # Only the BLS entries (and /proc/cmdline) hold the word: grubby removes it.
    "rocky9 entries only": (
        CASES / "rocky9-grubby/root",
        _drop_from_grub("cgroup_disable=memory"),
    ),
    # Debian: the word is not in /etc/default/grub and nobody knows where it comes from.
    "debian12 unknown place": (
        CASES / "debian12-grub/root",
        _drop_from_grub("cgroup_disable=memory"),
    ),
    # Debian: one word in the file (edited), one from an unknown place (an instruction).
    "debian12 file and unknown place": (CASES / "debian12-grub/root", _also_disable_pids_elsewhere),
}

CASE_ROOTS = {
    case.name: _case_root(case)
    for case in sorted(CASES.iterdir())
    if (case / "case.yaml").is_file()
}
TREE_ROOTS = {p.parent.name: p for p in sorted((REPO / "tests/roots").glob("*/root"))}


def _root(name: str, tmp_path: Path) -> Path:
    if name in VARIANTS:
        source, change = VARIANTS[name]
        root = tmp_path / "root"
        shutil.copytree(source, root, symlinks=True)
        change(root)
        return root
    return CASE_ROOTS.get(name) or TREE_ROOTS[name]


def _finding(root: Path) -> Finding | None:
    return next((f for f in check_root(root, only=(RULE,)).findings if f.rule == RULE), None)


def _plan(root: Path, finding: Finding) -> Plan:
    return build_plan(Facts(directory_root(str(root))), [finding])


def _with_finding() -> list[str]:
    names = [*VARIANTS]
    for name, root in {**CASE_ROOTS, **TREE_ROOTS}.items():
        if name not in names and _finding(root) is not None:
            names.append(name)
    return names


WITH_FINDING = _with_finding()


def test_the_roots_cover_every_kind_of_boot_file() -> None:
    """Not a vacuous parametrization: GRUB with grubby and update-grub, kernel-install, Pi
    firmware (bookworm and /boot/cmdline.txt), a split line, a disk image."""
    assert {
        "rocky9-grubby",
        "rocky9-grubby-entries",
        "debian12-grub",
        "debian12-systemd-boot",
        "rpi4-rocky9",
        "rpi-bookworm-split",
        "rpi-bookworm-stub",
        "rpi-bookworm-image",
    } <= set(WITH_FINDING)


@pytest.mark.parametrize("name", WITH_FINDING)
def test_advice_and_plan_agree(name: str, tmp_path: Path) -> None:
    root = _root(name, tmp_path)
    finding = _finding(root)
    assert finding is not None
    assert finding.fix is not None
    fix = finding.fix
    plan = _plan(root, finding)
    assert not plan.refusals or not fix.files, plan.refusals
    steps = {s.path for s in plan.steps}
    advised = [tuple(shlex.split(c)) for c in fix.commands]
    told = " ".join(i.text for i in plan.instructions if i.rule == RULE)
    if steps:
        assert steps == set(fix.files)
        assert [c.argv for c in plan.commands] == advised
        assert (RULE in plan.reboot) is fix.reboot
    else:
        assert not plan.commands
        for command in fix.commands:
            assert command in told, (command, told)
        if RULE in plan.reboot:
            # "only a reboot is missing" never hides a command the advice names
            assert not fix.commands, fix.commands


def test_entries_only_is_not_a_reboot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The word is only in the BLS entries: the advice is grubby, so the plan must not say
    that the file is right and a reboot is all that is missing (a reboot keeps the word)."""
    root = _root("rocky9 entries only", tmp_path)
    finding = _finding(root)
    assert finding is not None
    assert finding.fix is not None
    assert finding.fix.commands == (
        'grubby --update-kernel=ALL --remove-args="cgroup_disable=memory"',
    )
    plan = _plan(root, finding)
    assert (plan.steps, plan.commands, plan.reboot) == ((), (), ())
    (instruction,) = plan.instructions
    assert instruction.text == (
        'remove "cgroup_disable=memory" from the boot entries: '
        '`grubby --update-kernel=ALL --remove-args="cgroup_disable=memory"`, then reboot'
    )
    before = snapshot(root)
    assert main(["fix", "--root", str(root), "--only", RULE, "--apply", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "grubby --update-kernel=ALL --remove-args" in out
    assert "reboot required" not in out
    assert snapshot(root) == before


def test_unknown_place_is_an_instruction_next_to_the_edit(tmp_path: Path) -> None:
    root = _root("debian12 file and unknown place", tmp_path)
    finding = _finding(root)
    assert finding is not None
    plan = _plan(root, finding)
    assert [s.path for s in plan.steps] == ["/etc/default/grub"]
    assert [c.argv for c in plan.commands] == [("update-grub",)]
    assert [i.text for i in plan.instructions] == [
        'remove "cgroup_disable=pids" from the boot configuration the running kernel got it '
        "from (not /etc/default/grub), then reboot"
    ]


def test_image_edit_needs_no_reboot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A Pi image before its first boot: the advice says no reboot, and so does the plan;
    after the apply the prediction is gone."""
    root = tmp_path / "root"
    shutil.copytree(CASES / "rpi-bookworm-image/root", root, symlinks=True)
    finding = _finding(root)
    assert finding is not None
    assert finding.fix is not None
    assert finding.fix.reboot is False
    assert finding.fix.available
    plan = _plan(root, finding)
    assert plan.reboot == ()
    assert [s.path for s in plan.steps] == ["/boot/firmware/cmdline.txt"]
    code = main(
        ["fix", "--root", str(root), "--only", RULE, "--apply", "--yes", "--format", "json"]
    )
    applied = json.loads(capsys.readouterr().out)["applied"]
    assert code == 0
    assert [(o["rule"], o["status"], o["detail"]) for o in applied["outcomes"]] == [
        (RULE, "fixed", "")
    ]
    assert _finding(root) is None
