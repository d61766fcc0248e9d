"""The CLI's start-up shortcuts change nothing that users see: argparse's formatter is given
the terminal width without ``shutil``, ``--version`` is worked out only when asked for."""

from __future__ import annotations

import argparse
import shutil

import pytest

from nodedoctor.buildinfo import build_info
from nodedoctor.cli import (
    COMMANDS,
    RawDescriptionFormatter,
    _terminal_width,
    build_parser,
    main,
)


@pytest.mark.parametrize("columns", [None, "100", "57", "0", "-3", "wide", ""])
def test_terminal_width_is_shutils(monkeypatch: pytest.MonkeyPatch, columns: str | None) -> None:
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert _terminal_width() == shutil.get_terminal_size().columns


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no subcommands")


@pytest.mark.parametrize("columns", ["100", "60", None])
def test_help_is_what_argparses_own_formatter_writes(
    monkeypatch: pytest.MonkeyPatch, columns: str | None
) -> None:
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    parser = build_parser()
    ours = parser.format_help()
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    assert ours == parser.format_help()
    commands = _subparsers(parser)
    assert set(commands) == {c for names in COMMANDS.values() for c in names}
    for name, sub in commands.items():
        ours = sub.format_help()
        # check, fix and clean keep their description and examples as written
        raw = sub.formatter_class is RawDescriptionFormatter
        sub.formatter_class = (
            argparse.RawDescriptionHelpFormatter if raw else argparse.HelpFormatter
        )
        assert ours == sub.format_help(), name


def test_a_command_alone_builds_the_same_parser_for_it() -> None:
    for names in COMMANDS.values():
        for name in names:
            alone = _subparsers(build_parser(name))
            assert set(alone) == set(names)
            assert alone[name].format_help() == _subparsers(build_parser())[name].format_help()


def test_version_prints_the_build_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == build_info().line() + "\n"
