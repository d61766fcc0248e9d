"""Write the files of tests/nodes/<node>/root that come from real software (issue 11).

The roots are committed; this script says how each generated file was obtained and makes it
again. Files that no registry has (a deployer's generated configs, /proc and /sys, an
os-release of a distribution Debian does not carry) are committed as they are and cited in
the node's README.md; this script never writes those.

- **Debian packages**: ``apt-get download PKG`` into a cache, ``dpkg-deb -x`` into a
  directory of their own (nothing is installed on this machine), then the node's files are
  copied from there. ``/var/lib/dpkg/status`` is built from the same packages' control files
  (``dpkg-deb -f``), plus the stanzas of packages no Debian registry has, kept verbatim in
  ``tests/nodes/<node>/dpkg-status.extra`` (cited in the README).
- **The rpm database** of a RHEL-like node: Debian's ``rpm`` 4.18 (downloaded and extracted the
  same way, run from there) builds a header-only ``.rpm`` per package the node has, named and
  versioned as the node's (``rpmbuild -bb`` of a spec with no files), and installs them with
  ``rpm --justdb --nodeps --noscripts`` into ``/var/lib/rpm/rpmdb.sqlite`` under the root
  (``_db_backend sqlite``, as RHEL 9, Rocky 9 and openEuler 22.03 keep it).
- **kOps nodeup's files**: nodeup's own golden test outputs (``tasks.yaml``: each file's
  ``path`` and ``contents``, each unit's ``Name`` and ``definition``), kept verbatim in
  ``tests/nodes/_upstream/kops-v1.36.2/`` and written where nodeup writes them.

Usage: ``python scripts/build_test_nodes.py [NODE ...]`` (as root, with Debian's apt).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
NODES = REPO / "tests" / "nodes"
UPSTREAM = NODES / "_upstream"
#: Debian's rpm 4.18 and the libraries this machine lacks for it.
RPM_TOOLS = (
    "rpm",
    "rpm-common",
    "librpm9",
    "librpmbuild9",
    "librpmio9",
    "librpmsign9",
    "libpopt0",
    "liblua5.3-0",
)


@dataclass(frozen=True)
class Rpm:
    """A package of a RHEL-like node: its name, version, release and architecture."""

    name: str
    version: str
    release: str
    arch: str = "x86_64"
    epoch: str | None = None


@dataclass
class Node:
    #: Debian package -> [(path in the package, path in the node)].
    files: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    #: Debian packages whose control stanzas make /var/lib/dpkg/status.
    dpkg: tuple[str, ...] = ()
    rpms: tuple[Rpm, ...] = ()
    #: (kOps golden tasks file, node path of a file or unit name, node path to write).
    kops: tuple[tuple[str, str, str], ...] = ()
    #: The node's Debian architecture. Packages are downloaded for this machine's (the
    #: registry's index here is amd64 only); an arm64 node's stanzas of arch-specific
    #: packages say arm64, the rest of the control file is the same for that version.
    arch: str = "amd64"
    #: Write /etc/containerd/config.toml as the Kubernetes docs make it: the installed
    #: binary's ``containerd config default`` (Debian's 1.6.20 package on this machine, the
    #: version the node's dpkg status lists), then ``sed 's/SystemdCgroup = false/SystemdCgroup
    #: = true/'``; with ``False``, the default left as it is.
    containerd_default: bool | None = None
    #: (Kubespray commit, the node's host in _upstream/kubespray/inventory.ini): the files of
    #: Kubespray's node and containerd roles, rendered; the facts file is <node>.yml there.
    kubespray: tuple[str, str] | None = None


_DEBIAN_BASE = ("base-files", "systemd", "containerd", "runc")
_KOPS_UBUNTU = (
    ("kubelet-warmpool-tasks.yaml", "/etc/sysconfig/kubelet", "/etc/sysconfig/kubelet"),
    (
        "kubelet-warmpool-tasks.yaml",
        "/var/lib/kubelet/kubelet.conf",
        "/var/lib/kubelet/kubelet.conf",
    ),
    ("kubelet-warmpool-tasks.yaml", "kubelet.service", "/lib/systemd/system/kubelet.service"),
    (
        "containerdbuilder-simple-tasks.yaml",
        "/etc/containerd/config.toml",
        "/etc/containerd/config.toml",
    ),
    (
        "containerdbuilder-simple-tasks.yaml",
        "/etc/sysconfig/containerd",
        "/etc/sysconfig/containerd",
    ),
    (
        "containerdbuilder-simple-tasks.yaml",
        "containerd.service",
        "/lib/systemd/system/containerd.service",
    ),
    (
        "bootstrap-simple-tasks.yaml",
        "/etc/sysconfig/kops-configuration",
        "/etc/sysconfig/kops-configuration",
    ),
    (
        "bootstrap-simple-tasks.yaml",
        "kops-configuration.service",
        "/lib/systemd/system/kops-configuration.service",
    ),
)
_CLOUD_INIT = [("/etc/cloud/cloud.cfg", "/etc/cloud/cloud.cfg")]
_CONTAINERD_UNIT = [
    ("/lib/systemd/system/containerd.service", "/lib/systemd/system/containerd.service")
]

#: What each node takes from real software. Everything else in its root is cited in its README.
SPECS: dict[str, Node] = {
    "kubeadm-debian12": Node(
        files={
            "base-files": [("/usr/lib/os-release", "/etc/os-release")],
            "containerd": _CONTAINERD_UNIT,
        },
        dpkg=_DEBIAN_BASE,
        containerd_default=True,
    ),
    "kubeadm-debian12-cgroupv1-kubelet-1.35": Node(
        files={
            "base-files": [("/usr/lib/os-release", "/etc/os-release")],
            "containerd": _CONTAINERD_UNIT,
        },
        dpkg=_DEBIAN_BASE,
        containerd_default=True,
    ),
    "kops-ubuntu2204": Node(
        files={"cloud-init": _CLOUD_INIT}, dpkg=("cloud-init",), kops=_KOPS_UBUNTU
    ),
    "k3s-rpios-bookworm": Node(
        files={
            "base-files": [("/usr/lib/os-release", "/etc/os-release")],
            "dphys-swapfile": [("/etc/dphys-swapfile", "/etc/dphys-swapfile")],
        },
        dpkg=("base-files", "systemd", "dphys-swapfile"),
        arch="arm64",
    ),
}
SPECS["kops-rocky9-gce-no-cloud-init"] = Node(
    rpms=(
        Rpm("rocky-release", "9.4", "1.7.el9", "noarch"),
        Rpm("kernel-core", "5.14.0", "427.13.1.el9_4"),
        Rpm("google-guest-agent", "20240314.00", "g1.el9"),
    )
)
_ROCKY_95 = (
    Rpm("rocky-release", "9.5", "1.2.el9", "noarch"),
    Rpm("kernel-core", "5.14.0", "503.14.1.el9_5"),
)
SPECS["kubekey-rocky9-delete-calico-left"] = Node(rpms=_ROCKY_95)
SPECS["rke2-rocky9"] = Node(rpms=_ROCKY_95)
SPECS["rke2-rocky9-uninstalled-calico-left"] = Node(rpms=_ROCKY_95)
SPECS["k3s-rpios-bookworm-no-memory-cgroup"] = SPECS["k3s-rpios-bookworm"]
#: Kubespray's main branch of 2026-08-21 (kube_version 1.36.4, containerd 2.3.4).
SPECS["kubespray-rocky9"] = Node(
    rpms=_ROCKY_95, kubespray=("46dbdd3994b32640bcd806b0097f50e8fdf1d514", "node4")
)
#: v2.24.1, the release of kubernetes-sigs/kubespray#11163 (kube_version 1.28.6).
SPECS["kubespray-rocky9-rpi4-no-memory-cgroup"] = Node(
    rpms=(
        Rpm("rocky-release", "9.3", "1.3.el9", "noarch"),
        Rpm("kernel-core", "5.14.0", "362.24.1.el9_3.0.1", "aarch64"),
    ),
    kubespray=("2cb8c8544fc5aeff7e1bc0865e65837dd6e8eaca", "node5"),
)


def _download(packages: set[str], cache: Path) -> dict[str, Path]:
    """Each package's .deb (downloaded once) and the directory it is extracted into."""
    cache.mkdir(parents=True, exist_ok=True)
    os.chmod(cache, 0o755)  # noqa: S103 -- apt downloads as the _apt user
    missing = [p for p in sorted(packages) if not list(cache.glob(f"{p}_*.deb"))]
    if missing:
        subprocess.run(["apt-get", "download", *missing], cwd=cache, check=True)
    out = {}
    for package in packages:
        deb = sorted(cache.glob(f"{package}_*.deb"))[-1]
        tree = cache / "x" / package
        if not tree.exists():
            tree.parent.mkdir(exist_ok=True)
            subprocess.run(["dpkg-deb", "-x", str(deb), str(tree)], check=True)
        out[package] = deb
    return out


