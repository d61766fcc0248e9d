"""The allowlisted commands of a live check: started side by side, each with its own timeout,
killed and reaped when nobody collects them; ``--version`` asked only when the package
database cannot answer; the commands a live check starts early are ones it always runs."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from nodedoctor import engine
from nodedoctor.clean import engine as clean_engine
from nodedoctor.cli import main
from nodedoctor.cli.check import LIVE_CHECK_COMMANDS
from nodedoctor.facts import Facts
from nodedoctor.facts import summary as summary_mod
from nodedoctor.facts.packages import VERSION_COMMANDS, packages
from nodedoctor.fix import engine as fix_engine
from nodedoctor.rules import all_rules
from nodedoctor.sources import commands as commands_mod
from nodedoctor.sources.commands import (
    ALLOWLIST,
    CommandResult,
    CommandRunner,
    LiveCommands,
    RecordedCommands,
)
from nodedoctor.sources.root import Root
from tests.helpers import ROOTS

pytestmark = pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")


def _allow(monkeypatch: pytest.MonkeyPatch, name: str, *argv: str) -> None:
    """A test command on the allowlist for the duration of a test."""
    monkeypatch.setitem(ALLOWLIST, name, argv)


def test_started_commands_run_side_by_side(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader waits on a FIFO that only the writer opens: run one after the other, the
    reader would block until its timeout."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    _allow(monkeypatch, "test-reader", "sh", "-c", f"read line < {fifo}; echo got $line")
    _allow(monkeypatch, "test-writer", "sh", "-c", f"echo go > {fifo}")
    runner = LiveCommands(timeout=60)
    runner.start("test-reader", "test-writer")
    try:
        reader = runner.run("test-reader")
        writer = runner.run("test-writer")
    finally:
        runner.close()
    assert reader.ok, reader
    assert reader.stdout == "got go\n"
    assert writer.ok, writer


def test_a_hung_command_times_out_and_the_others_still_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _allow(monkeypatch, "test-hang", "sleep", "600")
    _allow(monkeypatch, "test-echo", "sh", "-c", "echo out; echo err >&2; exit 3")
    runner = LiveCommands(timeout=1)
    runner.start("test-hang", "test-echo")
    hung = runner.run("test-hang")
    echoed = runner.run("test-echo")
    runner.close()
    assert hung.timed_out
    assert hung.returncode is None
    assert not hung.ok
    assert (echoed.returncode, echoed.stdout, echoed.stderr) == (3, "out\n", "err\n")
    assert not echoed.ok
    # Each command runs once per runner: asking again gives the same result.
    assert runner.run("test-echo") is echoed


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _forking(pids: Path) -> tuple[str, ...]:
    """A command that starts a grandchild holding its stdout and stderr, writes its process
    group's id (field 5 of its stat) and the grandchild's pid, then sleeps past any test's
    timeout."""
    write = f"echo $(cut -d' ' -f5 /proc/$$/stat) $! > {pids}.new; mv {pids}.new {pids}"
    return ("sh", "-c", f"sleep 600 & {write}; sleep 600")


def _group_of(pids: Path) -> tuple[int, int]:
    group, grandchild = pids.read_text().split()
    return int(group), int(grandchild)


def _killed(group: int, grandchild: int) -> None:
    """The command ran in a process group of its own, of which nothing runs any more, the
    grandchild included; what a failing runner left is killed so that no ``sleep 600`` stays."""
    own = group == os.getpgrp()
    try:
        assert not own, "the command ran in the test's own process group"
        assert commands_mod.running_in_group(group) == []
        assert not _alive(grandchild)
    finally:
        with contextlib.suppress(ProcessLookupError):
            if own:
                os.kill(grandchild, signal.SIGKILL)
            else:
                os.killpg(group, signal.SIGKILL)


def test_a_timeout_kills_what_the_command_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A grandchild that keeps the command's pipes open must not hold the check until it
    ends: the command's whole process group is killed, and its pipes are not read to EOF.
    Killed means ended when the call returns: SIGKILL only marks the grandchild, which ends
    when it is next scheduled (it was seen running a millisecond after a kill 1 run in 7)."""
    pids = tmp_path / "pids"
    _allow(monkeypatch, "test-fork", *_forking(pids))
    runner = LiveCommands(timeout=1)
    done: list[CommandResult] = []
    worker = threading.Thread(target=lambda: done.append(runner.run("test-fork")), daemon=True)
    worker.start()
    worker.join(120)  # a liveness bound, not a speed claim: the grandchild sleeps 600 s
    assert done, "the check waited for the command's grandchild"
    assert done[0].timed_out
    _killed(*_group_of(pids))


