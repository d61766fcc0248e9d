"""Shared test helpers: run the engine on a directory root; build a rule case's root."""

from __future__ import annotations

import atexit
import os
import shutil
import stat
import tempfile
from functools import cache, lru_cache
from pathlib import Path, PurePosixPath

import yaml

from nodedoctor import engine
from nodedoctor.facts import Facts
from nodedoctor.model import Report
from nodedoctor.rules import all_rules
from nodedoctor.sources.bundle import bundle_directory_root
from nodedoctor.sources.root import directory_root

TESTS = Path(__file__).parent
CASES = TESTS / "cases"
ROOTS = TESTS / "roots"
#: The shared roots that case overlays name as ``base:`` (tests/cases/_bases/<name>/root).
BASES = CASES / "_bases"

#: Every key an expect.yaml may hold; tests/cases/README.md says what each means.
EXPECT_KEYS = frozenset(
    {
        "base",
        "remove",
        "dirs",
        "profile",
        "kubernetes_version",
        "severity",
        "count",
        "evidence",
        "message",
        "fix_files",
        "also",
    }
)


def check_root(
    path: Path,
    profile: str | None = None,
    only: tuple[str, ...] = (),
    kubernetes_version: str | None = None,
) -> Report:
    """Check ``path`` as ``--root`` does: a root holding a bundle's ``.nodedoctor`` (recorded
    command outputs, running state) is read as that bundle."""
    root = bundle_directory_root(str(path)) if (path / ".nodedoctor").exists() else None
    facts = Facts(
        root or directory_root(str(path)), profile=profile, kubernetes_version=kubernetes_version
    )
    return engine.run(facts, engine.select_rules(all_rules(), only=only))


def load_expect(path: Path) -> dict[str, object]:
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    assert isinstance(data, dict), f"{path}: expected a mapping"
    return data


def case_dirs() -> list[Path]:
    """Every rule case, tests/cases/<rule-id>/<case>/ (``_bases`` holds no cases)."""
    return sorted(p for p in CASES.glob("*/*") if p.is_dir() and not p.parent.name.startswith("_"))


def case_profile(case_dir: Path) -> str | None:
    profile = load_expect(case_dir / "expect.yaml").get("profile")
    return str(profile) if profile else None


def case_kubernetes_version(case_dir: Path) -> str | None:
    """The case's ``--kubernetes-version`` (``kubernetes_version:``), as a string."""
    version = load_expect(case_dir / "expect.yaml").get("kubernetes_version")
    return str(version) if version else None


def case_base(case_dir: Path) -> Path | None:
    """The root directory a case's ``base:`` names (a path under tests/, holding root/)."""
    base = load_expect(case_dir / "expect.yaml").get("base")
    if base is None:
        return None
    where = f"{case_dir / 'expect.yaml'}: base"
    if not isinstance(base, str) or not base or base.startswith("/") or ".." in base.split("/"):
        raise ValueError(f"{where}: {base!r} is not a directory under tests/")
    root = TESTS / base / "root"
    if not root.is_dir():
        raise ValueError(f"{where}: {base} has no root/ (expected {root})")
    return root


def node_paths(case_dir: Path, key: str) -> list[PurePosixPath]:
    """The node paths listed under ``key`` (remove, dirs), relative to the root."""
    values = load_expect(case_dir / "expect.yaml").get(key) or []
    where = f"{case_dir / 'expect.yaml'}: {key}"
    if not isinstance(values, list):
        raise TypeError(f"{where}: expected a list of node paths")
    out = []
    for value in values:
        path = PurePosixPath(str(value))
        if not path.is_absolute() or ".." in path.parts or len(path.parts) < 2:
            raise ValueError(f"{where}: {value!r} is not an absolute node path below /")
        if str(path) != str(value):
            raise ValueError(f"{where}: {value!r} is not written as {str(path)!r}")
        out.append(path.relative_to("/"))
    return out


