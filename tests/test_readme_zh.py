"""README.zh-CN.md (issue 16) is the operators' README in Chinese: it starts with the same
two commands as README.md, README.md links it after them, its Chinese examples are real
(each ``$ nodedoctor ...`` of a ``console`` block is run in zh_CN, and every shown line that
is not elided, ``...``, is printed), and every command it names parses."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.readme_examples import assert_example_output, examples

REPO = Path(__file__).resolve().parent.parent
README_ZH = (REPO / "README.zh-CN.md").read_text(encoding="utf-8")


def _first_commands(text: str) -> list[str]:
    first = text.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.split("#")[0].strip() for line in first.splitlines()]


EXAMPLES = examples(README_ZH)


def test_it_starts_with_the_same_two_commands_and_is_linked() -> None:
    english = (REPO / "README.md").read_text(encoding="utf-8")
    assert _first_commands(README_ZH) == _first_commands(english) == ["make run", "make test"]
    assert "(README.md)" in README_ZH
    link = english.index("(README.zh-CN.md)")
    assert english.index("make test") < link < english.index("## On a node")
    assert "LANG=zh_CN.UTF-8" in README_ZH
    assert "--lang zh_CN" in README_ZH


def test_it_has_examples() -> None:
    assert len(EXAMPLES) >= 2
    assert all("--lang zh_CN" in command for command, _shown in EXAMPLES)


@pytest.mark.parametrize(("command", "shown"), EXAMPLES, ids=[c for c, _s in EXAMPLES])
def test_example_output(command: str, shown: list[str]) -> None:
    assert_example_output(command, shown)


def test_every_nodedoctor_command_it_names_parses() -> None:
    """Each ``nodedoctor ...`` line of its ``sh`` blocks is a command the parser accepts (an
    option that does not exist would make argparse exit 2)."""
    from nodedoctor.cli import build_parser

    commands = []
    for block in re.findall(r"```sh\n(.*?)```", README_ZH, re.S):
        for line in block.splitlines():
            words = shlex.split(line.split(" #", 1)[0].split("|")[-1])
            while words and words[0] != "nodedoctor":
                words = words[1:]
            if words:
                commands.append(words)
    assert len(commands) >= 15
    for words in commands:
        argv = words[1 : words.index(">")] if ">" in words else words[1:]
        parser = build_parser(argv[0] if argv else None)
        parser.parse_args(argv)
