"""Every test root's report as an 80-column terminal shows it (issue 15).

For every root (tests/roots, tests/nodes, tests/fix/cases, every case overlay) the text
report must keep to 80 columns, but for the lines allowed to be longer: a command (``$ ...``),
whole so that it pastes as printed, and a single word longer than the width (a long path).
Every command must parse whole (``shlex``) and mean what the report means: a by-hand command
is one of the finding's ``fix.commands``; ``nodedoctor fix --root R --only ID --apply``
appears exactly for the findings that ``nodedoctor fix --root R --only ID`` acts on;
``nodedoctor clean --root R`` for the findings whose mounts and cgroups the clean plan of R
removes; each carries the check's own ``--root`` and ``--profile``.

The real-terminal test runs the checks in tmux (``new-session -x 80 -y 50``, no COLUMNS: the
width comes from the pseudo-terminal, colours on) and reads back the whole history with
``capture-pane -J``, which joins the lines the terminal wrapped: a joined line longer than 80
columns is one the terminal had to wrap. The same checks run in-process, without tmux.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from nodedoctor._record import replace
from nodedoctor.cli import main
from nodedoctor.model import Report
from nodedoctor.render.text import render_text
from nodedoctor.rules import rule_by_id
from tests.helpers import check_root
from tests.render.roots import every_root

REPO = Path(__file__).resolve().parent.parent
WIDTH = 80
_HEAD = re.compile(r"^(ERROR|WARNING|INFO) +([a-z0-9-]+): ")
_VERDICT = re.compile(r"^\d+ errors? · \d+ warnings? · ")


@dataclass
class Expected:
    """What one root's report must print, worked out from its report and from what
    ``fix`` and ``clean`` plan for that root."""

    name: str
    root: Path
    profile: str | None
    report: Report
    #: rule -> the by-hand commands its findings give
    commands: dict[str, set[str]] = field(default_factory=dict)
    #: rule -> the nodedoctor commands its findings must show
    nodedoctor: dict[str, set[tuple[str, ...]]] = field(default_factory=dict)

    @property
    def options(self) -> tuple[str, ...]:
        return ("--root", str(self.root), *(("--profile", self.profile) if self.profile else ()))

    def argv(self) -> list[str]:
        return ["check", *self.options]


def _json(*argv: str) -> dict[str, object]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(list(argv))
    data = json.loads(out.getvalue())
    assert isinstance(data, dict)
    return data


def _fix_acts(e: Expected, rule: str) -> bool:
    """``nodedoctor fix --only rule`` plans an edit or a command for it."""
    plan = _json("fix", *e.options, "--only", rule, "--format", "json")["plan"]
    assert isinstance(plan, dict)
    return any(rule in s["rules"] for s in plan["steps"]) or any(
        c["rule"] == rule for c in plan["commands"]
    )


def _clean_paths(e: Expected) -> set[str]:
    plan = _json("clean", *e.options, "--format", "json")["plan"]
    assert isinstance(plan, dict)
    return {s["path"] for s in plan["steps"]}


def expected(name: str, root: Path, profile: str | None) -> Expected:
    e = Expected(name, root, profile, check_root(root, profile=profile))
    cleaned: set[str] | None = None
    for f in e.report.findings:
        e.commands.setdefault(f.rule, set()).update(f.fix.commands if f.fix else ())
        wanted = e.nodedoctor.setdefault(f.rule, set())
        rule = rule_by_id(f.rule)
        assert rule is not None
        if f.fix is not None and _fix_acts(e, f.rule):
            wanted.add(("nodedoctor", "fix", *e.options, "--only", f.rule, "--apply"))
        if rule.clean_removes:
            cleaned = _clean_paths(e) if cleaned is None else cleaned
            # What the finding says to remove by hand, the clean plan removes.
            paths = {
                c.split(" ", 1)[1]
                for c in (f.fix.commands if f.fix else ())
                if c.startswith(("umount ", "rmdir "))
            }
            assert paths <= cleaned, (name, f.rule, paths - cleaned)
            wanted.add(("nodedoctor", "clean", *e.options))
    return e


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> list[Expected]:
    built = tmp_path_factory.mktemp("roots")
    return [expected(*r) for r in every_root(built)]


def check_output(e: Expected, lines: list[str]) -> None:
    """The assertions of the module's docstring on one root's printed lines."""
    where = f"{e.name}:\n" + "\n".join(lines)
    findings = sorted(e.report.findings, key=lambda f: -f.severity.rank)
    # The summary leads: the header, a blank line, one line per finding, the verdict.
    blank = lines.index("")
    heads = [i for i, line in enumerate(lines) if _HEAD.match(line)]
    verdict = next(i for i, line in enumerate(lines) if _VERDICT.match(line))
    summary = [h for h in heads if h < verdict]
    assert [_HEAD.match(lines[h])[2] for h in summary] == [f.rule for f in findings], where  # type: ignore[index]
    assert not summary or summary[0] == blank + 1, where
    details = [h for h in heads if h > verdict]
    assert len(details) == len(findings), where
    shown: dict[str, set[tuple[str, ...]]] = {}
    rule = None
    for i, line in enumerate(lines):
        if i in details:
            rule = _HEAD.match(line)[2]  # type: ignore[index]
        text = line.strip()
        command = text[2:] if text.startswith("$ ") else None
        if text.startswith("more: nodedoctor "):
            command = text[len("more: ") :]
        if command is None:
            assert len(line) <= WIDTH or " " not in text, f"{e.name}: line {i + 1} too long: {line}"
            continue
        argv = tuple(shlex.split(command))
        assert shlex.join(argv) == command or argv[0] != "nodedoctor", (e.name, command)
        assert rule is not None, (e.name, line)
        if argv[0] == "nodedoctor":
            if argv[1] == "explain":
                assert argv == ("nodedoctor", "explain", rule), (e.name, command)
            else:
                assert argv in e.nodedoctor[rule], (e.name, rule, command, e.nodedoctor[rule])
                shown.setdefault(rule, set()).add(argv)
        else:
            assert command in e.commands[rule], (e.name, rule, command)
    for rule_id, wanted in e.nodedoctor.items():
        assert shown.get(rule_id, set()) == wanted, (e.name, rule_id, wanted)
    for rule_id, commands in e.commands.items():
        printed = {line.strip()[2:] for line in lines if line.strip().startswith("$ ")}
        assert commands <= printed, (e.name, rule_id, commands - printed)


def test_every_report_keeps_to_80_columns_in_process(roots: list[Expected]) -> None:
    for e in roots:
        report = replace(check_root(e.root, profile=e.profile), node_options=e.options)
        check_output(e, render_text(report, width=WIDTH).splitlines())


# -- in a real terminal ---------------------------------------------------------------------

#: Runs in the tmux pane: each root's check through the CLI's main, after a marker line.
_DRIVER = """
import json, sys
from nodedoctor.cli import main
for index, argv in enumerate(json.load(open(sys.argv[1]))):
    print(f"@@@ {index}", flush=True)
    main(argv)
    sys.stdout.flush()