def _status_stanza(deb: Path, arch: str) -> str:
    """A dpkg status stanza from a package's control file, as dpkg records it installed."""
    control = subprocess.run(
        ["dpkg-deb", "-f", str(deb)], capture_output=True, text=True, check=True
    ).stdout.rstrip("\n")
    control = control.replace("\nArchitecture: amd64\n", f"\nArchitecture: {arch}\n")
    first, _, rest = control.partition("\n")
    return f"{first}\nStatus: install ok installed\n{rest}\n"


def _write(root: Path, node_path: str, text: str | bytes) -> None:
    target = root / node_path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        target.write_bytes(text)
    else:
        target.write_text(text, encoding="utf-8")


def _kops_file(tasks: str, key: str) -> str:
    """A file's ``contents`` (by ``path``) or a unit's ``definition`` (by ``Name``) in
    nodeup's golden tasks."""
    with (UPSTREAM / "kops-v1.36.2" / tasks).open(encoding="utf-8") as f:
        for doc in yaml.safe_load_all(f):
            if doc.get("path") == key and isinstance(doc.get("contents"), str):
                return str(doc["contents"])
            if doc.get("Name") == key:
                return str(doc["definition"])
    raise KeyError(f"{tasks}: no {key}")


def _rpm_env(cache: Path) -> dict[str, str]:
    trees = _download(set(RPM_TOOLS), cache)
    libs = [
        str(cache / "x" / p / d)
        for p in trees
        for d in ("usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu")
        if (cache / "x" / p / d).is_dir()
    ]
    config = cache / "rpm-config"
    if not config.exists():
        for package in ("rpm-common", "rpm"):
            shutil.copytree(cache / "x" / package / "usr/lib/rpm", config, dirs_exist_ok=True)
    return {**os.environ, "LD_LIBRARY_PATH": ":".join(libs), "RPM_CONFIGDIR": str(config)}


