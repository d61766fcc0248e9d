#!/usr/bin/env python3
"""Build the single-file nodedoctor: ``python3 scripts/build_zipapp.py dist/nodedoctor.pyz``.

The result is one zip file (PEP 441 zipapp) that runs with the node's own Python 3.9+ and no
pip: ``python3 nodedoctor.pyz check``. Inside it:

- the ``nodedoctor`` package from ``src/`` with its rule documents (``rules/docs/*.md``, read
  with ``importlib.resources``, which reads from a zip too);
- the pure-Python dependencies, copied from the environment that runs this script: tomlkit
  and PyYAML's Python part only (``yaml/``, without ``_yaml``/``cyaml``: PyYAML then falls back
  to its pure-Python loader, ``yaml.__with_libyaml__`` is false);
- ``nodedoctor/_build.py``, generated here: version, git commit, build date and the vendored
  dependencies' versions, which ``nodedoctor --version`` prints.

No compiled file goes in (no ``.so``, no ``.pyc``, no ``__pycache__``), so one file serves
x86_64 and aarch64 and every Python from 3.9 on. Entries are sorted and stamped with one
date, so two builds of the same commit with the same ``SOURCE_DATE_EPOCH`` are identical.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import importlib.metadata
import os
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

REPO = Path(__file__).resolve().parent.parent
SRC = REPO / "src" / "nodedoctor"
INTERPRETER = "/usr/bin/env python3"

#: Distribution name -> (top-level package it installs, files of that package left out).
#: ``yaml/cyaml.py`` only wraps the C extension ``_yaml``, which is not shipped.
DEPENDENCIES: dict[str, tuple[str, frozenset[str]]] = {
    "tomlkit": ("tomlkit", frozenset()),
    "PyYAML": ("yaml", frozenset({"cyaml.py"})),
}

#: The only kinds of file that go into the zip; anything else (``.so``, ``.pyc``) stays out.
SHIPPED_SUFFIXES = (".py", ".md", ".typed", ".schema.json", ".mo")

#: Copied into the zip as ``__main__.py``, with ``BUILD_ID`` filled in.
MAIN_TEMPLATE = Path(__file__).resolve().parent / "zipapp_main.py"


def git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def build_date() -> dt.datetime:
    """``SOURCE_DATE_EPOCH`` when set (reproducible builds), else now; always UTC."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.timezone.utc)
    return dt.datetime.now(tz=dt.timezone.utc).replace(microsecond=0)


def package_version() -> str:
    namespace: dict[str, object] = {}
    init = (SRC / "__init__.py").read_text(encoding="utf-8")
    for line in init.splitlines():
        if line.startswith("__version__"):
            exec(line, namespace)  # noqa: S102 - one assignment line of our own source
    return str(namespace["__version__"])


def shipped(name: str) -> bool:
    return name.endswith(SHIPPED_SUFFIXES)


def own_files() -> list[tuple[str, Path]]:
    """(name in zip, file) for the nodedoctor package."""
    out: list[tuple[str, Path]] = []
    for path in sorted(SRC.rglob("*")):
        rel = path.relative_to(SRC.parent)
        if not path.is_file() or "__pycache__" in rel.parts or not shipped(path.name):
            continue
        if rel.as_posix() == "nodedoctor/_build.py":
            continue  # generated below, never taken from the tree
        out.append((rel.as_posix(), path))
    return out


def dependency_files() -> tuple[list[tuple[str, Path]], list[tuple[str, str]]]:
    """(name in zip, file) for the vendored dependencies, and their (name, version)."""
    out: list[tuple[str, Path]] = []
    versions: list[tuple[str, str]] = []
    for dist_name, (top, left_out) in DEPENDENCIES.items():
        try:
            dist = importlib.metadata.distribution(dist_name)
        except importlib.metadata.PackageNotFoundError:
            sys.exit(
                f"build_zipapp: {dist_name} is not installed in {sys.executable}; "
                "run `make zipapp` (it uses the project's .venv)"
            )
        versions.append((dist_name, dist.version))
        found = False
        for file in dist.files or ():
            parts = PurePosixPath(str(file)).parts
            source = Path(str(file.locate()))
            if parts[0] == top:
                if "__pycache__" in parts or not shipped(parts[-1]) or parts[-1] in left_out:
                    continue
                out.append(("/".join(parts), source))
                found = True
            elif parts[0].endswith(".dist-info") and "LICENSE" in parts[-1].upper():
                # Licences travel with the code they cover.
                out.append((f"licenses/{dist_name}/{parts[-1]}", source))
        if not found:
            sys.exit(f"build_zipapp: {dist_name} has no Python files under {top}/")
    return sorted(out), versions


