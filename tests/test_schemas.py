"""The published JSON Schemas (src/nodedoctor/schemas/*.schema.json) hold for what nodedoctor
writes: every test root's report, batch lines (reports and errors), fix plans, applies,
rollbacks and journal listings, journal manifests on disk, clean plans, and a bundle's
manifest; each schema is itself valid, and every ``schema`` value nodedoctor writes has its
file. A field added to a document without its schema fails here (they are closed)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import referencing

from nodedoctor import engine
from nodedoctor.cli import main
from nodedoctor.facts import Facts
from nodedoctor.rules import all_rules
from nodedoctor.sources.root import directory_root
from tests.helpers import CASES, ROOTS, case_dirs, case_root

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "src" / "nodedoctor" / "schemas"
NODES = REPO / "tests" / "nodes"


def _schema(name: str) -> dict[str, Any]:
    data = json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _registry() -> referencing.Registry[Any]:
    """Every schema by its $id: they refer to each other (fix-v1 to journal-v1, ...)."""
    schemas = [_schema(p.name.removesuffix(".schema.json")) for p in SCHEMAS.glob("*.json")]
    resources = [(s["$id"], referencing.Resource.from_contents(s)) for s in schemas]
    return referencing.Registry().with_resources(resources)


def _validator(name: str) -> jsonschema.protocols.Validator:
    schema = _schema(name)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER, registry=_registry())


def _valid(name: str, document: Any) -> None:
    """``document`` fits schema ``name``; else the first error, with where it is."""
    errors = sorted(_validator(name).iter_errors(document), key=lambda e: e.path)
    assert not errors, [(list(e.absolute_path), e.message[:300]) for e in errors[:3]]


@pytest.mark.parametrize("path", sorted(SCHEMAS.glob("*.schema.json")), ids=lambda p: p.name)
def test_each_schema_is_a_valid_draft_2020_12_schema(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    # Named by the document's own `schema` value: nodedoctor/report/v1 -> report-v1.
    name = schema["title"].removeprefix("nodedoctor/").replace("/", "-")
    assert path.name == f"{name}.schema.json"
    assert schema["$id"].endswith(f"/{path.name}")


#: Written by nodedoctor but not published yet (`why --format json`): its schema is to come.
UNPUBLISHED = {"nodedoctor/why/v1"}


def test_every_document_name_nodedoctor_writes_has_its_schema_and_back() -> None:
    """Every ``nodedoctor/NAME/vN`` the source writes has its schema file, and every schema
    file names a document the source writes."""
    import re

    written = set()
    for path in (REPO / "src" / "nodedoctor").rglob("*.py"):
        written |= set(re.findall(r'"(nodedoctor/[a-z-]+/v[0-9]+)"', path.read_text("utf-8")))
    published = {
        _schema(p.name.removesuffix(".schema.json"))["title"] for p in SCHEMAS.glob("*.json")
    }
    assert written >= UNPUBLISHED  # drop it from UNPUBLISHED once its schema is added
    assert written - UNPUBLISHED == published


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


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    code = main(argv)
    return code, json.loads(capsys.readouterr().out)


FIX_CASES = sorted(p for p in (REPO / "tests" / "fix" / "cases").iterdir() if (p / "root").is_dir())


@pytest.mark.parametrize("case", FIX_CASES, ids=lambda p: p.name)
def test_the_fix_plan_of_every_fix_case_fits_its_schema(
    case: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "root"
    shutil.copytree(case / "root", root, symlinks=True)
    code, plan = _run(["fix", "--root", str(root), "--format", "json"], capsys)
    assert code in (0, 1)
    assert plan["schema"] == "nodedoctor/fix/v1"
    _valid("fix-v1", plan)


def _journal_manifests(root: Path) -> list[Any]:
    base = root / "var/lib/nodedoctor/journal"
    return [json.loads(p.read_text("utf-8")) for p in sorted(base.glob("*/manifest.json"))]


def test_apply_journal_and_rollback_fit_theirs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``fix --apply --yes``, ``journal`` and ``rollback`` on a root copy (JSON), and the
    manifest on disk after the apply and after the rollback."""
    root = tmp_path / "root"
    shutil.copytree(REPO / "tests/fix/cases/debian12-grub/root", root, symlinks=True)
    code, applied = _run(
        ["fix", "--root", str(root), "--apply", "--yes", "--format", "json"], capsys
    )
    assert "applied" in applied, applied
    _valid("fix-v1", applied)
    manifests = _journal_manifests(root)
    assert [m["state"] for m in manifests] == ["applied"]
    _valid("journal-v1", manifests[0])
    _, listing = _run(["journal", "--root", str(root), "--format", "json"], capsys)
    assert [e["interrupted"] for e in listing] == [False]
    _valid("fix-v1", listing)
    code, rolled = _run(["rollback", "--root", str(root), "--format", "json"], capsys)
    assert code == 0, rolled
    assert rolled["restored"], rolled
    _valid("fix-v1", rolled)
    assert [m["state"] for m in _journal_manifests(root)] == ["rolled-back"]
    _valid("journal-v1", _journal_manifests(root)[0])


