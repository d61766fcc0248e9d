"""Commands that rewrite boot files (grubby, update-grub, grub2-mkconfig) are journaled like
edits: an apply records the files they rewrite before running them, and rollback restores
those too, byte for byte.

The node is the rocky9-grubby case (RHEL with BLS entries) in a temporary directory, checked
as a live root; grubby is stood in for by a runner that rewrites the BLS entries as grubby
does (this machine has no grubby and must not touch its own boot files)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from nodedoctor.engine import run as check
from nodedoctor.facts import Facts
from nodedoctor.fix import engine, journal, undo
from nodedoctor.fix.fsops import RefusedError
from nodedoctor.fix.plan import Command, Plan
from nodedoctor.fix.planner import build_plan
from nodedoctor.rules import all_rules
from nodedoctor.sources.root import Root
from tests.fix.helpers import snapshot
from tests.helpers import CASES, materialize_case

CASE = Path(__file__).parent / "cases" / "rocky9-grubby" / "root"
ENTRIES = "boot/loader/entries"


def _fake_grubby(root: Path, ran: list[tuple[str, ...]]) -> engine.Runner:
    def runner(argv: tuple[str, ...]) -> engine.CommandRun:
        ran.append(argv)
        assert argv[:2] == ("grubby", "--update-kernel=ALL")
        option, _, words = argv[2].partition("=")
        for entry in (root / ENTRIES).glob("*.conf"):
            lines = entry.read_text().splitlines(keepends=True)
            for i, line in enumerate(lines):
                if line.startswith("options "):
                    opts = line.split()[1:]
                    if option == "--remove-args":
                        opts = [o for o in opts if o not in words.split()]
                    else:
                        opts += words.split()
                    lines[i] = "options " + " ".join(opts) + "\n"
            entry.write_text("".join(lines))
        return engine.CommandRun(argv, 0, "")

    return runner


def _plan(root: Path) -> tuple[Root, Plan]:
    live = Root(str(root), live=True)  # a live root whose files are in tmp
    report = check(Facts(live), list(all_rules()))
    findings = [f for f in report.findings if f.rule == "cgroup-controller-disabled"]
    assert findings, [f.rule for f in report.findings]
    return live, build_plan(Facts(live), findings, context=report.findings)


def test_rollback_restores_what_grubby_rewrote(tmp_path: Path) -> None:
    root = tmp_path / "node"
    shutil.copytree(CASE, root)
    before = snapshot(root)
    live, plan = _plan(root)
    assert [c.argv[0] for c in plan.commands] == ["grubby"]
    ran: list[tuple[str, ...]] = []
    result = engine.apply(live, plan, runner=_fake_grubby(root, ran))
    assert ran
    assert result.journal_id is not None
    (bls,) = (root / ENTRIES).glob("*.conf")
    assert "cgroup_disable=memory" not in bls.read_text()
    entry = journal.find(live, result.journal_id)
    journaled = {f.path for f in entry.files}
    assert f"/{ENTRIES}/{bls.name}" in journaled
    assert "/etc/default/grub" in journaled

    undone = undo.rollback(live, entry)
    assert not undone.refused
    assert f"/{ENTRIES}/{bls.name}" in undone.restored
    assert snapshot(root) == before


def test_a_boot_entry_changed_after_the_apply_is_not_clobbered(tmp_path: Path) -> None:
    root = tmp_path / "node"
    shutil.copytree(CASE, root)
    live, plan = _plan(root)
    result = engine.apply(live, plan, runner=_fake_grubby(root, []))
    (bls,) = (root / ENTRIES).glob("*.conf")
    bls.write_text(bls.read_text() + "# a kernel update rewrote this entry\n")
    entry = journal.find(live, result.journal_id)
    undone = undo.rollback(live, entry)
    assert undone.refused
    assert (f"/{ENTRIES}/{bls.name}", "changed since the apply") in undone.changed_since


def test_an_offline_root_journals_no_command_files(tmp_path: Path) -> None:
    root = tmp_path / "node"
    shutil.copytree(CASE, root)
    offline = Root(str(root))
    report = check(Facts(offline), list(all_rules()))
    plan = build_plan(Facts(offline), report.findings)
    result = engine.apply(offline, plan, runner=_fake_grubby(root, []))
    entry = journal.find(offline, result.journal_id)
    assert {f.path for f in entry.files} == {"/etc/default/grub"}
    assert [c for c, _ in result.not_run] == [c.display for c in plan.commands]


@pytest.mark.parametrize(
    ("argv", "touches"),
    [
        (("update-grub",), ("/boot/grub/grub.cfg",)),
        (("grub2-mkconfig", "-o", "/boot/grub2/grub.cfg"), ("/boot/grub2/grub.cfg",)),
        (("systemctl", "daemon-reload"), ()),
    ],
)
def test_what_each_command_rewrites(argv: tuple[str, ...], touches: tuple[str, ...]) -> None:
    assert Command(argv, "r", "why").touches == touches


def test_rollback_leaves_a_file_the_apply_did_not_change(tmp_path: Path) -> None:
    """grubenv is journaled in case grubby rewrites it; when it did not, a later change (a
    kernel update's saved_entry) neither blocks the rollback nor is undone by it."""
    root = tmp_path / "node"
    shutil.copytree(CASE, root)
    grubenv = root / "boot/grub2/grubenv"
    grubenv.parent.mkdir(parents=True)
    grubenv.write_text("# GRUB Environment Block\nsaved_entry=old\n")
    live, plan = _plan(root)
    result = engine.apply(live, plan, runner=_fake_grubby(root, []))
    grubenv.write_text("# GRUB Environment Block\nsaved_entry=new-kernel\n")
    undone = undo.rollback(live, journal.find(live, result.journal_id))
    assert not undone.refused, undone.changed_since
    assert "/boot/grub2/grubenv" in undone.unchanged
    assert "saved_entry=new-kernel" in grubenv.read_text()
    (bls,) = (root / ENTRIES).glob("*.conf")
    assert "cgroup_disable=memory" in bls.read_text()  # grubby's edit is undone


def test_an_apply_stopped_while_grubby_ran_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "node"
    shutil.copytree(CASE, root)
    before = snapshot(root)
    live, plan = _plan(root)

    def killed(self: journal.Entry, root: Root, paths: set[str]) -> None:
        raise SystemExit(137)  # as if the process died before settling

    monkeypatch.setattr(journal.Entry, "settle", killed)
    with pytest.raises(SystemExit):
        engine.apply(live, plan, runner=_fake_grubby(root, []))
    monkeypatch.undo()
    (entry,) = journal.entries(live)
    assert entry.state == "commands-running"
    undone = undo.rollback(live, entry)
    assert undone.refused
    reasons = dict(undone.changed_since)
    (bls,) = (root / ENTRIES).glob("*.conf")
    assert "stopped while a command" in reasons[f"/{ENTRIES}/{bls.name}"]
    forced = undo.rollback(live, entry, force=True)
    assert not forced.refused
    assert snapshot(root) == before


def test_a_file_grubby_would_rewrite_that_cannot_be_journaled_refuses_first(
    tmp_path: Path,
) -> None:
    root = tmp_path / "node"
    shutil.copytree(CASE, root)
    os.mkfifo(root / ENTRIES / "stray.conf")
    before = snapshot(root)
    live, plan = _plan(root)
    ran: list[tuple[str, ...]] = []
    with pytest.raises(RefusedError, match="not a regular file"):
        engine.apply(live, plan, runner=_fake_grubby(root, ran))
    assert ran == []
    assert snapshot(root) == before
    assert journal.entries(live) == []


def test_a_second_rollback_of_the_same_apply_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "node"
    shutil.copytree(CASE, root)
    live, plan = _plan(root)
    result = engine.apply(live, plan, runner=_fake_grubby(root, []))
    entry = journal.find(live, result.journal_id)
    undo.rollback(live, entry)
    with pytest.raises(journal.JournalError, match="already rolled back"):
        undo.rollback(live, entry)  # the entry found before the first one ran


def test_a_file_grubby_has_not_applied_is_an_instruction_naming_the_command(
    tmp_path: Path,
) -> None:
    """/etc/default/grub asks for a word the boot entries lack: the advice runs grubby, and
    the plan's instruction says the same (not "the file is right, just reboot")."""
    root = materialize_case(CASES / "boot-cmdline-ignored/good-rocky9-grubby-rebooted", tmp_path)
    grub = root / "etc/default/grub"
    grub.write_text(grub.read_text().replace('rl/swap"', 'rl/swap swapaccount=1"'))
    facts = Facts(Root(str(root)))
    report = check(facts, list(all_rules()))
    (finding,) = [f for f in report.findings if f.rule == "boot-cmdline-ignored"]
    assert finding.fix is not None
    (command,) = finding.fix.commands
    assert command.startswith("grubby --update-kernel=ALL --args=")
    plan = build_plan(Facts(Root(str(root))), [finding], context=report.findings)
    (instruction,) = plan.instructions
    assert f"`{command}`" in instruction.why
    assert plan.commands == ()
