"""The hostile corpus (tests/robustness/corpus.py) as a hostile user would run it.

In-process (quick): every hostile root gives a report with a parse-error finding that names
the file and the bound it broke, or reads the file as absent, and never an internal-error.

Through the command line (``slow``: left out of ``make quick``): every command a user or a
DaemonSet runs on a root (``check`` in JSON and for node-problem-detector, ``fix``,
``clean``, ``collect``, and ``check --bundle`` of what ``collect`` wrote), and every hostile
file given on the command line, under a memory and CPU limit of the test's own, finishes with
the stated exit code, a one-line message when it refuses, no traceback, within the issue's
bounds: under 5 s of CPU and under 300 MB peak memory.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import check_root
from tests.robustness.corpus import INPUT_CORPUS, ROOT_CORPUS, HostileInput, HostileRoot
from tests.robustness.limited import (
    MAX_PEAK_MIB,
    MAX_SECONDS,
    Limited,
    run_limited,
    tools_missing,
)


def _param(item: HostileRoot | HostileInput) -> object:
    return pytest.param(item, id=item.name, marks=[pytest.mark.slow] if item.slow else [])


@pytest.mark.parametrize("hostile", [_param(h) for h in ROOT_CORPUS])
def test_a_hostile_root_is_a_parse_error_never_a_crash(
    hostile: HostileRoot, tmp_path: Path
) -> None:
    report = check_root(hostile.build(tmp_path / "root"))
    assert not [f.message for f in report.findings if f.rule == "internal-error"]
    errors = [f for f in report.findings if f.rule == "parse-error"]
    if hostile.message is None:
        assert not errors, [f.message for f in errors]
        return
    (finding,) = errors
    assert finding.evidence[0].source == hostile.path
    assert hostile.message in finding.message


def _within_bounds(run: Limited, what: str) -> None:
    assert "Traceback" not in run.stderr, f"{what}: {run.stderr[-2000:]}"
    assert run.cpu < MAX_SECONDS, f"{what}: {run.cpu:.2f} s of CPU"
    assert run.peak_mib < MAX_PEAK_MIB, f"{what}: {run.peak_mib:.0f} MiB peak"


@pytest.fixture
def limited_tools() -> None:
    reason = tools_missing()
    if reason:
        pytest.skip(reason)


@pytest.mark.slow
@pytest.mark.usefixtures("limited_tools")
@pytest.mark.parametrize(
    "hostile",
    [pytest.param(h, id=h.name) for h in ROOT_CORPUS],
)
def test_every_command_on_a_hostile_root_is_bounded(hostile: HostileRoot, tmp_path: Path) -> None:
    root = str(hostile.build(tmp_path / "root"))
    check = run_limited(["check", "--root", root, "--format", "json"])
    _within_bounds(check, "check")
    assert check.returncode == (1 if hostile.message else check.returncode)
    assert check.returncode in (0, 1), check.stderr
    report = json.loads(check.stdout)
    assert not [f for f in report["findings"] if f["rule"] == "internal-error"]
    if hostile.message is not None:
        (finding,) = [f for f in report["findings"] if f["rule"] == "parse-error"]
        assert f"{hostile.path}" in finding["message"]
        assert hostile.message in finding["message"]

    npd = run_limited(["check", "--root", root, "--format", "npd"])
    _within_bounds(npd, "check --format npd")
    assert npd.returncode == check.returncode, "NPD: a parse error is a problem, never Unknown"

    for argv in (["fix", "--root", root], ["clean", "--root", root, "--format", "json"]):
        run = run_limited(argv)
        _within_bounds(run, argv[0])
        assert run.returncode in (0, 1), f"{argv[0]}: {run.stderr}"

    bundle = str(tmp_path / "node.tar.gz")
    collected = run_limited(["collect", "--root", root, "-o", bundle, "--format", "json"])
    _within_bounds(collected, "collect")
    assert collected.returncode == 0, collected.stderr
    replay = run_limited(["check", "--bundle", bundle, "--format", "json"])
    _within_bounds(replay, "check --bundle")
    assert replay.returncode == check.returncode, replay.stderr
    replayed = json.loads(replay.stdout)
    assert sorted(f["rule"] for f in replayed["findings"]) == sorted(
        f["rule"] for f in report["findings"]
    )


@pytest.mark.slow
@pytest.mark.usefixtures("limited_tools")
@pytest.mark.parametrize("hostile", [pytest.param(h, id=h.name) for h in INPUT_CORPUS])
def test_a_hostile_input_is_refused_in_one_line_or_read_within_bounds(
    hostile: HostileInput, tmp_path: Path
) -> None:
    path = tmp_path / hostile.filename
    content = hostile.content()
    if not hostile.stdin:
        path.write_bytes(content)
    argv = [str(path) if word == "{}" else word for word in hostile.argv]
    run = run_limited(argv, cwd=str(tmp_path), stdin=content if hostile.stdin else b"")
    _within_bounds(run, hostile.name)
    assert run.returncode == hostile.exit_code, run.stderr
    if hostile.exit_code == 2:
        (line,) = run.stderr.splitlines()
        assert line.startswith("nodedoctor: ")
    if hostile.message is not None:
        assert hostile.message in run.stderr
    if hostile.stdout is not None:
        assert hostile.stdout in run.stdout, run.stdout[-2000:]
    assert not list(tmp_path.glob(".nodedoctor-*")), "a temporary file was left behind"
