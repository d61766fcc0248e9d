"""The messages marked for translation in nodedoctor's code: an AST scan of ``_()``,
``N_()`` and ``ngettext()`` calls with literal arguments (what GNU xgettext would find).

    python scripts/xgettext.py          # print a .pot template of them

tests/test_i18n.py holds every catalog to this list: a marked message missing from a .po
fails there.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "nodedoctor"


def messages(package: Path = PACKAGE) -> dict[tuple[str, str | None], list[str]]:
    """(msgid, msgid_plural or None) -> where each is used (``file:line``)."""
    found: dict[tuple[str, str | None], list[str]] = {}
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            args = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
            where = f"{path.relative_to(package.parent)}:{node.lineno}"
            key: tuple[str, str | None] | None = None
            if node.func.id in ("_", "N_") and len(args) == 1 and isinstance(args[0], str):
                key = (args[0], None)
            elif (
                node.func.id == "ngettext"
                and len(args) == 3
                and isinstance(args[0], str)
                and isinstance(args[1], str)
            ):
                key = (args[0], args[1])
            if key is not None:
                found.setdefault(key, []).append(where)
    return found


def _quote(text: str) -> str:
    """A PO string: one line per line of ``text``."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t")
    parts = escaped.split("\n")
    if len(parts) == 1:
        return f'"{parts[0]}"'
    lines = [f'"{p}\\n"' for p in parts[:-1]] + ([f'"{parts[-1]}"'] if parts[-1] else [])
    return '""\n' + "\n".join(lines)


def pot(found: dict[tuple[str, str | None], list[str]]) -> str:
    out = [
        'msgid ""',
        'msgstr ""',
        '"Content-Type: text/plain; charset=UTF-8\\n"',
        "",
    ]
    for (msgid, plural), where in found.items():
        out.append("#: " + " ".join(where))
        out.append("msgid " + _quote(msgid))
        if plural is None:
            out += ['msgstr ""', ""]
        else:
            out += ["msgid_plural " + _quote(plural), 'msgstr[0] ""', ""]
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(pot(messages()))
