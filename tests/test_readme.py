"""The README's examples are real: each ``$ nodedoctor ...`` in a ``console`` block is run, and
every line of the shown output that is not elided (``...``) must be in what it prints."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()


def _examples() -> list[tuple[str, list[str]]]:
    examples: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", README, re.S):
        command: str | None = None
        shown: list[str] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                if command:
                    examples.append((command, shown))
                command, shown = line[2:], []
            elif line.strip():
                shown.append(line)
        if command:
            examples.append((command, shown))
    return examples


EXAMPLES = _examples()


def test_readme_has_examples() -> None:
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize(("command", "shown"), EXAMPLES, ids=[c for c, _ in EXAMPLES])
def test_readme_example_output(command: str, shown: list[str]) -> None:
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


def test_licence_is_the_apache_licence_the_package_claims() -> None:
    repo = Path(__file__).resolve().parent.parent
    text = (repo / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text
    assert "Version 2.0, January 2004" in text
    assert 'license = { text = "Apache-2.0" }' in (repo / "pyproject.toml").read_text()


def test_readme_starts_with_the_two_commands_for_a_fresh_machine() -> None:
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    first = text.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in first.splitlines()]
    assert commands == ["make run", "make test"]
    # An operator reads how to run it on a node before how it is developed.
    assert text.index("## On a node") < text.index("## Development")
