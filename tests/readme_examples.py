"""The examples of a README (README.md, README.zh-CN.md): each ``$ nodedoctor ...`` of a
``console`` block, run, must print every shown line that is not elided (``...``)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def examples(text: str) -> list[tuple[str, list[str]]]:
    """(command, the lines shown after it) of every ``console`` block of ``text``."""
    found: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        command: str | None = None
        shown: list[str] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                if command:
                    found.append((command, shown))
                command, shown = line[2:], []
            elif line.strip():
                shown.append(line)
        if command:
            found.append((command, shown))
    return found


def assert_example_output(command: str, shown: list[str]) -> None:
    """Run ``command`` (a ``nodedoctor`` one) at 80 columns without colour, from the repo,
    and assert it prints every shown line (spaces compared loosely)."""
    argv = shlex.split(command)
    assert argv[0] == "nodedoctor"
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "80"}
    out = subprocess.run(
        [sys.executable, "-m", "nodedoctor", *argv[1:]],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode in (0, 1), out.stderr
    printed = {" ".join(line.split()) for line in out.stdout.splitlines()}
    missing = [
        line for line in shown if "..." not in line and " ".join(line.split()) not in printed
    ]
    assert not missing, out.stdout