def materialize_case(case_dir: Path, dest: Path) -> Path:
    """Build the full root of a case under ``dest`` and return it (``dest/root``).

    The base's root is copied, the ``remove:`` paths are deleted, the case's own ``root/``
    is laid over it (its files replace the base's) and the ``dirs:`` are created empty.
    Symlinks are copied as symlinks and files keep their mode. A case without ``base:``
    is its own ``root/``, copied the same way.
    """
    root = dest / "root"
    base = case_base(case_dir)
    overlay = case_dir / "root"
    if base is None and not overlay.is_dir():
        raise ValueError(f"{case_dir}: neither a base: in expect.yaml nor a root/")
    dest.mkdir(parents=True, exist_ok=True)
    if base is not None:
        shutil.copytree(base, root, symlinks=True)
    else:
        root.mkdir()
    for rel in node_paths(case_dir, "remove"):
        _remove(root, rel, f"{case_dir / 'expect.yaml'}: remove: /{rel}")
    if overlay.is_dir():
        _lay_over(overlay, root)
    for rel in node_paths(case_dir, "dirs"):
        target = root / rel
        if os.path.lexists(target):
            raise ValueError(f"{case_dir / 'expect.yaml'}: dirs: /{rel} exists already")
        _real_parent(root, rel, f"{case_dir / 'expect.yaml'}: dirs: /{rel}")
        target.mkdir(parents=True)
    return root


def _real_parent(root: Path, rel: PurePosixPath, where: str) -> None:
    """No part of the way to ``rel`` may be a symlink: a write must stay inside the root."""
    for i in range(1, len(rel.parts)):
        if (root / Path(*rel.parts[:i])).is_symlink():
            raise ValueError(f"{where}: /{Path(*rel.parts[:i])} is a symlink in the base")


def _remove(root: Path, rel: PurePosixPath, where: str) -> None:
    _real_parent(root, rel, where)
    target = root / rel
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.is_dir():
        shutil.rmtree(target)
    else:
        raise ValueError(f"{where}: not in the base")


def _lay_over(overlay: Path, root: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(overlay):
        here = Path(dirpath)
        rel_dir = here.relative_to(overlay)
        for name in sorted(dirnames):
            source, target = here / name, root / rel_dir / name
            if source.is_symlink():
                filenames.append(name)  # os.walk lists a symlink to a directory as one
                continue
            if target.is_symlink() or (target.exists() and not target.is_dir()):
                raise ValueError(f"{source}: /{rel_dir / name} is not a directory in the base")
            target.mkdir(exist_ok=True)
        dirnames[:] = [d for d in dirnames if not (here / d).is_symlink()]
        for name in sorted(filenames):
            source, target = here / name, root / rel_dir / name
            if target.is_dir() and not target.is_symlink():
                raise ValueError(f"{source}: /{rel_dir / name} is a directory in the base")
            if os.path.lexists(target):
                target.unlink()
            if source.is_symlink():
                os.symlink(os.readlink(source), target)
            else:
                shutil.copy2(source, target)


def case_root(case: str | Path) -> Path:
    """The full root of a case (its directory, or ``"<rule-id>/<name>"`` under tests/cases),
    built once per run in a temporary directory. Read it; copy it before changing anything."""
    name = case.relative_to(CASES).as_posix() if isinstance(case, Path) else case
    return _built_case_root(name)


@cache
def _built_case_root(name: str) -> Path:
    return materialize_case(CASES / name, _case_roots() / name)


@lru_cache(maxsize=1)
def _case_roots() -> Path:
    tmp = Path(tempfile.mkdtemp(prefix="nodedoctor-cases-"))
    atexit.register(shutil.rmtree, tmp, True)
    return tmp


def tree_entries(root: Path) -> dict[str, tuple[str, str | bytes, int]]:
    """Every entry below ``root`` by relative path: (kind, symlink target or bytes, mode)."""
    out: dict[str, tuple[str, str | bytes, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            info = path.lstat()
            mode = stat.S_IMODE(info.st_mode)
            rel = str(path.relative_to(root))
            if stat.S_ISLNK(info.st_mode):
                out[rel] = ("symlink", os.readlink(path), 0)
            elif stat.S_ISDIR(info.st_mode):
                out[rel] = ("dir", b"", mode)
            else:
                out[rel] = ("file", path.read_bytes(), mode)
    return out


def facts_from_files(root: Path, files: dict[str, str]) -> Facts:
    """Facts of a directory root holding ``files`` (path relative to the root -> text)."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return Facts(directory_root(str(root)))
