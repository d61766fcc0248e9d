"""Every parser, fed random and mutated real inputs: it returns or raises ParseError, nothing
else. Parsers are discovered, so a parser added later is covered without touching this file:
every public ``parse_*`` function of a ``nodedoctor.parsers`` module whose first parameter is
a ``str`` and whose other parameters have defaults."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable

import pytest
from hypothesis import given, settings

import nodedoctor.parsers
from nodedoctor.parsers import ParseError
from tests.robustness.conftest import CASES
from tests.robustness.strategies import inputs


def discover() -> dict[str, Callable[[str], object]]:
    found: dict[str, Callable[[str], object]] = {}
    for info in pkgutil.iter_modules(nodedoctor.parsers.__path__):
        module = importlib.import_module(f"nodedoctor.parsers.{info.name}")
        for name, func in inspect.getmembers(module, inspect.isfunction):
            if not name.startswith("parse_") or func.__module__ != module.__name__:
                continue
            params = list(inspect.signature(func).parameters.values())
            if not params or params[0].annotation not in ("str", str):
                continue
            if any(p.default is inspect.Parameter.empty for p in params[1:]):
                continue
            found[f"{info.name}.{name}"] = func
    return found


PARSERS = discover()


def test_parsers_are_discovered() -> None:
    assert {"mountinfo.parse_mountinfo", "proc_cgroups.parse_proc_cgroups"} <= set(PARSERS)
    assert len(PARSERS) >= 10


@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(settings.get_profile("robustness"))
@given(text=inputs)
def test_parser_raises_only_parse_error(name: str, text: str) -> None:
    CASES["parsers"] += 1
    error: ParseError | None = None
    try:
        PARSERS[name](text)
    except ParseError as exc:
        error = exc
    if error is not None:
        assert error.line is None or error.line >= 1
        assert str(error)
