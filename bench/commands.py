"""Benchmark 5: the allowlisted commands of a live check, and the check's own work.

A live ``nodedoctor check`` of this machine is run in this process (after a first run, so
imports are not counted), with the command runner watched: which allowlisted commands it
started, and which version commands it left out because the package database answered.
Then every allowlisted command whose binary is here is run on its own, as the check runs it
(no shell, ``LC_ALL=C``), and measured with ``os.wait4``: what it costs a check to run it.
"""

from __future__ import annotations

import contextlib
import io
import os
import resource
import statistics
import subprocess
import time
from typing import Any

from bench.common import ms, repeat_main, table


def _watch_check() -> tuple[set[str], set[str], dict[str, float]]:
    """Commands a live check started and found missing; its CPU and wall after imports."""
    from nodedoctor.cli import main
    from nodedoctor.sources import commands

    started: set[str] = set()
    missing: set[str] = set()
    original = commands.LiveCommands._begin

    def begin(self: commands.LiveCommands, name: str) -> None:
        original(self, name)
        (started if name in self._started else missing).add(name)

    def check() -> tuple[float, float, float]:
        before = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            main(["check", "--format", "json"])
        wall = time.perf_counter() - wall
        after = resource.getrusage(resource.RUSAGE_SELF)
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        own = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        kids = (
            children_after.ru_utime
            + children_after.ru_stime
            - children.ru_utime
            - children.ru_stime
        )
        return own, kids, wall

    check()  # imports, compiled regular expressions
    commands.LiveCommands._begin = begin  # type: ignore[method-assign]
    try:
        runs = [check() for _ in range(5)]
    finally:
        commands.LiveCommands._begin = original  # type: ignore[method-assign]
    work = {
        "own": statistics.median(r[0] for r in runs),
        "children": statistics.median(r[1] for r in runs),
        "wall": statistics.median(r[2] for r in runs),
    }
    return started, missing, work


def _cost(argv: list[str], repeat: int) -> tuple[float, float]:
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "LC_ALL": "C"}
    cpu: list[float] = []
    wall: list[float] = []
    for _ in range(repeat):
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        _, _, usage = os.wait4(proc.pid, 0)
        proc.returncode = 0  # reaped here
        wall.append(time.perf_counter() - started)
        cpu.append(usage.ru_utime + usage.ru_stime)
    return statistics.median(cpu), statistics.median(wall)


def run(repeat: int = 11) -> str:
    from nodedoctor.facts.packages import VERSION_COMMANDS
    from nodedoctor.sources.commands import ALLOWLIST, _which

    started, missing, work = _watch_check()
    rows: list[list[Any]] = []
    total = 0.0
    for name, argv in ALLOWLIST.items():
        exe = _which(argv[0])
        if name in started:
            status = "run"
        elif name in missing:
            status = "asked; no binary"
        elif name in VERSION_COMMANDS.values() and exe is not None:
            status = "not run: dpkg answers"
        else:
            status = "not asked"
        if exe is None:
            rows.append([name, " ".join(argv), status, "", ""])
            continue
        cpu, wall = _cost([exe, *argv[1:]], repeat)
        if name in started:
            total += cpu
        rows.append([name, " ".join(argv), status, ms(cpu), ms(wall)])
    note = (
        f"'run': started by a live check of this machine (`check --format json`); each "
        f"command measured on its own, median of {repeat} runs (cpu: user+sys from wait4). "
        f"Commands a check runs: {ms(total)} CPU measured alone. The check after its imports "
        f"(in process, median of 5): {ms(work['own'])} CPU of its own, {ms(work['children'])} "
        f"of the commands it ran, {ms(work['wall'])} wall"
    )
    headers = ["command", "argv", "in a live check", "cpu (median)", "wall (median)"]
    return f"{table(headers, rows)}\n\n{note}\n"


def main() -> None:
    repeat_main(__doc__, run, 11)


if __name__ == "__main__":
    main()