print("@@@ end", flush=True)
"""


def _tmux(socket: Path, *args: str) -> str:
    return subprocess.run(
        ["tmux", "-u", "-S", str(socket), *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


@pytest.mark.system
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux: scripts/install-system-deps")
def test_every_report_in_an_80_column_terminal(roots: list[Expected], tmp_path: Path) -> None:
    socket = tmp_path / "tmux.sock"
    argv_file = tmp_path / "argv.json"
    argv_file.write_text(json.dumps([e.argv() for e in roots]))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO)])
    env["LANG"] = "C.UTF-8"
    command = shlex.join([sys.executable, "-c", _DRIVER, str(argv_file)])
    subprocess.run(
        ["tmux", "-u", "-S", str(socket), "-f", "/dev/null", "new-session", "-d", "-s", "keep"],
        env=env,
        check=True,
        timeout=60,
    )
    try:
        _tmux(socket, "set-option", "-g", "history-limit", "200000")
        _tmux(socket, "set-option", "-g", "remain-on-exit", "on")
        _tmux(socket, "new-session", "-d", "-x", str(WIDTH), "-y", "50", "-s", "check", command)
        deadline = time.monotonic() + 600
        while True:
            state = _tmux(socket, "list-panes", "-t", "check", "-F", "#{pane_dead}").strip()
            if state == "1" or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert state == "1", "the checks did not finish in the terminal"
        assert _tmux(socket, "display-message", "-p", "-t", "check", "#{pane_width}") == "80\n"
        # -J: the lines the terminal wrapped come back joined; -S -: from the history's start.
        shown = _tmux(socket, "capture-pane", "-p", "-J", "-S", "-", "-E", "-", "-t", "check")
        screen = _tmux(socket, "capture-pane", "-p", "-S", "-", "-E", "-", "-t", "check")
    finally:
        subprocess.run(["tmux", "-S", str(socket), "kill-server"], check=False, timeout=60)
    assert all(len(line) <= WIDTH for line in screen.splitlines())
    outputs: dict[int, list[str]] = {}
    current: list[str] | None = None
    for raw in shown.splitlines():
        line = raw.rstrip()
        if line.startswith("@@@ "):
            if line == "@@@ end":
                current = None
                continue
            current = outputs.setdefault(int(line[4:]), [])
        elif current is not None:
            current.append(line)
    assert sorted(outputs) == list(range(len(roots)))
    for index, e in enumerate(roots):
        lines = outputs[index]
        while lines and not lines[-1]:
            lines.pop()
        check_output(e, lines)