#: fix's and clean's command runners, with a timeout (each uses its own in production).
PLAN_RUNNERS: dict[str, Callable[[tuple[str, ...], float], object]] = {
    "fix": fix_engine.run_command,
    "clean": clean_engine._run,
}


@pytest.mark.parametrize("engine_name", list(PLAN_RUNNERS))
def test_fix_and_clean_kill_what_a_timed_out_command_started(
    tmp_path: Path, engine_name: str
) -> None:
    """The commands fix and clean run from their plans go through the check's runner: at
    the timeout the whole process group is killed, grandchild included, and the call returns
    within the timeout and the kill's grace."""
    pids = tmp_path / "pids"
    run = PLAN_RUNNERS[engine_name]
    argv = _forking(pids)
    timeout = 1.0
    done: list[object] = []
    started = time.monotonic()
    worker = threading.Thread(target=lambda: done.append(run(argv, timeout)), daemon=True)
    worker.start()
    worker.join(timeout + commands_mod.KILL_GRACE + 10)  # slack for a loaded machine
    took = time.monotonic() - started
    assert done, f"{engine_name} waited for the command's grandchild"
    _killed(*_group_of(pids))
    assert took < timeout + commands_mod.KILL_GRACE + 10
    if engine_name == "fix":
        assert done[0] == fix_engine.CommandRun(argv, None, "timed out after 1s")
    else:
        assert done[0] == (None, "timed out")


@pytest.mark.parametrize("engine_name", list(PLAN_RUNNERS))
def test_fix_and_clean_report_what_their_commands_said(
    tmp_path: Path, engine_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Output, exit code and a missing program, as each engine reports them."""
    run = PLAN_RUNNERS[engine_name]
    speaks = ("sh", "-c", "echo out; echo err >&2; exit 3")
    said = run(speaks, 60)
    missing = run(("nodedoctor-no-such-program", "--now"), 60)
    # A program in the working directory is never run (a relative PATH entry is skipped).
    local = tmp_path / "nodedoctor-local-tool"
    local.write_text("#!/bin/sh\necho ran\n", encoding="utf-8")
    local.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", f".:{os.environ.get('PATH', '')}")
    relative = run(("nodedoctor-local-tool",), 60)
    gone = "[Errno 2] No such file or directory: 'nodedoctor-no-such-program'"
    if engine_name == "fix":
        assert said == fix_engine.CommandRun(speaks, 3, "out\nerr\n")
        assert missing == fix_engine.CommandRun(("nodedoctor-no-such-program", "--now"), None, gone)
        assert relative == fix_engine.CommandRun(
            ("nodedoctor-local-tool",),
            None,
            "[Errno 2] No such file or directory: 'nodedoctor-local-tool'",
        )
    else:
        assert said == (3, "err")
        assert missing == (None, gone)
        assert relative == (None, "[Errno 2] No such file or directory: 'nodedoctor-local-tool'")


def test_an_error_while_collecting_kills_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    _allow(monkeypatch, "test-hang", "sleep", "600")
    runner = LiveCommands(timeout=600)
    runner.start("test-hang")
    command = runner._started["test-hang"]
    assert command.proc is not None

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(command.proc, "communicate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        runner.run("test-hang")
    assert command.proc.returncode is not None  # killed and reaped, not left running


def test_close_kills_and_reaps_what_nobody_collected(monkeypatch: pytest.MonkeyPatch) -> None:
    _allow(monkeypatch, "test-hang", "sleep", "600")
    runner = LiveCommands(timeout=600)
    runner.start("test-hang")
    command = runner._started["test-hang"]
    runner.close()
    assert command.proc is not None
    assert command.proc.returncode is not None  # killed and reaped
    assert command.proc.stdout is not None
    assert command.proc.stdout.closed
    assert runner._started == {}


def test_output_waiting_in_a_full_pipe_past_the_deadline_is_not_a_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A started command whose output fills the pipe waits for the check to collect it; if
    the check comes after its deadline, the command still finishes once its pipe is read."""
    _allow(monkeypatch, "test-chatty", "head", "-c", "300000", "/dev/zero")
    runner = LiveCommands(timeout=1)
    runner.start("test-chatty")
    command = runner._started["test-chatty"]
    while time.monotonic() < command.deadline + 0.1:
        time.sleep(0.05)
    result = runner.run("test-chatty")
    assert result.ok, result
    assert len(result.stdout) == 300000


def test_a_command_run_without_start_is_collected_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _allow(monkeypatch, "test-echo", "sh", "-c", "echo hi")
    runner = LiveCommands()
    result = runner.run("test-echo")
    assert (result.ok, result.stdout, result.display) == (True, "hi\n", "sh -c echo hi")
    assert runner._started == {}


def test_missing_binary_and_allowlist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _allow(monkeypatch, "test-missing", "nodedoctor-no-such-binary", "--version")
    runner = LiveCommands()
    runner.start("test-missing")
    assert runner.run("test-missing").missing
    with pytest.raises(KeyError):
        runner.start("rm-rf")
    with pytest.raises(KeyError):
        runner.run("rm-rf")
    # A binary in the working directory (a relative PATH entry) is never run.
    local = tmp_path / "nodedoctor-local-tool"
    local.write_text("#!/bin/sh\necho ran\n", encoding="utf-8")
    local.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", f".:{os.environ.get('PATH', '')}")
    assert commands_mod._which("nodedoctor-local-tool") is None
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ.get('PATH', '')}")
    assert commands_mod._which("nodedoctor-local-tool") == str(local)


