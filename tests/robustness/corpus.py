"""A corpus of hostile node roots and inputs (issue 12), generated, and the CLI run on them
under a memory and CPU limit of its own.

Each hostile root is a real root of the suite (``tests/roots/<scenario>/root``) with one
thing changed: a configuration file made an alias bomb, nested 10,000 deep, given a
20,000-part dotted key; the mount table grown to 100,000 lines; a file replaced by a link
out of the root, a FIFO, a device or a directory. Each hostile input is a file given on
the command line: reports nested 100,000 deep, bundles that are decompression bombs or
hold an alias bomb, a 50 MB log. ``bench/hostile.py`` measures the same corpus.

tests/robustness/limited.py runs the command line on them within limits.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import stat
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ROOTS = TESTS / "roots"

KUBELET_CONFIG = "/var/lib/kubelet/config.yaml"
CONTAINERD_CONFIG = "/etc/containerd/config.toml"
KUBELET_DROP_INS = "/usr/lib/systemd/system/kubelet.service.d"


# --------------------------------------------------------------------------------------
# File contents


def alias_bomb(levels: int = 9, width: int = 10) -> str:
    """A KubeletConfiguration whose mappings alias the one before ``width`` times, ``levels``
    deep: about 1 KB that a walk following aliases expands to ``width ** levels`` keys."""
    lines = [
        "apiVersion: kubelet.config.k8s.io/v1beta1",
        "kind: KubeletConfiguration",
        "cgroupDriver: systemd",
        "a0: &a0 {" + ", ".join(f"k{i}: 1" for i in range(width)) + "}",
    ]
    for level in range(1, levels + 1):
        keys = ", ".join(f"k{i}: *a{level - 1}" for i in range(width))
        lines.append(f"a{level}: &a{level} {{{keys}}}")
    return "\n".join(lines) + "\n"


def deep_flow(depth: int = 10_000) -> str:
    return "kind: KubeletConfiguration\nx: " + "[" * depth + "]" * depth + "\n"


def deep_block(depth: int = 700) -> str:
    """Block mappings nested ``depth`` deep (700: just under the 256 KiB bound)."""
    return "".join(" " * i + "a:\n" for i in range(depth))


def dotted_key(parts: int = 20_000) -> str:
    """A containerd config with one dotted key of ``parts`` parts (40 KB at 20,000)."""
    return "version = 2\n" + ".".join(["k"] * parts) + " = 1\n"


def deep_inline(depth: int = 10_000) -> str:
    return "version = 2\nx = " + "{a = " * depth + "1" + "}" * depth + "\n"


def many_tables(count: int = 20_000) -> str:
    return "version = 2\n" + "".join(f"[t{i}]\n" for i in range(count))


def deep_json(depth: int = 100_000) -> str:
    return "[" * depth + "]" * depth + "\n"


def mountinfo(base: str, mounts: int, kubelet_dir: str = "/var/lib/kubelet") -> str:
    """``base``'s mount table and ``mounts`` pod volume tmpfs mounts strictly under
    ``kubelet_dir`` (each pod: its projected service-account token and a secret), as the
    kernel writes them (the lines of tests/roots/kubekey-teardown-calico)."""
    lines = [line for line in base.splitlines() if "/var/lib/kubelet/" not in line]
    for i in range(mounts):
        pod, kind = divmod(i, 2)
        uid = f"{pod:08x}-3f4d-4c1e-9a8b-2d3e4f5a6b7c"
        volume = (
            "kubernetes.io~projected/kube-api-access-x7k2p"
            if kind == 0
            else "kubernetes.io~secret/etcd-certs"
        )
        lines.append(
            f"{2000 + i} 29 0:{200 + i} / {kubelet_dir}/pods/{uid}/volumes/{volume} "
            f"rw,relatime shared:{300 + i} - tmpfs tmpfs rw,seclabel,size=3912436k,inode64"
        )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------
# Roots


def copy_root(scenario: str, dest: Path) -> Path:
    shutil.copytree(ROOTS / scenario / "root", dest, symlinks=True)
    return dest


def _put(root: Path, node_path: str, text: str | bytes) -> None:
    host = root / node_path.lstrip("/")
    host.parent.mkdir(parents=True, exist_ok=True)
    if host.is_symlink() or host.is_file():
        host.unlink()
    data = text.encode("utf-8") if isinstance(text, str) else text
    host.write_bytes(data)


def _replace(root: Path, node_path: str, make: Callable[[Path], None]) -> None:
    host = root / node_path.lstrip("/")
    host.parent.mkdir(parents=True, exist_ok=True)
    if host.is_symlink() or host.is_file():
        host.unlink()
    make(host)


@dataclass(frozen=True)
class HostileRoot:
    """A root of the corpus: its scenario, what changes, and what a check must report: a
    parse-error finding naming ``path`` whose message holds ``message`` (``None``: the file
    is read as absent, no parse error)."""

    name: str
    scenario: str
    change: Callable[[Path], None]
    path: str
    message: str | None
    #: A long one: left out of ``make quick``.
    slow: bool = False

    def build(self, dest: Path) -> Path:
        root = copy_root(self.scenario, dest)
        self.change(root)
        return root


def _file(path: str, text: Callable[[], str | bytes]) -> Callable[[Path], None]:
    return lambda root: _put(root, path, text())


def _mountinfo_root(mounts: int) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        table = root / "proc/self/mountinfo"
        _put(root, "/proc/self/mountinfo", mountinfo(table.read_text(encoding="utf-8"), mounts))

    return change


def _sparse(path: str, size: int) -> Callable[[Path], None]:
    """A file of ``size`` NUL bytes that takes no disk (a 200 MB config in a test)."""

    def make(host: Path) -> None:
        with open(host, "wb") as f:
            f.truncate(size)

    return lambda root: _replace(root, path, make)


def _repetitive(path: str, size: int) -> Callable[[Path], None]:
    """A file of ``size`` bytes of one comment line repeated, written for real: the 200 MB
    config that collect once made a 28 KB bundle its reader refused as a bomb."""
    line = b"# " + b"a" * 1021 + b"\n"
    block = line * 1024

    def make(host: Path) -> None:
        with open(host, "wb") as f:
            for _ in range(size // len(block)):
                f.write(block)

    return lambda root: _replace(root, path, make)


def _long_lines(path: str, lines: int, width: int) -> Callable[[Path], None]:
    return _file(path, lambda: ("# " + "a" * width + "\n") * lines)


def _copies(directory: str, source: str, count: int = 65) -> Callable[[Path], None]:
    """``count`` copies of the root's file ``source`` in drop-in directory ``directory``,
    one past MAX_DROP_INS."""

    def change(root: Path) -> None:
        data = (root / source.lstrip("/")).read_bytes()
        stem, _, suffix = source.rsplit("/", 1)[1].partition(".")
        for i in range(count):
            _put(root, f"{directory}/{i:02d}-{stem}.{suffix}", data)

    return change


def _link(path: str, target: str) -> Callable[[Path], None]:
    return lambda root: _replace(root, path, lambda host: os.symlink(target, host))


def _fifo(path: str) -> Callable[[Path], None]:
    return lambda root: _replace(root, path, os.mkfifo)


def _device(path: str) -> Callable[[Path], None]:
    """A character device like /dev/zero (1, 5): endless if it were ever read."""
    return lambda root: _replace(
        root, path, lambda host: os.mknod(host, 0o644 | stat.S_IFCHR, os.makedev(1, 5))
    )


def _directory(path: str) -> Callable[[Path], None]:
    return lambda root: _replace(root, path, lambda host: host.mkdir())


def _link_loop(path: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        _link(path, path + ".loop")(root)
        _link(path + ".loop", path)(root)

    return change


HEALTHY = "kubeadm-healthy-v2"

ROOT_CORPUS: tuple[HostileRoot, ...] = (
    HostileRoot(
        "kubelet-alias-bomb",
        HEALTHY,
        _file(KUBELET_CONFIG, alias_bomb),
        KUBELET_CONFIG,
        "its aliases expand to more than 10000 nodes",
    ),
    HostileRoot(
        "kubelet-recursive-alias",
        HEALTHY,
        _file(KUBELET_CONFIG, lambda: "kind: KubeletConfiguration\na: &a {b: *a}\n"),
        KUBELET_CONFIG,
        "refers to the node that contains it",
    ),
    HostileRoot(
        "kubelet-deep-flow",
        HEALTHY,
        _file(KUBELET_CONFIG, deep_flow),
        KUBELET_CONFIG,
        "nested deeper than 64",
    ),
    HostileRoot(
        "kubelet-deep-block",
        HEALTHY,
        _file(KUBELET_CONFIG, deep_block),
        KUBELET_CONFIG,
        "nested deeper than 64",
    ),
    HostileRoot(
        "kubelet-over-size-bound",
        HEALTHY,
        _long_lines(KUBELET_CONFIG, 300, 1000),
        KUBELET_CONFIG,
        "larger than 256 KiB, the bound for a configuration file",
    ),
    HostileRoot(
        "kubelet-bad-date",
        HEALTHY,
        _file(KUBELET_CONFIG, lambda: "kind: KubeletConfiguration\nsince: 2024-13-45\n"),
        KUBELET_CONFIG,
        "month must be in 1..12",
    ),
    HostileRoot(
        "containerd-dotted-key",
        HEALTHY,
        _file(CONTAINERD_CONFIG, dotted_key),
        CONTAINERD_CONFIG,
        "dotted key with more than 32 parts",
    ),
    HostileRoot(
        "containerd-deep-inline-tables",
        HEALTHY,
        _file(CONTAINERD_CONFIG, deep_inline),
        CONTAINERD_CONFIG,
        "nested deeper than 64",
    ),
    HostileRoot(
        "containerd-many-tables",
        HEALTHY,
        _file(CONTAINERD_CONFIG, many_tables),
        CONTAINERD_CONFIG,
        "more than 10000 tables",
    ),
    HostileRoot(
        "containerd-200-mb-of-nul",
        HEALTHY,
        _sparse(CONTAINERD_CONFIG, 200 * 1024 * 1024),
        CONTAINERD_CONFIG,
        "larger than 4096 KiB; not read whole",
    ),
    HostileRoot(
        "containerd-200-mb-repetitive",
        HEALTHY,
        _repetitive(CONTAINERD_CONFIG, 200 * 1024 * 1024),
        CONTAINERD_CONFIG,
        "larger than 4096 KiB; not read whole",
        slow=True,
    ),
    HostileRoot(
        "containerd-4-mib-of-long-lines",
        HEALTHY,
        _long_lines(CONTAINERD_CONFIG, 4000, 1000),
        CONTAINERD_CONFIG,
        "larger than 256 KiB, the bound for a configuration file",
    ),
    HostileRoot(
        "docker-deep-json",
        "docker-containerd-io",
        _file("/etc/docker/daemon.json", deep_json),
        "/etc/docker/daemon.json",
        "nested deeper than 64",
    ),
    HostileRoot(
        "k3s-config-alias-bomb",
        "k3s-default-layout",
        _file("/etc/rancher/k3s/config.yaml", alias_bomb),
        "/etc/rancher/k3s/config.yaml",
        "its aliases expand to more than 10000 nodes",
    ),
    HostileRoot(
        "cloud-cfg-alias-bomb",
        HEALTHY,
        _file("/etc/cloud/cloud.cfg", alias_bomb),
        "/etc/cloud/cloud.cfg",
        "its aliases expand to more than 10000 nodes",
    ),
    HostileRoot(
        "kubelet-unit-65-drop-ins",
        HEALTHY,
        _copies(KUBELET_DROP_INS, f"{KUBELET_DROP_INS}/10-kubeadm.conf"),
        KUBELET_DROP_INS,
        "more than 64 files match *.conf: past the bound for a drop-in directory",
    ),
    HostileRoot(
        "containerd-65-imports",
        "containerd-2.1-confd-dropin",
        _copies("/etc/containerd/conf.d", "/etc/containerd/conf.d/10-systemd-cgroup.toml"),
        "/etc/containerd/conf.d",
        "more than 64 files match *.toml: past the bound for a drop-in directory",
    ),
    HostileRoot(
        "crio-65-drop-ins",
        "crio-cgroupfs-wrong-conmon",
        _copies("/etc/crio/crio.conf.d", "/etc/crio/crio.conf.d/10-crio.conf"),
        "/etc/crio/crio.conf.d",
        "more than 64 files match *.conf: past the bound for a drop-in directory",
    ),
    HostileRoot(
        "kubelet-config-links-out-of-the-root",
        HEALTHY,
        _link(KUBELET_CONFIG, "../../../../../../../../etc/shadow"),
        KUBELET_CONFIG,
        None,
    ),
    HostileRoot(
        "containerd-config-link-loop",
        HEALTHY,
        _link_loop(CONTAINERD_CONFIG),
        CONTAINERD_CONFIG,
        None,
    ),
    HostileRoot("kubelet-config-fifo", HEALTHY, _fifo(KUBELET_CONFIG), KUBELET_CONFIG, None),
    HostileRoot("mountinfo-fifo", HEALTHY, _fifo("/proc/self/mountinfo"), "", None),
    HostileRoot(
        "containerd-config-device", HEALTHY, _device(CONTAINERD_CONFIG), CONTAINERD_CONFIG, None
    ),
    HostileRoot(
        "kubelet-config-directory", HEALTHY, _directory(KUBELET_CONFIG), KUBELET_CONFIG, None
    ),
    HostileRoot(
        "mountinfo-100000-lines",
        "kubekey-teardown-calico",
        _mountinfo_root(100_000),
        "",
        None,
        slow=True,
    ),
)


# --------------------------------------------------------------------------------------
# Inputs given on the command line


def _tar_gz(members: Sequence[tuple[str, bytes]], level: int = 9) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=level) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def bomb_bundle() -> bytes:
    """A decompression bomb: 64 MiB of zeros as one member, about 65 KB compressed."""
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9) as gz:
        info = tarfile.TarInfo("var/log/zeros")
        info.size = 64 * 1024 * 1024
        gz.write(info.tobuf(tarfile.GNU_FORMAT))
        chunk = bytes(1024 * 1024)
        for _ in range(64):
            gz.write(chunk)
    return raw.getvalue()


def manifest() -> bytes:
    return json.dumps(
        {"schema": "nodedoctor/bundle/v1", "created": "2026-12-07T00:00:00Z", "files": []}
    ).encode()


def alias_bundle() -> bytes:
    """A bundle of a few hundred bytes whose kubelet config is an alias bomb."""
    return _tar_gz(
        [
            (".nodedoctor/manifest.json", manifest()),
            ("etc/os-release", b"ID=debian\nVERSION_ID=12\n"),
            (KUBELET_CONFIG.lstrip("/"), alias_bomb().encode()),
        ]
    )


def members_bundle(count: int = 40_000) -> bytes:
    return _tar_gz([(f"f/{i}", b"") for i in range(count)], level=1)


def link_out_bundle() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(".nodedoctor/manifest.json")
        data = manifest()
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("etc/os-release")
        link.type = tarfile.SYMTYPE
        link.linkname = "../../../../etc/shadow"
        tar.addfile(link)
    return buffer.getvalue()


#: An ordinary line of a busy kubelet, and the kubelet's error when kubepods is missing
#: (research/incidents.md §2: canonical/microk8s#4378).
BUSY_LINE = b"Dec  7 kubelet[812]: I1207 ordinary line of a busy kubelet\n"
SYMPTOM_LINE = (
    b'E1207 10:01:02.123456    2210 kubelet.go:1542] "Failed to start ContainerManager" '
    b'err="failed to initialize top level QOS containers: root container [kubepods] '
    b"doesn't exist\"\n"
)


def report(hostname: str = "worker-1") -> dict[str, object]:
    """A node's JSON report as ``check --format json`` writes it (one finding)."""
    return {
        "schema": "nodedoctor/report/v1",
        "tool": {"name": "nodedoctor", "version": "0.1.0"},
        "node": {"hostname": hostname, "root": "/", "os": {"id": "debian", "version_id": "12"}},
        "findings": [
            {
                "rule": "swap-enabled",
                "severity": "error",
                "title": "swap is on and the kubelet does not allow it",
                "message": "/proc/swaps lists /swapfile (2 GiB)",
                "evidence": [{"source": "/proc/swaps", "line": 2, "text": "/swapfile file"}],
            }
        ],
        "skipped": [{"rule": "crio-conmon-cgroup-invalid", "reason": "CRI-O is not installed"}],
        "passed": ["kubepods-invalid", "cgroup-driver-mismatch"],
    }


