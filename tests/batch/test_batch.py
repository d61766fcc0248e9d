"""``nodedoctor check --root DIR1 DIR2 ...`` / ``--bundle F1 F2 ...``: many nodes in one run,
checked by a process pool, one JSON report per line in input order, worst exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bench.gen_roots import generate_many

from nodedoctor.cli.batch import ERROR_SCHEMA, Options, Target, check_many
from nodedoctor.model import Severity
from tests.helpers import check_root


def nodedoctor(*args: str, tmpdir: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TMPDIR": str(tmpdir)} if tmpdir else None
    return subprocess.run(
        [sys.executable, "-m", "nodedoctor", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env=env,
    )


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in ("duration_seconds", "timestamp")}


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Twelve small workers: cgroup v1 and v2, both drivers."""
    return generate_many(tmp_path_factory.mktemp("fleet"), 12, 4)


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A worker whose mount table cannot be parsed: a ``parse-error`` finding (error)."""
    root = generate_many(tmp_path_factory.mktemp("broken"), 1, 2)[0]
    (root / "proc/self/mountinfo").write_text("not a mountinfo line\n")
    (root / "proc/1/mountinfo").unlink()
    return root


def test_reports_stream_one_line_per_root_in_input_order(roots: list[Path]) -> None:
    order = [roots[5], roots[0], roots[11], roots[0], *roots[1:4]]
    out = nodedoctor("check", "--format", "json", "--jobs", "2", "--root", *map(str, order))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == len(order)
    for root, line in zip(order, lines):
        report = json.loads(line)
        assert report["schema"] == "nodedoctor/report/v1"
        assert report["node"]["root"] == str(root)
        assert comparable(report) == comparable(check_root(root).to_json())


def test_one_worker_and_many_workers_give_the_same_lines(roots: list[Path]) -> None:
    options = Options(profile=None, only=(), skip=(), fail_on=Severity.ERROR)
    targets = [Target("root", str(r)) for r in roots]
    serial = [(json.loads(line), code) for line, code in check_many(targets, options, jobs=1)]
    pooled = [(json.loads(line), code) for line, code in check_many(targets, options, jobs=2)]
    assert [(comparable(r), c) for r, c in serial] == [(comparable(r), c) for r, c in pooled]


def test_exit_code_is_the_worst_over_all_roots(roots: list[Path], broken: Path) -> None:
    healthy = [str(r) for r in roots[:3]]
    assert nodedoctor("check", "--format", "json", "--root", *healthy).returncode == 0
    with_finding = nodedoctor("check", "--format", "json", "--root", *healthy, str(broken))
    assert with_finding.returncode == 1
    rules = [f["rule"] for f in json.loads(with_finding.stdout.splitlines()[-1])["findings"]]
    assert "parse-error" in rules
    missing = nodedoctor(
        "check", "--format", "json", "--root", healthy[0], "/nonexistent/node", str(broken)
    )
    assert missing.returncode == 2
    lines = [json.loads(line) for line in missing.stdout.splitlines()]
    assert len(lines) == 3
    assert lines[1] == {
        "schema": ERROR_SCHEMA,
        "root": "/nonexistent/node",
        "kind": "root",
        "exit": 2,
        "error": "--root /nonexistent/node: not a directory",
    }
    assert lines[2]["schema"] == "nodedoctor/report/v1"


def test_fail_on_and_only_apply_to_every_root(roots: list[Path], broken: Path) -> None:
    out = nodedoctor(
        "check", "--format", "json", "--only", "parse-error", "--root", str(roots[0]), str(broken)
    )
    assert out.returncode == 1
    for line in out.stdout.splitlines():
        assert set(json.loads(line)["passed"]) <= {"parse-error", "internal-error"}


def test_several_roots_need_json(roots: list[Path]) -> None:
    out = nodedoctor("check", "--root", str(roots[0]), str(roots[1]))
    assert out.returncode == 2
    assert "--format json" in out.stderr
    assert not out.stdout


def test_output_file_gets_all_lines_at_once(roots: list[Path], tmp_path: Path) -> None:
    target = tmp_path / "fleet.jsonl"
    out = nodedoctor(
        "check", "--format", "json", "--output", str(target), "--root", *map(str, roots[:4])
    )
    assert out.returncode == 0, out.stderr
    assert not out.stdout
    lines = target.read_text().splitlines()
    assert [json.loads(line)["node"]["root"] for line in lines] == [str(r) for r in roots[:4]]
    assert [p.name for p in tmp_path.iterdir()] == ["fleet.jsonl"]


def test_bundles_are_checked_like_their_roots(
    roots: list[Path], tmp_path: Path, broken: Path
) -> None:
    bundles = []
    for i, root in enumerate([roots[0], roots[1], broken]):
        bundle = tmp_path / f"node-{i}.tar.gz"
        made = nodedoctor("collect", "--root", str(root), "-o", str(bundle))
        assert made.returncode == 0, made.stderr
        bundles.append(bundle)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    out = nodedoctor("check", "--format", "json", "--bundle", *map(str, bundles), tmpdir=scratch)
    assert out.returncode == 1, out.stderr
    assert list(scratch.iterdir()) == [], "extracted bundles were left behind"
    reports = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["node"]["root"] for r in reports] == [f"bundle:{b}" for b in bundles]
    assert "parse-error" in [f["rule"] for f in reports[2]["findings"]]
    for bundle, report in zip(bundles, reports):
        alone = nodedoctor("check", "--format", "json", "--bundle", str(bundle))
        assert comparable(json.loads(alone.stdout)) == comparable(report)


def test_single_root_still_takes_every_format(roots: list[Path]) -> None:
    out = nodedoctor("check", "--root", str(roots[0]))
    assert out.returncode == 0, out.stderr
    assert "passed" in out.stdout


def test_repeated_root_options_add_up(roots: list[Path]) -> None:
    out = nodedoctor(
        "check", "--format", "json", "--root", str(roots[0]), "--root", str(roots[1]), str(roots[2])
    )
    assert out.returncode == 0, out.stderr
    assert [json.loads(line)["node"]["root"] for line in out.stdout.splitlines()] == [
        str(r) for r in roots[:3]
    ]
