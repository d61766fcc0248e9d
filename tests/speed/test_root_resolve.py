"""Root.resolve caches resolved directories (a tree walk asks for tens of thousands of paths
that share parents). The cache must not change a single answer: here the cached resolver is
compared with the plain component-by-component one, on trees full of links (relative,
absolute, through ``..``, loops, links leaving the root, dangling), in random orders, so
that later answers come from the cache."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nodedoctor.sources.root import Root, UnsafePathError

_MAX_LINK_HOPS = 40


def reference_resolve(base: str, path: str) -> str:
    """The resolver before the cache, kept verbatim as the specification."""
    if not path.startswith("/"):
        raise UnsafePathError(f"{path!r}: node paths are absolute")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafePathError(f"{path!r}: '..' is not allowed in a node path")
    resolved: list[str] = []
    hops = 0
    pending = parts
    while pending:
        part, pending = pending[0], pending[1:]
        if part == "..":
            if not resolved:
                raise UnsafePathError(f"{path!r}: a link leads outside the root")
            resolved.pop()
            continue
        candidate = os.path.join(base, *resolved, part)
        try:
            info = os.lstat(candidate)
        except OSError:
            if ".." in pending:
                raise UnsafePathError(
                    f"{path!r}: a link leads through a missing directory"
                ) from None
            return os.path.join(base, *resolved, part, *pending)
        if stat.S_ISLNK(info.st_mode):
            hops += 1
            if hops > _MAX_LINK_HOPS:
                raise UnsafePathError(f"{path!r}: too many levels of links")
            target = os.readlink(candidate)
            target_parts = [p for p in target.split("/") if p not in ("", ".")]
            if target.startswith("/"):
                resolved = []
            pending = target_parts + pending
            continue
        resolved.append(part)
    return os.path.join(base, *resolved)


def outcome(resolve: object, *args: str) -> str:
    try:
        return str(resolve(*args))  # type: ignore[operator]
    except UnsafePathError as exc:
        return f"error: {exc}"


def build_tree(base: Path) -> None:
    """Directories a/b/c, x/y, files, and links of every kind among them."""
    for d in ("a/b/c", "x/y", "sys/fs/cgroup/memory/kubepods", "sys/fs/cgroup/cpu,cpuacct"):
        (base / d).mkdir(parents=True, exist_ok=True)
    for f in ("a/b/c/file", "x/y/file", "sys/fs/cgroup/memory/kubepods/cgroup.procs"):
        (base / f).write_text("x\n")
    links = {
        "a/rel": "b/c",
        "a/abs": "/x/y",
        "a/b/up": "../../x",
        "a/b/upup": "../../../../etc",
        "x/loop": "loop",
        "x/ping": "pong",
        "x/pong": "ping",
        "x/dangling": "nowhere/deeper",
        "x/dangling-up": "nowhere/../../y",
        "sys/fs/cgroup/cpu": "cpu,cpuacct",
        "sys/fs/cgroup/memory/alias": "/sys/fs/cgroup/memory/kubepods",
        "etc-link": "/a/b",
        "root-link": "/",
    }
    for name, target in links.items():
        os.symlink(target, base / name)


SEGMENTS = st.sampled_from(
    [
        "a",
        "b",
        "c",
        "x",
        "y",
        "rel",
        "abs",
        "up",
        "upup",
        "loop",
        "ping",
        "dangling",
        "dangling-up",
        "file",
        "missing",
        "sys",
        "fs",
        "cgroup",
        "cpu",
        "memory",
        "alias",
        "kubepods",
        "cgroup.procs",
        "etc-link",
        "root-link",
        ".",
        "",
    ]
)
PATHS = st.lists(st.lists(SEGMENTS, max_size=7).map(lambda p: "/" + "/".join(p)), max_size=25)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(paths=PATHS)
def test_cached_resolution_equals_the_plain_resolution(
    tmp_path_factory: pytest.TempPathFactory, paths: list[str]
) -> None:
    base = tmp_path_factory.mktemp("tree")
    build_tree(base)
    root = Root(str(base))
    real = os.path.realpath(base)
    # Twice over, so the second pass is answered from the cache.
    for path in [*paths, *reversed(paths), *paths]:
        assert outcome(root.resolve, path) == outcome(reference_resolve, real, path), path


def test_cache_stays_bounded(tmp_path: Path) -> None:
    for i in range(300):
        (tmp_path / f"d{i}" / "e").mkdir(parents=True)
    root = Root(str(tmp_path))
    for i in range(300):
        assert root.resolve(f"/d{i}/e/f") == f"{root.base}/d{i}/e/f"
    assert len(root._dirs) <= 8192


DIRS = st.lists(st.lists(SEGMENTS, max_size=4).map(lambda p: "/" + "/".join(p)), max_size=15)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(paths=DIRS)
def test_subdirs_equals_listdir_then_is_dir(
    tmp_path_factory: pytest.TempPathFactory, paths: list[str]
) -> None:
    """One scandir gives what a listing and an is_dir per entry give, links included."""
    base = tmp_path_factory.mktemp("tree")
    build_tree(base)
    root = Root(str(base))
    for path in paths:
        names = root.listdir(path)
        slow = (
            None if names is None else [n for n in names if root.is_dir(f"{path.rstrip('/')}/{n}")]
        )
        assert root.subdirs(path) == slow, path
