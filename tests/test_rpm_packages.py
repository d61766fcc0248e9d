"""Package versions on RPM roots, from real rpm databases: Debian's ``rpm`` builds tiny
packages with ``rpmbuild`` and installs them (``--justdb``) into a root's SQLite rpmdb, the
backend of RHEL-like 9, Fedora >= 33 and openEuler >= 22.03. nodedoctor reads that database
offline, read-only and without writing beside it, and gets what ``rpm -q`` itself prints; a
running RHEL 8 node (Berkeley DB) is asked through the allowlisted ``rpm -q``."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import struct
import subprocess
import time
from pathlib import Path

import pytest

from nodedoctor import engine
from nodedoctor.collect import collect
from nodedoctor.facts import Facts
from nodedoctor.facts.packages import RPM_NAMES, Packages, packages
from nodedoctor.parsers import ParseError
from nodedoctor.parsers.rpmdb import QUERY_FORMAT, parse_rpm_header, parse_rpm_query
from nodedoctor.rules import all_rules
from nodedoctor.sources.bundle import open_bundle
from nodedoctor.sources.commands import ALLOWLIST, CommandResult, RecordedCommands
from nodedoctor.sources.root import Root, directory_root
from tests.helpers import ROOTS

RPMBUILD, RPM = shutil.which("rpmbuild"), shutil.which("rpm")
pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(
        RPMBUILD is None or RPM is None,
        reason="needs Debian's rpm package (scripts/install-system-deps)",
    ),
]

#: (name, epoch, version, release): the Kubernetes project's kubelet and kubeadm packages
#: (pkgs.k8s.io names them kubelet-1.34.1-150500.1.1), Docker's containerd.io, and a runc
#: with an epoch (rpm -q leaves an epoch out of its default output, dnf prints it).
PACKAGES = (
    ("kubelet", None, "1.34.1", "150500.1.1"),
    ("kubeadm", None, "1.34.1", "150500.1.1"),
    ("containerd.io", None, "1.7.27", "3.1.el9"),
    ("runc", 4, "1.1.12", "4.el9"),
)
SPEC = """Name: {name}
{epoch}Version: {version}
Release: {release}
Summary: {name} for nodedoctor's tests
License: Apache-2.0
BuildArch: x86_64
%description
An empty package: only its header matters.
%files
"""


def _build(work: Path) -> list[Path]:
    """Real .rpm files, one per entry of PACKAGES."""
    out = []
    for name, epoch, version, release in PACKAGES:
        spec = work / f"{name}.spec"
        spec.write_text(
            SPEC.format(
                name=name,
                epoch=f"Epoch: {epoch}\n" if epoch else "",
                version=version,
                release=release,
            ),
            encoding="utf-8",
        )
        subprocess.run(
            [str(RPMBUILD), "--quiet", "--define", f"_topdir {work / 'build'}", "-bb", str(spec)],
            check=True,
            capture_output=True,
            timeout=60,
        )
        out.append(work / f"build/RPMS/x86_64/{name}-{version}-{release}.x86_64.rpm")
    return out


def install(root: Path, rpms: list[Path], dbpath: str = "/var/lib/rpm") -> Path:
    """Install ``rpms`` into ``root``'s database (headers only) with the SQLite backend."""
    subprocess.run(
        [
            str(RPM),
            "--root",
            str(root),
            "--dbpath",
            dbpath,
            "--define",
            "_db_backend sqlite",
            "--justdb",
            "--nodeps",
            "--noscripts",
            "--nosignature",
            "-i",
            *map(str, rpms),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    database = root / dbpath.lstrip("/") / "rpmdb.sqlite"
    with sqlite3.connect(database) as check:  # the backend is SQLite, with rpm's tables
        names = {r[0] for r in check.execute("SELECT name FROM sqlite_master")}
    assert {"Packages", "Name"} <= names
    return database


@pytest.fixture(scope="module")
def rpms(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    start = time.monotonic()
    built = _build(tmp_path_factory.mktemp("rpmbuild"))
    print(f"built {len(built)} packages in {time.monotonic() - start:.2f} s")
    return built


def _release(pk: Packages, component: str) -> tuple[int, int, int] | None:
    version = pk.version(component)
    return None if version is None else version.release


def _rocky_root(tmp_path: Path) -> Path:
    root = tmp_path / "rocky"
    shutil.copytree(ROOTS / "gce-rocky9-no-cloud-init/root", root, symlinks=True)
    return root


def _rpm_query(root: Path, *args: str) -> str:
    return subprocess.run(
        [str(RPM), "--root", str(root), "--dbpath", "/var/lib/rpm", *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout


def test_every_header_reads_as_rpm_itself_reads_it(rpms: list[Path], tmp_path: Path) -> None:
    root = _rocky_root(tmp_path)
    database = install(root, rpms)
    with sqlite3.connect(database) as db:
        headers = [parse_rpm_header(blob) for (blob,) in db.execute("SELECT blob FROM Packages")]
    # rpm's own view of every installed package, through the format rpm-query uses.
    theirs = parse_rpm_query(_rpm_query(root, "-qa", "--qf", QUERY_FORMAT))
    assert {h.name: h for h in headers} == theirs
    assert sorted(h.nvra for h in headers) == sorted(_rpm_query(root, "-qa").split())
    runc = theirs["runc"]
    assert (runc.epoch, runc.evr) == (4, "4:1.1.12-4.el9")


def test_versions_on_an_rpm_root_offline(rpms: list[Path], tmp_path: Path) -> None:
    root = _rocky_root(tmp_path)
    install(root, rpms)
    pk = Facts(directory_root(str(root))).get(packages)
    got = {c: (i.version.raw if i.version else None, i.origin) for c, i in pk.found.items()}
    assert got == {
        "kubelet": ("1.34.1-150500.1.1", "rpm:kubelet"),
        "kubeadm": ("1.34.1-150500.1.1", "rpm:kubeadm"),
        "containerd": ("1.7.27-3.1.el9", "rpm:containerd.io"),
        "runc": ("4:1.1.12-4.el9", "rpm:runc"),
    }
    kubelet = pk.found["kubelet"]
    assert kubelet.evidence.source == "/var/lib/rpm/rpmdb.sqlite"
    assert kubelet.evidence.text == "kubelet-1.34.1-150500.1.1.x86_64"  # as rpm -q prints it
    assert _release(pk, "runc") == (1, 1, 12)
    assert pk.deb is None
    assert pk.rpm is not None
    assert set(pk.rpm) == {p[0] for p in PACKAGES}


def test_runc_from_containerd_io_only_without_a_runc_package(
    rpms: list[Path], tmp_path: Path
) -> None:
    root = _rocky_root(tmp_path)
    install(root, [p for p in rpms if p.name.startswith("containerd.io")])
    pk = Facts(directory_root(str(root))).get(packages)
    assert pk.found["runc"].origin == "rpm:containerd.io"
    assert pk.found["containerd"].origin == "rpm:containerd.io"


def _tree(root: Path) -> dict[str, tuple[int, float]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime)
        for p in root.rglob("*")
        if p.is_file()
    }


def test_reading_the_database_writes_nothing(rpms: list[Path], tmp_path: Path) -> None:
    root = _rocky_root(tmp_path)
    database = install(root, rpms)
    for side in ("-wal", "-shm"):  # as on an image whose rpm was shut down cleanly
        Path(f"{database}{side}").unlink(missing_ok=True)
    before = _tree(root)
    report = engine.run(Facts(directory_root(str(root))), list(all_rules()))
    assert not [f for f in report.findings if f.rule in ("parse-error", "internal-error")]
    assert _tree(root) == before


def test_an_unread_write_ahead_log_is_named(rpms: list[Path], tmp_path: Path) -> None:
    root = _rocky_root(tmp_path)
    database = install(root, rpms)
    Path(f"{database}-wal").write_bytes(b"\0" * 4096)  # a transaction rpm has not checkpointed
    kubelet = Facts(directory_root(str(root))).get(packages).found["kubelet"]
    assert kubelet.evidence.text == (
        "kubelet-1.34.1-150500.1.1.x86_64 (4096 bytes of /var/lib/rpm/rpmdb.sqlite-wal not read)"
    )


def test_fedora_keeps_the_database_under_usr(rpms: list[Path], tmp_path: Path) -> None:
    """Fedora >= 36: /usr/lib/sysimage/rpm, with /var/lib/rpm a link to it (or absent)."""
    root = _rocky_root(tmp_path)
    install(root, rpms, dbpath="/usr/lib/sysimage/rpm")
    assert _release(Facts(directory_root(str(root))).get(packages), "kubelet") == (1, 34, 1)
    (root / "var/lib").mkdir(parents=True, exist_ok=True)
    os.symlink("../../usr/lib/sysimage/rpm", root / "var/lib/rpm")
    pk = Facts(directory_root(str(root))).get(packages)
    assert pk.found["kubelet"].evidence.source == "/var/lib/rpm/rpmdb.sqlite"


def _check(root: Path) -> list[tuple[str, str]]:
    report = engine.run(Facts(directory_root(str(root))), list(all_rules()))
    return [(f.rule, f.message) for f in report.findings]


def test_a_corrupt_header_is_a_parse_error_naming_the_database(
    rpms: list[Path], tmp_path: Path
) -> None:
    root = _rocky_root(tmp_path)
    database = install(root, rpms)
    db = sqlite3.connect(database)
    (hnum,) = db.execute("SELECT hnum FROM Name WHERE key = 'kubelet'").fetchone()
    db.execute("UPDATE Packages SET blob = ? WHERE hnum = ?", (b"\0\0\0\x09\0\0", hnum))
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # into the file, as rpm does when it closes
    db.close()
    found = _check(root)
    errors = [m for r, m in found if r == "parse-error"]
    assert len(errors) == 1, found
    assert "/var/lib/rpm/rpmdb.sqlite" in errors[0]
    assert f"package {hnum}: rpm header: 6 bytes, shorter than its 8-byte intro" in errors[0]
    pk = Facts(directory_root(str(root))).get(packages)
    assert "kubelet" not in pk.found
    assert _release(pk, "containerd") == (1, 7, 27)


def test_a_file_that_is_not_sqlite_is_a_parse_error(tmp_path: Path) -> None:
    root = _rocky_root(tmp_path)
    database = root / "var/lib/rpm/rpmdb.sqlite"
    database.parent.mkdir(parents=True)
    database.write_bytes(b"SQLite format 3\0" + b"\xff" * 200)
    found = _check(root)
    errors = [m for r, m in found if r == "parse-error"]
    assert len(errors) == 1, found
    assert "cannot read it" in errors[0]
    assert not [r for r, _ in found if r == "internal-error"]


def _real_header(rpms: list[Path], tmp_path: Path) -> bytes:
    database = install(_rocky_root(tmp_path), rpms[:1])
    with sqlite3.connect(database) as db:
        (blob,) = db.execute("SELECT blob FROM Packages").fetchone()
    assert isinstance(blob, bytes)
    return blob


def test_the_parser_is_bounded_on_every_cut_and_corruption(
    rpms: list[Path], tmp_path: Path
) -> None:
    blob = _real_header(rpms, tmp_path)
    assert parse_rpm_header(blob).nvra == "kubelet-1.34.1-150500.1.1.x86_64"
    for cut in range(len(blob)):
        with pytest.raises(ParseError):
            parse_rpm_header(blob[:cut])
    il, dl = struct.unpack_from(">II", blob)
    huge = [struct.pack(">II", 0x10000, dl), struct.pack(">II", il, 0x1000001)]
    for intro in huge:
        with pytest.raises(ParseError, match="exceed rpm's limits"):
            parse_rpm_header(intro + blob[8:])
    # Every index entry's offset, type and count corrupted in turn: a parse error or a
    # package, never another exception.
    for i in range(il):
        for field, value in ((2, 0x7FFFFFFF), (2, -1), (1, 99), (3, 0)):
            entry = list(struct.unpack_from(">iIiI", blob, 8 + 16 * i))
            entry[field] = value
            bad = blob[: 8 + 16 * i] + struct.pack(">iIiI", *entry) + blob[8 + 16 * (i + 1) :]
            with contextlib.suppress(ParseError):
                parse_rpm_header(bad)
    # A name string with no terminator before the end of the data.
    data_start = 8 + 16 * il
    name_entry = next(i for i in range(il) if struct.unpack_from(">i", blob, 8 + 16 * i)[0] == 1000)
    offset = struct.unpack_from(">i", blob, 8 + 16 * name_entry + 8)[0]
    tail = blob[data_start + offset :].replace(b"\0", b"x")
    with pytest.raises(ParseError, match="not terminated"):
        parse_rpm_header(blob[: data_start + offset] + tail)


def test_rpm_query_asks_for_every_package_the_facts_know() -> None:
    argv = ALLOWLIST["rpm-query"]
    assert argv[:4] == ("rpm", "-q", "--qf", QUERY_FORMAT)
    assert set(argv[4:]) == {n for names in RPM_NAMES.values() for n in names}


def _query_output(rpms: list[Path], tmp_path: Path) -> CommandResult:
    """What the allowlisted command prints on a node with ``rpms`` installed (run by the real
    rpm against a root, as it would run on the node)."""
    root = _rocky_root(tmp_path / "query")
    install(root, rpms)
    argv = ALLOWLIST["rpm-query"]
    done = subprocess.run(
        [str(RPM), "--root", str(root), "--dbpath", "/var/lib/rpm", *argv[1:]],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == len(argv[4:]) - len(PACKAGES)  # rpm counts the names it lacks
    assert "package cri-o is not installed" in done.stdout
    return CommandResult("rpm-query", argv, done.returncode, done.stdout, done.stderr)


def test_a_running_rhel8_node_is_asked_through_rpm(rpms: list[Path], tmp_path: Path) -> None:
    """RHEL 8's Berkeley DB: no rpmdb.sqlite; a live node runs rpm -q, an offline root has
    no version (nothing under it is executed)."""
    query = _query_output(rpms, tmp_path)
    root = _rocky_root(tmp_path)
    (root / "var/lib/rpm").mkdir(parents=True)
    (root / "var/lib/rpm/Packages").write_bytes(b"\0" * 4096)
    assert Facts(directory_root(str(root))).get(packages).version("kubelet") is None
    live = Root(str(root), live=True, commands=RecordedCommands({"rpm-query": query}))
    pk = Facts(live).get(packages)
    assert _release(pk, "kubelet") == (1, 34, 1)
    assert pk.found["runc"].version is not None
    assert pk.found["runc"].version.raw == "4:1.1.12-4.el9"
    assert pk.found["kubelet"].evidence.source.startswith("rpm -q --qf ")
    # A live Debian node (no rpm database at all) never runs rpm.
    asked: list[str] = []

    class Watching(RecordedCommands):
        def run(self, name: str) -> CommandResult | None:
            asked.append(name)
            return super().run(name)

    debian = Root(str(ROOTS / "kubeadm-healthy-v2/root"), live=True, commands=Watching({}))
    Facts(debian).get(packages)
    assert "rpm-query" not in asked


def test_a_bundle_of_an_rpm_node_replays_rpm_query(rpms: list[Path], tmp_path: Path) -> None:
    """A bundle carries rpm -q's output (collect records every allowlisted command on a live
    node), not the database: the versions come back from it when the bundle is checked."""
    query = _query_output(rpms, tmp_path)
    root = _rocky_root(tmp_path)
    install(root, rpms)
    # This root as the live node it was taken from, its rpm -q answering as rpm did above.
    node = Root(str(root), live=True, commands=RecordedCommands({"rpm-query": query}))
    bundle = collect(node, str(tmp_path / "rocky.tar.gz")).path
    with open_bundle(bundle) as replayed:
        assert not replayed.exists("/var/lib/rpm/rpmdb.sqlite")
        assert replayed.is_dir("/var/lib/rpm")
        pk = Facts(replayed).get(packages)
        assert _release(pk, "containerd") == (1, 7, 27)
        kubelet = pk.found["kubelet"]
        assert kubelet.evidence.source.startswith("rpm -q --qf ")
        assert kubelet.evidence.text == "kubelet-1.34.1-150500.1.1.x86_64"


def _rocky_on_cgroup_v1(tmp_path: Path) -> Path:
    """Rocky 9.4 on GCE booted with systemd.unified_cgroup_hierarchy=0 and kubeadm's kubelet.

    The Rocky files are gce-rocky9-no-cloud-init's; the cgroup layout systemd mounts for
    unified_cgroup_hierarchy=0 (v1 controllers, cgroup2 at /sys/fs/cgroup/unified) and the
    kubeadm kubelet files (unit, drop-in, config.yaml, kubeadm-flags.env) are those of
    ubuntu-20.04-hybrid-kubelet-1.35, which pkgs.k8s.io's RPMs install at the same paths;
    /etc/sysconfig/kubelet is the RPM's counterpart of the deb's /etc/default/kubelet."""
    root = _rocky_root(tmp_path)
    hybrid = ROOTS / "ubuntu-20.04-hybrid-kubelet-1.35/root"
    cgroups = ("proc/self/mountinfo", "proc/cgroups", "proc/swaps", "sys/fs/cgroup")
    kubelet = ("usr/lib/systemd/system/kubelet.service", "usr/lib/systemd/system/kubelet.service.d")
    for part in (*cgroups, *kubelet, "var/lib/kubelet"):
        source, dest = hybrid / part, root / part
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, dest, symlinks=True)
        else:
            shutil.copy2(source, dest)
    (root / "etc/sysconfig").mkdir(parents=True, exist_ok=True)
    shutil.copy2(hybrid / "etc/default/kubelet", root / "etc/sysconfig/kubelet")
    (root / "proc/cmdline").write_text(
        "BOOT_IMAGE=(hd0,gpt2)/boot/vmlinuz-5.14.0-427.13.1.el9_4.x86_64 "
        "root=UUID=1b7a8a47-5b31-4a5e-8f0c-0d2f3c1e9b7d ro console=ttyS0,38400n8d "
        "systemd.unified_cgroup_hierarchy=0\n",
        encoding="utf-8",
    )
    return root


def test_rocky9_on_cgroup_v1_with_kubelet_134_from_the_rpmdb(
    rpms: list[Path], tmp_path: Path
) -> None:
    root = _rocky_on_cgroup_v1(tmp_path)
    # Without the database the version is unknown: a warning that names the versions that
    # deprecate and refuse cgroup v1, not the verdict for this kubelet.
    report = engine.run(Facts(directory_root(str(root))), list(all_rules()))
    (unknown,) = [f for f in report.findings if f.rule == "cgroup-v1-unsupported"]
    assert unknown.severity.value == "warning"
    assert "1.35" in unknown.message
    assert not any(e.source == "/var/lib/rpm/rpmdb.sqlite" for e in unknown.evidence)
    install(root, rpms)
    report = engine.run(Facts(directory_root(str(root))), list(all_rules()))
    (finding,) = [f for f in report.findings if f.rule == "cgroup-v1-unsupported"]
    assert finding.severity.value == "warning"
    assert finding.title == "cgroup hybrid is deprecated for kubelet 1.34"
    assert ("/var/lib/rpm/rpmdb.sqlite", "kubelet-1.34.1-150500.1.1.x86_64") in {
        (e.source, e.text) for e in finding.evidence
    }
    assert report.node["kubelet"]["version"] == "1.34.1-150500.1.1"
