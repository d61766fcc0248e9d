"""The files containerd reads: the top file and its ``imports``, breadth first, each once, as
containerd's LoadConfig does (research runtimes.md §1)."""

from __future__ import annotations

import posixpath

from nodedoctor.facts import Facts
from nodedoctor.facts.containerd.model import LoadedFile
from nodedoctor.parsers import ParseError
from nodedoctor.parsers.containerd import parse_containerd_config

MAX_FILES = 64


def _resolve(
    facts: Facts, parent: str, pattern: str, glob_from_cwd: bool, failed: list[str]
) -> list[str]:
    """containerd's resolveImports: a pattern with ``*`` is globbed, anything else is one path
    (which must exist). A relative path is joined to the importing file's directory, except
    that containerd 1.x globs a relative pattern from its working directory (``/`` under
    systemd); checked with the Debian containerd 1.6.20."""
    relative = not pattern.startswith("/")
    is_glob = "*" in pattern
    if relative and is_glob and glob_from_cwd:
        full = posixpath.join("/", pattern)
    elif relative:
        full = posixpath.join(posixpath.dirname(parent), pattern)
    else:
        full = pattern
    full = posixpath.normpath(full)
    if not is_glob:
        return [full]
    directory, name = posixpath.split(full)
    if any(c in directory for c in "*?["):
        return []  # a wildcard in a directory part is not modelled
    paths = facts.drop_ins(directory, name)
    if facts.parse_failed(directory):
        failed.append(directory)
    return paths


def load_files(
    facts: Facts,
    top: str,
    text_of: dict[str, str] | None = None,
    glob_from_cwd: bool = False,
    *,
    missing: list[tuple[str, str]] | None = None,
    failed: list[str] | None = None,
) -> list[LoadedFile]:
    """The top file and its imports, breadth first, each once (containerd's LoadConfig);
    ``text_of`` gives a file's text as its deployer renders it. Imported paths that do not
    exist are added to ``missing`` as (path, importing file); files that cannot be parsed,
    and import directories that cannot be read whole, to ``failed``."""
    failed = [] if failed is None else failed
    out: list[LoadedFile] = []
    pending: list[tuple[str, str | None]] = [(top, None)]
    seen: set[str] = set()
    while pending and len(out) < MAX_FILES:
        path, parent = pending.pop(0)
        if path in seen:
            continue
        seen.add(path)
        if text_of is not None and path in text_of:
            try:
                config = parse_containerd_config(text_of[path])
            except ParseError as exc:
                facts.record_problem(path, exc.line, exc.message)
                failed.append(path)
                continue
        else:
            parsed = facts.parse(path, parse_containerd_config)
            if parsed is None:
                if facts.parse_failed(path):
                    failed.append(path)
                elif parent is not None and missing is not None and not facts.root.exists(path):
                    missing.append((path, parent))
                continue
            config = parsed
        out.append(LoadedFile(path=path, config=config, imported_by=parent))
        imports = config.get(("imports",))
        if isinstance(imports, list):
            for pattern in imports:
                if isinstance(pattern, str):
                    found = _resolve(facts, path, pattern, glob_from_cwd, failed)
                    pending.extend((p, path) for p in found)
    return out


def relative_globs(files: list[LoadedFile]) -> list[tuple[LoadedFile, str]]:
    """The relative import globs (which 1.x expands from its working directory), by file."""
    out: list[tuple[LoadedFile, str]] = []
    for f in files:
        imports = f.config.get(("imports",))
        if isinstance(imports, list):
            out.extend((f, p) for p in imports if isinstance(p, str) and "*" in p and p[:1] != "/")
    return out
