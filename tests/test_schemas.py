"""The published JSON Schemas (src/nodedoctor/schemas/*.schema.json) hold for what nodedoctor
writes: every test root's report, batch lines (reports and errors), and each schema is
itself valid. A field added to a document without its schema fails here (they are closed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from nodedoctor import engine
from nodedoctor.facts import Facts
from nodedoctor.rules import all_rules
from nodedoctor.sources.root import directory_root
from tests.helpers import ROOTS, case_dirs, case_root

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "src" / "nodedoctor" / "schemas"
NODES = REPO / "tests" / "nodes"


def _schema(name: str) -> dict[str, Any]:
    data = json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _validator(name: str) -> jsonschema.protocols.Validator:
    schema = _schema(name)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


@pytest.mark.parametrize("path", sorted(SCHEMAS.glob("*.schema.json")), ids=lambda p: p.name)
def test_each_schema_is_a_valid_draft_2020_12_schema(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    # Named by the document's own `schema` value: nodedoctor/report/v1 -> report-v1.
    name = schema["title"].removeprefix("nodedoctor/").replace("/", "-")
    assert path.name == f"{name}.schema.json"
    assert schema["$id"].endswith(f"/{path.name}")


def test_every_document_name_nodedoctor_writes_has_its_schema() -> None:
    from nodedoctor.model import Report
    from nodedoctor.render.reports import NOT_CHECKED_SCHEMA

    for name in (Report.SCHEMA, NOT_CHECKED_SCHEMA):
        assert (
            SCHEMAS / f"{name.removeprefix('nodedoctor/').replace('/', '-')}.schema.json"
        ).exists()


def _roots() -> list[Path]:
    roots = [p / "root" for p in sorted(ROOTS.iterdir()) if (p / "root").is_dir()]
    return roots + [p / "root" for p in sorted(NODES.iterdir()) if (p / "root").is_dir()]


def _report(root: Path) -> dict[str, Any]:
    report = engine.run(Facts(directory_root(str(root))), engine.select_rules(all_rules()))
    data = json.loads(json.dumps(report.to_json()))  # as the renderer writes it
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("root", _roots(), ids=lambda p: p.parent.name)
def test_the_report_of_every_test_root_fits_its_schema(root: Path) -> None:
    _validator("report-v1").validate(_report(root))


@pytest.mark.slow
def test_the_report_of_every_case_fits_its_schema() -> None:
    validator = _validator("report-v1")
    for case in case_dirs():
        errors = list(validator.iter_errors(_report(case_root(case))))
        assert not errors, (case, errors[0].message)


def test_the_schema_is_closed() -> None:
    """An unannounced field is refused (the test above would catch a new field)."""
    report = _report(ROOTS / "kubeadm-healthy-v2" / "root")
    report["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError):
        _validator("report-v1").validate(report)
    report = _report(ROOTS / "kubekey-teardown-calico" / "root")
    report["findings"][0]["fix"]["extra"] = True
    with pytest.raises(jsonschema.ValidationError):
        _validator("report-v1").validate(report)


def test_batch_lines_fit_theirs(tmp_path: Path) -> None:
    """``check --root A B`` writes a report per line, or an error line for a node it could
    not open: each fits its schema."""
    empty = tmp_path / "empty"
    empty.mkdir()
    roots = [str(ROOTS / "kubeadm-healthy-v2" / "root"), str(empty)]
    out = subprocess.run(
        [sys.executable, "-m", "nodedoctor", "check", "--format", "json", "--root", *roots],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=REPO,
    )
    assert out.returncode == 2, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [line["schema"] for line in lines] == [
        "nodedoctor/report/v1",
        "nodedoctor/batch-error/v1",
    ]
    _validator("report-v1").validate(lines[0])
    _validator("batch-error-v1").validate(lines[1])
