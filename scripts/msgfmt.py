"""Compile gettext catalogs (.po) into the binary form stdlib ``gettext`` reads (.mo).

    python scripts/msgfmt.py            # every src/nodedoctor/locale/*/LC_MESSAGES/*.mo
    python scripts/msgfmt.py --check    # exit 1 when a committed .mo differs from its .po

A language's catalog is ``locale/<lang>/LC_MESSAGES/nodedoctor.po`` (the interface, with the
header) and the parts in ``locale/<lang>/po/*.po`` (one per area of the code, so that work on
different areas never touches the same file), compiled together into one
``LC_MESSAGES/nodedoctor.mo``, as GNU ``msgfmt -o nodedoctor.mo nodedoctor.po po/*.po``
does. A message in two of them is an error naming both.

Pure Python, so that the project's build needs no gettext tools (Debian's ``gettext``
package); CPython's own ``Tools/i18n/msgfmt.py`` is not part of the standard library.
What it reads is the subset of the PO format the project writes: comments, the ``fuzzy``
flag (such entries are left out, as GNU msgfmt does), ``msgctxt``, ``msgid``,
``msgid_plural``, ``msgstr`` and ``msgstr[N]``, strings continued over several lines, the C
escapes. The output is GNU's .mo layout without the optional hash table (GNU msgfmt's own
output has one; both read back the same: tests/test_i18n.py compares them with ``msgunfmt``).
"""

from __future__ import annotations

import ast
import struct
import sys
from pathlib import Path

LOCALE = Path(__file__).resolve().parent.parent / "src" / "nodedoctor" / "locale"


class PoError(ValueError):
    """A .po file this compiler cannot read: the message names the file and line."""


def parse_po(text: str, name: str = "<po>") -> dict[bytes, bytes]:
    """The catalog of a .po file: msgid (with ``msgctxt`` and ``\\x04`` before it, plural
    forms joined by NUL) to msgstr, the untranslated and fuzzy entries left out.

    >>> parse_po('msgid ""\\nmsgstr "X: 1\\\\n"\\n\\nmsgid "a"\\nmsgstr ""\\n"b"\\n')
    {b'': b'X: 1\\n', b'a': b'b'}
    """
    catalog: dict[bytes, bytes] = {}
    entry: dict[str, list[str]] = {}
    fuzzy = False
    section: str | None = None

    def finish() -> None:
        nonlocal entry, fuzzy
        if "msgid" in entry and not fuzzy:
            msgid = "".join(entry["msgid"])
            if "msgid_plural" in entry:
                msgid += "\0" + "".join(entry["msgid_plural"])
                forms = sorted(k for k in entry if k.startswith("msgstr["))
                msgstr = "\0".join("".join(entry[k]) for k in forms)
            else:
                msgstr = "".join(entry.get("msgstr", []))
            if "msgctxt" in entry:
                msgid = "".join(entry["msgctxt"]) + "\x04" + msgid
            if msgstr.replace("\0", ""):  # untranslated: left out, as GNU msgfmt does
                catalog[msgid.encode("utf-8")] = msgstr.encode("utf-8")
        entry, fuzzy = {}, False

    def translated() -> bool:
        return any(k.startswith("msgstr") for k in entry)

    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):  # comments come before their entry
            if translated():
                finish()
            if line.startswith("#,") and "fuzzy" in line[2:].replace(",", " ").split():
                fuzzy = True
            continue
        if line.startswith('"'):
            if section is None:
                raise PoError(f"{name}:{number}: a string continues no keyword")
            entry[section].append(_string(line, name, number))
            continue
        keyword, _, rest = line.partition(" ")
        if keyword not in ("msgctxt", "msgid", "msgid_plural", "msgstr") and not (
            keyword.startswith("msgstr[") and keyword.endswith("]") and keyword[7:-1].isdigit()
        ):
            raise PoError(f"{name}:{number}: unknown keyword {keyword!r}")
        if keyword in ("msgctxt", "msgid") and translated():
            finish()
        if keyword in entry:
            raise PoError(f"{name}:{number}: {keyword} twice in one entry")
        section = keyword
        entry[section] = [_string(rest.strip(), name, number)]
    finish()
    return catalog


def _string(token: str, name: str, number: int) -> str:
    if len(token) < 2 or not (token.startswith('"') and token.endswith('"')):
        raise PoError(f"{name}:{number}: expected a quoted string, got {token!r}")
    try:
        value = ast.literal_eval(token)  # the C escapes PO uses are Python's
    except (ValueError, SyntaxError):
        raise PoError(f"{name}:{number}: malformed string {token!r}") from None
    if not isinstance(value, str):
        raise PoError(f"{name}:{number}: malformed string {token!r}")
    return value


def mo_bytes(catalog: dict[bytes, bytes]) -> bytes:
    """The .mo file of ``catalog``: GNU's little-endian layout, keys sorted, no hash table."""
    keys = sorted(catalog)
    header = 7 * 4
    originals_at = header
    translations_at = originals_at + 8 * len(keys)
    strings_at = translations_at + 8 * len(keys)
    originals, translations, blob = [], [], b""
    for key in keys:
        originals.append((len(key), strings_at + len(blob)))
        blob += key + b"\0"
    for key in keys:
        value = catalog[key]
        translations.append((len(value), strings_at + len(blob)))
        blob += value + b"\0"
    out = struct.pack("<7I", 0x950412DE, 0, len(keys), originals_at, translations_at, 0, 0)
    out += b"".join(struct.pack("<2I", *pair) for pair in originals)
    out += b"".join(struct.pack("<2I", *pair) for pair in translations)
    return out + blob


def sources(mo: Path) -> list[Path]:
    """The .po files compiled into ``mo``: its own .po, then its language's parts."""
    parts = mo.parent.parent / "po"
    return [mo.with_suffix(".po"), *sorted(parts.glob("*.po"))]


def merged(paths: list[Path]) -> dict[bytes, bytes]:
    """The catalog of several .po files: the first one's header; a message twice is an
    error naming both files."""
    catalog: dict[bytes, bytes] = {}
    where: dict[bytes, Path] = {}
    for path in paths:
        for key, value in parse_po(path.read_text(encoding="utf-8"), str(path)).items():
            if key in where and key:
                shown = key.decode("utf-8", "replace")
                raise PoError(f"{path}: msgid {shown!r} is also in {where[key]}")
            if key or not catalog.get(b""):
                catalog[key] = value
                where[key] = path
    return catalog


def compile_po(po: Path) -> bytes:
    """The .mo of catalog ``po`` (``LC_MESSAGES/nodedoctor.po``) with its parts."""
    return mo_bytes(merged(sources(po.with_suffix(".mo"))))


def catalogs() -> list[Path]:
    return sorted(LOCALE.glob("*/LC_MESSAGES/*.po"))


def main(argv: list[str]) -> int:
    check = argv == ["--check"]
    if argv and not check:
        print(__doc__, file=sys.stderr)
        return 2
    stale = []
    for po in catalogs():
        mo = po.with_suffix(".mo")
        try:
            data = compile_po(po)
        except PoError as exc:
            print(f"msgfmt: {exc}", file=sys.stderr)
            return 1
        if check:
            if not mo.is_file() or mo.read_bytes() != data:
                stale.append(mo)
        else:
            mo.write_bytes(data)
    for mo in stale:
        print(f"{mo}: differs from its .po (run scripts/msgfmt.py)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