# --------------------------------------------------------------------------------------
# Which commands a check asks for


class _Asked(CommandRunner):
    """Replays nothing, remembers what was started and asked for."""

    def __init__(self, outputs: dict[str, str] | None = None) -> None:
        self.outputs = outputs or {}
        self.started: list[str] = []
        self.asked: list[str] = []

    def start(self, *names: str) -> None:
        self.started.extend(names)

    def run(self, name: str) -> CommandResult | None:
        self.asked.append(name)
        if name in self.outputs:
            return CommandResult(name, ALLOWLIST[name], 0, self.outputs[name])
        return CommandResult(name, ALLOWLIST[name], None, "", missing=True)


def _dpkg(*packages: tuple[str, str]) -> str:
    return "".join(
        f"Package: {name}\nStatus: install ok installed\nVersion: {version}\n\n"
        for name, version in packages
    )


def _node(tmp_path: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        target = tmp_path / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return tmp_path


CONTAINERD_OUT = "containerd containerd.io 1.7.27 05044ec0a9a75232cad458027ca83437aae3f4da\n"


def test_the_package_database_answers_without_running_the_binary(tmp_path: Path) -> None:
    status = _dpkg(("containerd.io", "1.7.27-1"), ("kubelet", "1.31.2-1.1"))
    node = _node(tmp_path, {"/var/lib/dpkg/status": status})
    runner = _Asked({"containerd-version": CONTAINERD_OUT, "runc-version": "runc version 1.2.5\n"})
    found = Facts(Root(str(node), commands=runner, running=True)).get(packages)
    # dpkg answers for containerd and the kubelet: nothing is run for them.
    assert not {"containerd-version", "kubelet-version"} & set(runner.asked)
    assert set(runner.started) == set(runner.asked)
    # containerd.io carries runc, but under containerd's version: runc itself is asked.
    assert set(runner.asked) == {"runc-version", "crio-version", "k3s-version"}
    runc = found.get("runc")
    assert runc is not None
    assert (str(runc.version), runc.origin) == ("1.2.5", "command")
    containerd = found.get("containerd")
    assert containerd is not None
    assert containerd.origin == "deb:containerd.io"
    assert containerd.evidence.source == "/var/lib/dpkg/status"
    assert str(containerd.version) == "1.7.27-1"


def test_a_binary_outside_the_package_is_asked_and_wins(tmp_path: Path) -> None:
    status = _dpkg(("containerd", "1.6.20~ds1-1+deb12u3"))
    node = _node(
        tmp_path,
        {"/var/lib/dpkg/status": status, "/usr/local/bin/containerd": "(release binary)"},
    )
    runner = _Asked({"containerd-version": CONTAINERD_OUT})
    found = Facts(Root(str(node), commands=runner, running=True)).get(packages)
    assert "containerd-version" in runner.started
    assert "containerd-version" in runner.asked
    containerd = found.get("containerd")
    assert containerd is not None
    assert containerd.origin == "command"
    assert containerd.version is not None
    assert containerd.version.release == (1, 7, 27)
    assert containerd.evidence.source == "containerd --version"


@pytest.mark.parametrize("replaced", [True, False])
def test_a_packaged_binary_replaced_after_install_is_asked(tmp_path: Path, replaced: bool) -> None:
    """A release binary copied over the package's /usr/bin/containerd: dpkg still says the
    old version, so a live check asks the binary (its inode changed after the package's file
    list was written)."""
    status = _dpkg(("containerd", "1.6.20~ds1-1+deb12u3"))
    node = _node(
        tmp_path,
        {
            "/var/lib/dpkg/status": status,
            "/var/lib/dpkg/info/containerd.list": "/usr/bin/containerd\n",
            "/usr/bin/containerd": "(a binary)",
        },
    )
    installed = time.time() + (-3600 if replaced else 3600)
    os.utime(node / "var/lib/dpkg/info/containerd.list", (installed, installed))
    runner = _Asked({"containerd-version": CONTAINERD_OUT})
    found = Facts(Root(str(node), live=True, commands=runner)).get(packages)
    containerd = found.get("containerd")
    assert containerd is not None
    assert ("containerd-version" in runner.asked) is replaced
    assert containerd.origin == ("command" if replaced else "deb:containerd")
    # Offline (a disk image, a bundle), nothing is asked from timestamps.
    runner = _Asked({"containerd-version": CONTAINERD_OUT})
    Facts(Root(str(node), commands=runner, running=True)).get(packages)
    assert "containerd-version" not in runner.asked


def test_without_a_package_every_version_command_is_asked(tmp_path: Path) -> None:
    runner = _Asked({"containerd-version": CONTAINERD_OUT})
    found = Facts(Root(str(tmp_path), commands=runner, running=True)).get(packages)
    assert sorted(runner.asked) == sorted(VERSION_COMMANDS.values())
    assert sorted(runner.started) == sorted(runner.asked)
    containerd = found.get("containerd")
    assert containerd is not None
    assert containerd.origin == "command"


def test_an_offline_root_asks_for_nothing(tmp_path: Path) -> None:
    runner = _Asked()
    Facts(Root(str(tmp_path), commands=runner, running=False)).get(packages)
    assert runner.asked == []
    assert runner.started == []


SCENARIOS = sorted(ROOTS.glob("*/root"))


@pytest.mark.parametrize("root", SCENARIOS, ids=[p.parent.name for p in SCENARIOS])
def test_a_full_check_runs_every_command_it_starts_early(root: Path) -> None:
    """What ``check`` starts before the rules on a live node, a check of every rule asks for
    on every kind of node (here: the scenario roots, as bundles recorded on running nodes)."""
    runner = _Asked()
    engine.run(Facts(Root(str(root), commands=runner, running=True)), list(all_rules()))
    assert set(LIVE_CHECK_COMMANDS) <= set(runner.asked)


def test_systemd_is_asked_only_when_no_kubelet_process_runs(tmp_path: Path) -> None:
    from nodedoctor.facts.teardown import kubelet_state

    node = _node(tmp_path, {"/proc/4242/comm": "kubelet\n", "/proc/4242/cmdline": "kubelet\0"})
    runner = _Asked()
    state = Facts(Root(str(node), commands=runner, running=True)).get(kubelet_state)
    assert state.running is True
    assert not [name for name in runner.asked if name.startswith("systemctl")]
    (node / "proc/4242/comm").unlink()
    runner = _Asked()
    state = Facts(Root(str(node), commands=runner, running=True)).get(kubelet_state)
    assert {"systemctl-kubelet", "systemctl-kubelite"} <= set(runner.asked)


def test_recorded_commands_start_nothing() -> None:
    recorded = RecordedCommands({})
    recorded.start("containerd-version")
    recorded.close()
    assert recorded.run("containerd-version") is None


# --------------------------------------------------------------------------------------
# NPD runs


def test_npd_format_skips_the_node_summary(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(ROOTS / "kubeadm-healthy-v2" / "root")
    calls: list[str] = []
    original = summary_mod.node_summary

    def counted(facts: Facts) -> dict[str, object]:
        calls.append(facts.root.label)
        return original(facts)

    monkeypatch.setattr(summary_mod, "node_summary", counted)
    code = main(["check", "--root", root, "--format", "npd", "--only", "CgroupDriverMismatch"])
    assert code == 0
    assert capsys.readouterr().out.startswith("ok: ")
    assert calls == []
    main(["check", "--root", root, "--format", "json", "--only", "CgroupDriverMismatch"])
    assert calls == [root]
