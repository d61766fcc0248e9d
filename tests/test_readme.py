"""The README's examples are real: each ``$ nodedoctor ...`` in a ``console`` block is run, and
every line of the shown output that is not elided (``...``) must be in what it prints."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.readme_examples import assert_example_output, examples

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()


EXAMPLES = examples(README)


def test_readme_has_examples() -> None:
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize(("command", "shown"), EXAMPLES, ids=[c for c, _ in EXAMPLES])
def test_readme_example_output(command: str, shown: list[str]) -> None:
    assert_example_output(command, shown)


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