def test_interrupted_damaged_and_staging_listings_fit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The journal listing's other shapes: an interrupted entry, a damaged one, a staging
    directory; and the rollback that finishes the interrupted apply."""
    root = tmp_path / "root"
    shutil.copytree(REPO / "tests/fix/cases/debian12-grub/root", root, symlinks=True)
    main(["fix", "--root", str(root), "--apply", "--yes", "--format", "json"])
    capsys.readouterr()
    base = root / "var/lib/nodedoctor/journal"
    (entry,) = base.glob("*/manifest.json")
    manifest = json.loads(entry.read_text("utf-8"))
    manifest["state"] = "prepared"  # as an apply killed while writing leaves it
    entry.write_text(json.dumps(manifest), encoding="utf-8")
    (base / "20000101T000000Z-abcdef").mkdir()
    (base / "20000101T000000Z-abcdef/manifest.json").write_text("{", encoding="utf-8")
    (base / ".20000102T000000Z-fedcba.tmp").mkdir()
    _, listing = _run(["journal", "--root", str(root), "--format", "json"], capsys)
    assert sorted(str(e.get("state")) for e in listing) == ["damaged", "prepared", "staging"]
    _valid("fix-v1", listing)
    _, rolled = _run(["rollback", manifest["id"], "--root", str(root), "--format", "json"], capsys)
    assert rolled["interrupted"] == "prepared", rolled
    _valid("fix-v1", rolled)


def test_the_fix_documents_are_closed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "root"
    shutil.copytree(REPO / "tests/fix/cases/debian12-grub/root", root, symlinks=True)
    _, plan = _run(["fix", "--root", str(root), "--format", "json"], capsys)
    plan["plan"]["steps"][0]["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError):
        _validator("fix-v1").validate(plan)


def _clean_roots() -> list[Path]:
    rules = (
        *("cni-config-left", "cni-network-left", "kubeadm-init-blocked"),
        *("netfilter-rules-left", "orphaned-pod-cgroups", "orphaned-pod-dirs"),
    )
    return _roots() + [p for p in case_dirs() if p.parent.name in rules]


@pytest.mark.parametrize(
    "root", _clean_roots(), ids=lambda p: str(p.relative_to(REPO / "tests")).removesuffix("/root")
)
def test_the_clean_plan_of_every_test_root_fits_its_schema(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if root.is_relative_to(CASES):
        root = case_root(root)
    argv = ["clean", "--root", str(root), "--format", "json"]
    code, plan = _run([*argv, "--cgroup-root", str(tmp_path / "no-cgroups")], capsys)
    assert code in (0, 1)
    _valid("clean-v1", plan)


def test_a_clean_plan_with_every_step_kind_fits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The teardown roots between them plan every step kind; each kind's fields fit."""
    actions: set[str] = set()
    for path in _clean_roots():
        root = case_root(path) if path.is_relative_to(CASES) else path
        main(["clean", "--root", str(root), "--format", "json", "--cgroup-root", str(tmp_path)])
        plan = json.loads(capsys.readouterr().out)
        _valid("clean-v1", plan)
        actions |= {s["action"] for s in plan["plan"]["steps"]}
    assert actions >= {"unmount", "move", "delete-link", "remove-chains", "delete-table"}


def test_a_bundle_manifest_fits_its_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "b.tar.gz"
    root = ROOTS / "kubekey-teardown-calico" / "root"
    assert main(["collect", "--root", str(root), "-o", str(out)]) == 0
    capsys.readouterr()
    with tarfile.open(out) as tar:
        member = tar.extractfile(".nodedoctor/manifest.json")
        assert member is not None
        manifest = json.loads(member.read())
    assert manifest["files"]
    _valid("bundle-v1", manifest)
    manifest["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError):
        _validator("bundle-v1").validate(manifest)
