"""A directory or bundle with none of a node's marks (an os-release file, anything under
/proc, /sys or /usr) is refused by every command that opens a root: exit 2 with one line
that says so and suggests DIR/root where that is a node's root. NPD sees Unknown with the
reason, and the fleet page shows the node as not checked, never as healthy."""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from nodedoctor.cli import main
from nodedoctor.render.npd import MAX_OUTPUT
from nodedoctor.sources.bundle import MANIFEST, MANIFEST_SCHEMA
from nodedoctor.sources.root import Root, has_node_marks, not_a_node_root
from tests.helpers import ROOTS

REPO = Path(__file__).resolve().parents[1]
MONITOR = json.loads((REPO / "deploy/nodedoctor-monitor.json").read_text(encoding="utf-8"))
JUNIT_XSD = xmlschema.XMLSchema(str(REPO / "tests/render/junit-10.xsd"))
HEALTHY = ROOTS / "kubeadm-healthy-v2"
REFUSED = "does not look like a node's root: no /etc/os-release, /proc, /sys or /usr"


def _empty(tmp_path: Path) -> Path:
    """An unmounted mount point: the directory an image would be mounted on, empty."""
    mount_point = tmp_path / "mnt" / "image"
    mount_point.mkdir(parents=True)
    return mount_point


def _case_one_level_too_high(tmp_path: Path) -> Path:
    """A case directory (expect.yaml next to root/) given instead of its root."""
    case = tmp_path / "case"
    shutil.copytree(HEALTHY, case, symlinks=True)
    return case


def _no_marks_but_files(tmp_path: Path) -> Path:
    """Files a node has, but none of the marks: a partial copy of /etc, empty mount points."""
    root = tmp_path / "partial"
    shutil.copytree(HEALTHY / "root/etc", root / "etc", symlinks=True)
    (root / "etc/os-release").unlink()
    for empty in ("proc", "sys", "usr"):
        (root / empty).mkdir()
    return root


@pytest.mark.parametrize(
    ("mark", "kind"),
    [
        ("etc/os-release", "file"),
        ("usr/lib/os-release", "file"),
        ("proc/cmdline", "file"),
        ("proc/1", "dir"),
        ("sys/fs", "dir"),
        ("usr/bin", "dir"),
    ],
)
def test_each_mark_alone_makes_a_root(tmp_path: Path, mark: str, kind: str) -> None:
    assert not has_node_marks(Root(str(tmp_path)))
    path = tmp_path / mark
    if kind == "dir":
        path.mkdir(parents=True)
    else:
        path.parent.mkdir(parents=True)
        path.write_text("x\n", encoding="utf-8")
    assert has_node_marks(Root(str(tmp_path)))
    assert not_a_node_root(Root(str(tmp_path)), str(tmp_path)) is None


def test_os_release_as_a_link_counts_even_when_its_target_is_missing(tmp_path: Path) -> None:
    # systemd's layout: /etc/os-release -> ../usr/lib/os-release; an image with /usr on
    # another partition still names it.
    (tmp_path / "etc").mkdir()
    os.symlink("../usr/lib/os-release", tmp_path / "etc/os-release")
    assert has_node_marks(Root(str(tmp_path)))


def test_empty_mark_directories_are_not_marks(tmp_path: Path) -> None:
    root = _no_marks_but_files(tmp_path)
    message = not_a_node_root(Root(str(root)), str(root))
    assert message == f"{root} {REFUSED}"


def test_the_message_suggests_the_root_one_level_down(tmp_path: Path) -> None:
    case = _case_one_level_too_high(tmp_path)
    message = not_a_node_root(Root(str(case)), str(case))
    assert message == f"{case} {REFUSED}; did you mean {case}/root?"
    # Not when DIR/root is no node's root either.
    (tmp_path / "outer/root").mkdir(parents=True)
    outer = tmp_path / "outer"
    assert not_a_node_root(Root(str(outer)), str(outer)) == f"{outer} {REFUSED}"


def _refused_by(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (argv, out, err)
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    return out, err


ENTRY_POINTS = {
    "check": ["check"],
    "check-json": ["check", "--format", "json"],
    "check-family": ["check", "--only", "CgroupDriverMismatch"],
    "fix": ["fix"],
    "fix-apply": ["fix", "--apply", "--yes"],
    "rollback": ["rollback"],
    "journal": ["journal"],
    "clean": ["clean"],
    "why": ["why", "failed to find memory cgroup (v2)"],
    "collect": ["collect", "-o", "{tmp}/bundle.tar.gz"],
}


@pytest.mark.parametrize("argv", list(ENTRY_POINTS.values()), ids=list(ENTRY_POINTS))
@pytest.mark.parametrize("make", [_empty, _case_one_level_too_high, _no_marks_but_files])
def test_every_command_refuses_a_root_without_marks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], make: object
) -> None:
    assert callable(make)
    root = make(tmp_path)
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    args = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    out, err = _refused_by([*args, "--root", str(root)], capsys)
    assert err.startswith(f"nodedoctor: {root} {REFUSED}")
    if make is _case_one_level_too_high:
        assert err.rstrip().endswith(f"; did you mean {root}/root?")
    assert out == ""
    # Nothing was written: no bundle, no journal.
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before


