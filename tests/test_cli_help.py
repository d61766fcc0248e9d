"""The help of check, fix and clean, and the names a user types: every example parses with
the command's own parser; rule ids and families match in any case; a mistyped command or rule
gets the closest name and exit 2."""

from __future__ import annotations

import re
import shlex

import pytest

from nodedoctor.cli import build_parser, main
from nodedoctor.cli.helptext import HELP

EXAMPLE = re.compile(r"^  (nodedoctor \S.*?)(?:\s{2,}\S.*)?$")


def _examples(command: str) -> list[list[str]]:
    _description, epilog = HELP[command]
    lines = [m.group(1) for line in epilog.splitlines() if (m := EXAMPLE.match(line))]
    return [shlex.split(line)[1:] for line in lines]


@pytest.mark.parametrize("command", sorted(HELP))
def test_every_example_parses_with_the_commands_parser(command: str) -> None:
    examples = _examples(command)
    assert len(examples) >= 4
    for argv in examples:
        args = build_parser(argv[0]).parse_args(argv)  # exits (fails the test) when invalid
        assert args.command == argv[0]


@pytest.mark.parametrize("command", sorted(HELP))
def test_help_shows_description_and_examples_within_80_columns(
    command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    description, epilog = HELP[command]
    assert description.splitlines()[0] in out
    assert "examples:" in out
    # argparse's usage line lists choices whole; the texts written here stay within 80.
    for text in (description, epilog):
        assert all(len(line) <= 80 for line in text.splitlines()), text


def test_mistyped_command_names_the_closest(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chek"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'chek' (did you mean 'check'?)" in err


def test_unrelated_command_gets_no_guess(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'frobnicate';" in err
    assert "did you mean" not in err


def test_mistyped_rule_id_names_the_closest(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "cgroup-driver-missmatch"]) == 2
    assert "did you mean 'cgroup-driver-mismatch'?" in capsys.readouterr().err


def test_rule_ids_and_families_in_any_case(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "Swap-Enabled"]) == 0
    assert capsys.readouterr().out.startswith("swap-enabled ")
    for name in ("cgroupdrivermismatch", "CGROUP-DRIVER-MISMATCH"):
        assert main(["check", "--root", "tests/roots/kubeadm-healthy-v2/root", "--only", name]) in (
            0,
            1,
        )
        assert "unknown rule" not in capsys.readouterr().err


def test_unknown_family_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--root", "tests/roots/kubeadm-healthy-v2/root", "--only", "Nope"]) == 2
    assert "unknown rule family 'Nope'" in capsys.readouterr().err
