"""The command line run within limits of the test's own: ``python -m nodedoctor`` under
``prlimit`` (address space and CPU seconds: a runaway dies instead of taking the machine) and
GNU ``time`` (whose ``%M`` is the peak memory of the command itself; ``wait4`` from this
process would start at this process's own peak, which Linux carries across exec).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

#: The issue's bounds for every input: under 5 s and under 300 MB peak memory.
MAX_SECONDS = 5.0
MAX_PEAK_MIB = 300
#: What the child may use before prlimit stops it (address space is not resident memory:
#: an interpreter maps far more than it touches).
AS_LIMIT = 2 * 1024 * 1024 * 1024
CPU_LIMIT = 60


@dataclass(frozen=True)
class Limited:
    returncode: int
    stdout: str
    stderr: str
    wall: float
    cpu: float
    peak_mib: float


def run_limited(
    argv: Sequence[str],
    *,
    stdin: bytes = b"",
    cpu_limit: int = CPU_LIMIT,
    cwd: str | None = None,
    src: Path = SRC,
) -> Limited:
    """``python -m nodedoctor ARGV`` of this checkout (or of ``src``) under prlimit and GNU
    time."""
    fd, report = tempfile.mkstemp(prefix="nodedoctor-limited-")
    os.close(fd)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NODEDOCTOR_")}
    env["PYTHONPATH"] = str(src)
    command = [
        "/usr/bin/time",
        "-f",
        "%U %S %M",
        "-o",
        report,
        "prlimit",
        f"--as={AS_LIMIT}",
        f"--cpu={cpu_limit}",
        sys.executable,
        "-m",
        "nodedoctor",
        *argv,
    ]
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            command,
            input=stdin,
            capture_output=True,
            timeout=cpu_limit * 4,
            check=False,
            env=env,
            cwd=cwd,
        )
        wall = time.perf_counter() - started
        with open(report, encoding="utf-8") as f:
            fields = f.read().split()
    finally:
        os.unlink(report)
    # GNU time writes "Command exited with non-zero status N" first when it did.
    user, system, peak = fields[-3:]
    return Limited(
        proc.returncode,
        proc.stdout.decode("utf-8", errors="replace"),
        proc.stderr.decode("utf-8", errors="replace"),
        wall,
        float(user) + float(system),
        int(peak) / 1024,
    )


def tools_missing() -> str | None:
    """Why :func:`run_limited` cannot run here, or ``None``."""
    for tool in ("/usr/bin/time", shutil.which("prlimit")):
        if tool is None or not os.access(tool, os.X_OK):
            return "needs GNU time (/usr/bin/time) and prlimit (util-linux)"
    return None