def _rpmdb(root: Path, rpms: tuple[Rpm, ...], cache: Path) -> None:
    env = _rpm_env(cache)
    rpm_bin = cache / "x" / "rpm" / "usr" / "bin"
    dbdir = root / "var/lib/rpm"
    shutil.rmtree(dbdir, ignore_errors=True)
    common = ["--root", str(root), "--dbpath", "/var/lib/rpm", "--define", "_db_backend sqlite"]
    subprocess.run([str(rpm_bin / "rpmdb"), *common, "--initdb"], env=env, check=True)
    with tempfile.TemporaryDirectory() as top:
        for rpm in rpms:
            spec = Path(top) / f"{rpm.name}.spec"
            epoch = f"Epoch: {rpm.epoch}\n" if rpm.epoch else ""
            spec.write_text(
                f"Name: {rpm.name}\nVersion: {rpm.version}\nRelease: {rpm.release}\n{epoch}"
                f"Summary: {rpm.name} as the node has it\nLicense: see the distribution\n"
                f"%description\n{rpm.name}\n%files\n",
                encoding="utf-8",
            )
            subprocess.run(
                [
                    str(rpm_bin / "rpmbuild"),
                    "--quiet",
                    "--define",
                    f"_topdir {top}",
                    "--define",
                    "_build_id_links none",
                    "--target",
                    rpm.arch,
                    "-bb",
                    str(spec),
                ],
                env=env,
                check=True,
            )
        built = sorted(str(p) for p in Path(top).glob("RPMS/*/*.rpm"))
        subprocess.run(
            [
                str(rpm_bin / "rpm"),
                *common,
                "--justdb",
                "--nodeps",
                "--noscripts",
                "--ignorearch",
                "-i",
                *built,
            ],
            env=env,
            check=True,
            capture_output=True,
        )
    # One self-contained file, as a node shut down cleanly leaves it.
    with sqlite3.connect(dbdir / "rpmdb.sqlite") as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("PRAGMA journal_mode=DELETE")
    for name in ("rpmdb.sqlite-shm", "rpmdb.sqlite-wal"):
        (dbdir / name).unlink(missing_ok=True)