def build_module(version: str, commit: str, date: str, deps: list[tuple[str, str]]) -> str:
    return (
        '"""Written by scripts/build_zipapp.py; exists only inside the zipapp."""\n\n'
        f"VERSION = {version!r}\n"
        f"COMMIT = {commit!r}\n"
        f"DATE = {date!r}\n"
        f"DEPENDENCIES = {tuple(deps)!r}\n"
    )


def build_id(files: list[tuple[str, Path]], generated: dict[str, str]) -> str:
    """A hash of every entry: the name of this build's unpacked cache directory."""
    digest = hashlib.sha256()
    contents = {name: path.read_bytes() for name, path in files}
    contents.update({name: text.encode("utf-8") for name, text in generated.items()})
    for name in sorted(contents):
        digest.update(name.encode("utf-8") + b"\0" + contents[name] + b"\0")
    return digest.hexdigest()[:20]


def main_module(build: str) -> str:
    template = MAIN_TEMPLATE.read_text(encoding="utf-8")
    placeholder = 'BUILD_ID = "unbuilt"\n'
    if template.count(placeholder) != 1:
        raise SystemExit(f"build_zipapp: {MAIN_TEMPLATE} lost its BUILD_ID line")
    return template.replace(placeholder, f"BUILD_ID = {build!r}\n")


def write_zipapp(
    target: Path, files: list[tuple[str, Path]], generated: dict[str, str], when: dt.datetime
) -> None:
    stamp = (max(when.year, 1980), when.month, when.day, when.hour, when.minute, when.second)
    entries: dict[str, bytes] = {name: path.read_bytes() for name, path in files}
    for name, text in generated.items():
        entries[name] = text.encode("utf-8")
    bad = [n for n in entries if not shipped(n) and not n.startswith("licenses/")]
    if bad:
        raise SystemExit(f"build_zipapp: refusing non-source files: {bad}")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".nodedoctor-", suffix=".pyz", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as raw:
            raw.write(f"#!{INTERPRETER}\n".encode())
            with zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for name in sorted(entries):
                    info = zipfile.ZipInfo(name, date_time=stamp)
                    info.compress_type = zipfile.ZIP_DEFLATED
                    info.external_attr = (stat.S_IFREG | 0o644) << 16
                    zf.writestr(info, entries[name])
        os.chmod(tmp, 0o755)  # noqa: S103 - an executable anyone may run, like /usr/bin tools
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="where to write the .pyz")
    args = parser.parse_args(argv)

    when = build_date()
    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    if commit != "unknown" and git("status", "--porcelain", "--", "src"):
        commit += "-dirty"  # built from a tree with uncommitted changes to the package
    version = package_version()
    deps, dep_versions = dependency_files()
    generated = {
        "nodedoctor/_build.py": build_module(
            version, commit, when.strftime("%Y-%m-%dT%H:%M:%SZ"), dep_versions
        ),
    }
    # nodedoctor's own licence travels with it too (the wheel has it in its dist-info).
    files = [*own_files(), ("licenses/nodedoctor/LICENSE", REPO / "LICENSE"), *deps]
    generated["__main__.py"] = main_module(build_id(files, generated))
    write_zipapp(args.output, files, generated, when)
    size = args.output.stat().st_size
    print(
        f"{args.output}: nodedoctor {version} ({commit}), {len(files) + len(generated)} files, "
        f"{size // 1024} KiB; vendored " + ", ".join(f"{n} {v}" for n, v in dep_versions)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