def test_the_suggested_root_is_checked(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--root", str(HEALTHY / "root"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["error"] == 0


def test_batch_check_gives_an_error_line_for_the_refused_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = _empty(tmp_path)
    code = main(
        ["check", "--format", "json", "--jobs", "1", "--root", str(HEALTHY / "root"), str(empty)]
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 2
    assert lines[0]["schema"] == "nodedoctor/report/v1"
    assert lines[1]["schema"] == "nodedoctor/batch-error/v1"
    assert lines[1]["error"] == f"{empty} {REFUSED}"


def _bundle(path: Path, files: dict[str, bytes]) -> Path:
    manifest = json.dumps({"schema": MANIFEST_SCHEMA, "files": sorted(files)}).encode()
    with tarfile.open(path, "w:gz") as tar:
        for name, data in {MANIFEST: manifest, **files}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


def _markless_bundle(tmp_path: Path) -> Path:
    hostname = (HEALTHY / "root/etc/hostname").read_bytes()
    return _bundle(tmp_path / "nomarks.tar.gz", {"etc/hostname": hostname})


def test_a_bundle_without_marks_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    watched = tmp_path / "tmp"
    watched.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(watched))
    bundle = _markless_bundle(tmp_path)
    for argv in (["check"], ["fix"], ["clean"], ["why", "failed to find memory cgroup (v2)"]):
        _, err = _refused_by([*argv, "--bundle", str(bundle)], capsys)
        assert err == f"nodedoctor: {bundle} {REFUSED}\n"
    assert list(watched.iterdir()) == []  # the extracted files went at once
    # The same bundle with an os-release is a root.
    release = (HEALTHY / "root/etc/os-release").read_bytes()
    marked = _bundle(tmp_path / "marked.tar.gz", {"etc/os-release": release})
    assert main(["check", "--bundle", str(marked), "--format", "json"]) in (0, 1)
    capsys.readouterr()


def test_an_extracted_bundle_without_marks_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extracted = tmp_path / "extracted"
    with tarfile.open(_markless_bundle(tmp_path)) as tar:
        tar.extractall(extracted, filter="data")
    _, err = _refused_by(["check", "--root", str(extracted)], capsys)
    assert err == f"nodedoctor: {extracted} {REFUSED}\n"


@pytest.mark.parametrize("rule", MONITOR["rules"], ids=[r["condition"] for r in MONITOR["rules"]])
def test_npd_reports_unknown_with_the_reason(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    rule: dict[str, object],
) -> None:
    # The DaemonSet's /host with nothing mounted on it (a short name, as /host is: NPD
    # keeps 80 bytes).
    (tmp_path / "host").mkdir()
    monkeypatch.chdir(tmp_path)
    args = rule["args"]
    assert isinstance(args, list)
    # What deploy/nodedoctor-npd runs for FAMILY [SEVERITY] when nothing is cached.
    argv = ["check", "--root", "host", "--format", "npd", "--only", str(args[0])]
    argv += ["--fail-on", str(args[1])] if len(args) > 1 else []
    out, err = _refused_by(argv, capsys)
    assert out.startswith("unknown: host does not look like a node's root: no /etc/os-release")
    assert out.count("\n") == 1
    assert len(out.strip().encode()) <= MAX_OUTPUT
    assert REFUSED in err


def test_fleet_page_shows_nodes_not_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = _empty(tmp_path)
    main(["check", "--format", "json", "--jobs", "1", "--root", str(HEALTHY / "root"), str(empty)])
    batch = tmp_path / "batch.jsonl"
    batch.write_text(capsys.readouterr().out, encoding="utf-8")
    # What the Ansible role saves for a host it could not check.
    ansible = tmp_path / "worker-9.json"
    ansible.write_text(
        json.dumps(
            {
                "schema": "nodedoctor/batch-error/v1",
                "host": "worker-9",
                "root": "/mnt/worker-9",
                "kind": "root",
                "exit": 2,
                "error": f"/mnt/worker-9 {REFUSED}",
            }
        ),
        encoding="utf-8",
    )
    bundle = _markless_bundle(tmp_path)
    page = tmp_path / "fleet.html"
    inputs = [str(batch), str(ansible), str(bundle)]
    # nodes not checked are rows, and the exit status says so (issue 15)
    assert main(["report", *inputs, "-o", str(page)]) == 1
    err = capsys.readouterr().err
    for name in (str(empty), "worker-9", str(bundle)):
        assert f"nodedoctor: {name} was not checked: " in err
    html = page.read_text(encoding="utf-8")
    assert html.count('<tr class="node unchecked"') == 3
    assert html.count('<tr class="node"') == 1
    assert "4 nodes · 0 with errors · 0 with warnings · 3 not checked" in html
    for name in (str(empty), "worker-9", str(bundle)):
        assert f'data-node="{name}"' in html
    assert f"NOT CHECKED</span> {empty} does not look like a node&#x27;s root" in html

    assert main(["report", *inputs, "--format", "junit"]) == 1
    junit = capsys.readouterr().out
    JUNIT_XSD.validate(junit)
    suites = ET.fromstring(junit).findall("testsuite")  # noqa: S314 (our own output)
    unchecked = [s for s in suites if s.find("testcase/error[@type='not-checked']") is not None]
    assert sorted(str(s.get("name")) for s in unchecked) == sorted(
        [str(empty), "worker-9", str(bundle)]
    )
    assert all(s.get("errors") == "1" for s in unchecked)