def _kubespray(root: Path, name: str, spec: tuple[str, str], repo: Path | None) -> None:
    if repo is None:
        raise SystemExit(f"build_test_nodes: {name} needs --kubespray REPO")
    commit, host = spec
    here = UPSTREAM / "kubespray"
    with tempfile.TemporaryDirectory() as top:
        checkout, out = Path(top) / "kubespray", Path(top) / "out"
        checkout.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(repo), "archive", commit, "roles", "inventory"],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "x", "-C", str(checkout)], input=archive, check=True)
        playbook = Path(sys.executable).with_name("ansible-playbook")
        subprocess.run(
            [
                str(playbook),
                *("-i", str(here / "inventory.ini"), str(here / "render.yml")),
                *("-e", f"ks={checkout}", "-e", f"out={out}", "-e", f"node={host}"),
                *("-e", f"node_vars={here / (name + '.yml')}"),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        for path in sorted((out / "etc").rglob("*")):
            if path.is_file():
                _write(root, f"/{path.relative_to(out)}", path.read_bytes())


def build(name: str, spec: Node, cache: Path, kubespray: Path | None = None) -> None:
    root = NODES / name / "root"
    debs = _download(set(spec.files) | set(spec.dpkg), cache)
    for package, pairs in spec.files.items():
        for src, dst in pairs:
            _write(root, dst, (cache / "x" / package / src.lstrip("/")).read_bytes())
    if spec.dpkg:
        stanzas = [_status_stanza(debs[p], spec.arch) for p in sorted(spec.dpkg)]
        extra = NODES / name / "dpkg-status.extra"
        if extra.exists():
            stanzas.append(extra.read_text(encoding="utf-8").strip("\n") + "\n")
        _write(root, "/var/lib/dpkg/status", "\n".join(stanzas))
    if spec.containerd_default is not None:
        default = subprocess.run(
            ["containerd", "config", "default"], capture_output=True, text=True, check=True
        ).stdout
        if spec.containerd_default:
            default = default.replace("SystemdCgroup = false", "SystemdCgroup = true")
        _write(root, "/etc/containerd/config.toml", default)
    for tasks, key, dst in spec.kops:
        _write(root, dst, _kops_file(tasks, key))
    if spec.kubespray:
        _kubespray(root, name, spec.kubespray, kubespray)
    if spec.rpms:
        _rpmdb(root, spec.rpms, cache)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("nodes", nargs="*", help="nodes to build (default: all)")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "nodedoctor-test-node-debs",
        help="where downloaded packages are kept and extracted",
    )
    parser.add_argument(
        "--kubespray",
        type=Path,
        help="a git clone of kubernetes-sigs/kubespray (for the Kubespray nodes)",
    )
    args = parser.parse_args(argv)
    for name in args.nodes or sorted(SPECS):
        if name not in SPECS:
            print(f"build_test_nodes: unknown node {name!r}", file=sys.stderr)
            return 2
        build(name, SPECS[name], args.cache, args.kubespray)
        print(f"built {NODES / name / 'root'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