@dataclass(frozen=True)
class HostileInput:
    """A file given on the command line ``{}`` in ``argv`` (with ``stdin``, the content is
    piped on stdin instead); the exit code and the one line on stderr the run must give
    (``None``: stderr may be empty), and what stdout must show (``None``: anything)."""

    name: str
    filename: str
    content: Callable[[], bytes]
    argv: tuple[str, ...]
    exit_code: int
    message: str | None
    slow: bool = False
    stdin: bool = False
    stdout: str | None = None


INPUT_CORPUS: tuple[HostileInput, ...] = (
    HostileInput(
        "report-nested-100000-deep",
        "deep.json",
        lambda: deep_json().encode(),
        ("report", "{}"),
        2,
        "line 1: nested deeper than 64; not a nodedoctor report",
    ),
    HostileInput(
        "report-json-lines-one-deep",
        "fleet.jsonl",
        # The readable first node still counts; the file is a node not checked (exit 1).
        lambda: (json.dumps(report()) + "\n" + deep_json()).encode("utf-8"),
        ("report", "{}"),
        1,
        "fleet.jsonl:2: line 1: nested deeper than 64; not a nodedoctor report",
    ),
    HostileInput(
        "bundle-decompression-bomb",
        "bomb.tar.gz",
        bomb_bundle,
        ("check", "--bundle", "{}"),
        2,
        "decompression bomb",
    ),
    HostileInput(
        "bundle-of-an-alias-bomb",
        "alias.tar.gz",
        alias_bundle,
        ("check", "--bundle", "{}", "--format", "json"),
        1,
        None,
    ),
    HostileInput(
        "report-of-an-alias-bomb-bundle",
        "alias.tar.gz",
        alias_bundle,
        ("report", "{}"),
        0,
        None,
    ),
    HostileInput(
        "bundle-40000-members",
        "members.tar.gz",
        members_bundle,
        ("check", "--bundle", "{}"),
        2,
        "more than 30000 members",
    ),
    HostileInput(
        "bundle-link-out-of-the-root",
        "link.tar.gz",
        link_out_bundle,
        ("check", "--bundle", "{}"),
        2,
        "leaves the bundle",
    ),
    HostileInput(
        "log-50-mb",
        "kubelet.log",
        lambda: BUSY_LINE * 850_000 + SYMPTOM_LINE,
        ("check", "--logs", "{}", "--root", str(ROOTS / HEALTHY / "root")),
        0,
        None,
        slow=True,
        stdout="kubepods-invalid: 1 line(s), first at line 850001 (passes here)",
    ),
    HostileInput(
        "why-stdin-2-mib",
        "paste.txt",
        lambda: BUSY_LINE * 35_545 + SYMPTOM_LINE,
        ("why", "--root", str(ROOTS / HEALTHY / "root")),
        1,
        None,
        stdin=True,
        stdout="kubepods-invalid  the kubelet will reject",
    ),
    HostileInput(
        "check-logs-stdin-2-mib",
        "paste.txt",
        lambda: BUSY_LINE * 35_545 + SYMPTOM_LINE,
        ("check", "--logs", "-", "--root", str(ROOTS / HEALTHY / "root")),
        0,
        None,
        stdin=True,
        stdout="kubepods-invalid: 1 line(s), first at line 35546 (passes here)",
    ),
    HostileInput(
        "log-one-line-of-64-mib",
        "kubelet.log",
        lambda: b"x" * (64 * 1024 * 1024) + b"\n" + SYMPTOM_LINE,
        ("check", "--logs", "{}", "--root", str(ROOTS / HEALTHY / "root")),
        0,
        None,
        slow=True,
        stdout="kubepods-invalid: 1 line(s), first at line 2 (passes here)",
    ),
    HostileInput(
        "logs-from-a-device",
        "unused",
        lambda: b"",
        ("check", "--logs", "/dev/zero", "--root", str(ROOTS / HEALTHY / "root")),
        2,
        "--logs /dev/zero: not a file or a pipe",
    ),
    HostileInput(
        "report-one-document-over-16-mib",
        "big.json",
        lambda: json.dumps([report()] * 30_000).encode(),
        ("report", "{}"),
        2,
        "larger than 16 MiB; not a nodedoctor report",
    ),
    HostileInput(
        "report-json-lines-bad-line",
        "fleet.jsonl",
        lambda: json.dumps(report()).encode() + b"\n{not json\n",
        ("report", "{}"),
        1,
        "fleet.jsonl:2: not JSON",
    ),
    HostileInput(
        "report-not-utf-8",
        "latin1.json",
        lambda: b'{"schema": "nodedoctor/report/v1", "node": {"hostname": "\xe9"}}',
        ("report", "{}"),
        2,
        "latin1.json: not UTF-8 text",
    ),
    HostileInput(
        "report-fleet-of-4000-nodes",
        "fleet.jsonl",
        lambda: "".join(json.dumps(report(f"node-{i:04d}")) + "\n" for i in range(4000)).encode(),
        ("report", "{}", "--format", "junit"),
        0,
        None,
        stdout='<testsuite name="node-3999"',
    ),
)
