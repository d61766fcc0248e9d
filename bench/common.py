"""Measuring child processes: wall time, CPU time and peak memory of exactly that child.

Each sample starts a fresh process with ``posix_spawn``-like ``subprocess.Popen`` and reaps
it with ``os.wait4``, whose ``rusage`` is the child's own (not the sum over all children
that ``RUSAGE_CHILDREN`` gives). Peers are measured round-robin in the same loop, so a
machine that slows down mid-run slows every contender alike.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
VENV_BIN = REPO / ".venv" / "bin"
#: The node's interpreter: the system Python, as on a node without pip.
SYSTEM_PYTHON = "/usr/bin/python3"
ZIPAPP = REPO / "dist" / "nodedoctor.pyz"


def bench_env(**extra: str) -> dict[str, str]:
    """The environment for measured children: this one, but Python may write bytecode caches
    (a development shell's ``PYTHONDONTWRITEBYTECODE`` would make every run recompile every
    module, which no installed package does), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(extra)
    return env


@dataclass(frozen=True)
class Sample:
    wall: float
    cpu: float
    #: Peak resident set of the child, KiB (``ru_maxrss``).
    maxrss_kib: int
    returncode: int


@dataclass
class Contender:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str] | None = None
    #: Measure peak memory exactly (under GNU time; adds its own ~1 ms to wall and cpu).
    rss: bool = False
    samples: list[Sample] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return statistics.median(s.wall for s in self.samples)

    @property
    def cpu(self) -> float:
        return statistics.median(s.cpu for s in self.samples)

    @property
    def maxrss_mib(self) -> float:
        return statistics.median(s.maxrss_kib for s in self.samples) / 1024

    @property
    def returncodes(self) -> set[int]:
        return {s.returncode for s in self.samples}


#: GNU time: reports the peak memory of the program it runs, not of whoever started it.
GNU_TIME = "/usr/bin/time"


def run_once(
    argv: Sequence[str], env: Mapping[str, str] | None = None, rss: bool = False
) -> Sample:
    """One run. ``ru_maxrss`` from ``wait4`` starts at the parent's own peak (Linux carries
    the forking process's high-water mark across exec), so with ``rss`` the command runs under
    GNU time, a small C program, and its ``%M`` is the peak memory of the command itself."""
    report = None
    if rss and os.path.exists(GNU_TIME):
        fd, report = tempfile.mkstemp(prefix="nodedoctor-bench-rss-")
        os.close(fd)
        argv = [GNU_TIME, "-f", "%M", "-o", report, *argv]
    with open(os.devnull, "wb") as devnull:
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(argv),
            stdout=devnull,
            stderr=devnull,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else bench_env(),
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
    maxrss = usage.ru_maxrss
    if report is not None:
        with open(report, encoding="utf-8") as f:
            lines = f.read().split()
        os.unlink(report)
        maxrss = int(lines[-1]) if lines and lines[-1].isdigit() else -1
    return Sample(wall, usage.ru_utime + usage.ru_stime, maxrss, proc.returncode)


def measure(contenders: Sequence[Contender], repeat: int, warmup: int = 1) -> None:
    """Round-robin: every contender once per round, ``warmup`` rounds thrown away."""
    for round_no in range(warmup + repeat):
        for c in contenders:
            sample = run_once(c.argv, c.env, c.rss)
            if round_no >= warmup:
                c.samples.append(sample)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r: Sequence[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(r, widths)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), sep, *(line(r) for r in cells[1:])])


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def machine() -> dict[str, str]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) // 1024} MiB"
                break
    except OSError:
        pass
    python = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    venv = subprocess.run(
        [str(VENV_BIN / "python"), "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load average (1/5/15 min)": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "nproc": str(os.cpu_count()),
        "cpu": model or platform.processor(),
        "memory": mem,
        "kernel": platform.release(),
        "arch": platform.machine(),
        "system python": f"{SYSTEM_PYTHON} {python}",
        "venv python": f"{VENV_BIN / 'python'} {venv}",
    }


def repeat_main(doc: str | None, run: Callable[[int], str], default: int) -> None:
    """The command line of a benchmark whose only option is ``--repeat``: print its table."""
    import argparse

    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=default)
    print(run(parser.parse_args().repeat))
