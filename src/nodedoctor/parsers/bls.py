"""Boot Loader Specification (Type #1) entries and the GRUB environment block.

RHEL/Rocky/Alma 8+ boot with GRUB's ``blscfg``: each kernel has an entry file
``/boot/loader/entries/<machine-id>-<version>.conf`` whose ``options`` lines are its kernel
command line; RHEL 8 entries often say ``options $kernelopts $tuned_params`` and GRUB expands
the variables from ``/boot/grub2/grubenv``.

Sources:

- UAPI Group, "The Boot Loader Specification" (uapi-group/specifications,
  specs/boot_loader_specification.md; formerly systemd docs/BOOT_LOADER_SPECIFICATION.md):
  "Lines beginning with '#' are used for comments and shall be ignored. The first word of a
  line is used as key and is separated by one or more spaces from the value"; ``options``
  "may appear more than once in which case all specified parameters are combined in the
  order they are listed"; an entry "must include at least a linux or an efi key"; the file
  name identifies the entry.
- What RHEL's GRUB really does differs (rhboot/grub2, grub-core/commands/blscfg.c, since
  2.12 blsuki.c): ``read_entry`` skips file names starting with ``.``;
  ``create_entry_bls_config`` takes ``options = expand_val (bls_get_val (entry, "options",
  NULL))``, the FIRST ``options`` line only (``bls_get_val`` returns the first value of a
  key), and an entry without one gets ``expand_val (grub_env_get ("default_kernelopts"))``
  (set in grub.cfg); ``expand_val`` replaces ``$name`` (letters, digits, ``_``) by the GRUB
  variable, nothing when unset, and knows no ``${name}`` form. Where the specification and
  GRUB disagree (several ``options`` lines, none, ``${name}``) the caller must not infer the
  command line (facts/boot/entries.py ``boot_entries``).
- Red Hat, RHEL 8 "Managing, monitoring and updating the kernel", 4.2 "What boot entries
  are": an entry's ``options $kernelopts $tuned_params``; "The kernelopts environment
  variable is defined in the /boot/grub2/grubenv file".
- GNU GRUB manual, 15.2 "The GRUB environment block": a preallocated 1024-byte file written
  by ``grub-editenv``; grub-core/lib/envblk.c: the block starts with the signature
  ``# GRUB Environment Block``, then ``name=value`` lines (a backslash escapes ``\\`` and a
  newline in a value), then ``#`` padding up to the block size.

>>> e = parse_bls_entry('title Rocky Linux\\nversion 5.14.0-362.el9.x86_64\\n'
...                     'linux /vmlinuz-5.14.0-362.el9.x86_64\\n'
...                     'options root=/dev/mapper/rl-root ro cgroup_disable=memory\\n')
>>> e.first('version'), [(o.line, o.value) for o in e.options]
('5.14.0-362.el9.x86_64', [(4, 'root=/dev/mapper/rl-root ro cgroup_disable=memory')])
>>> env = parse_grubenv('# GRUB Environment Block\\nkernelopts=root=/dev/vda2 ro\\n' + '#' * 20)
>>> env['kernelopts'].value, env['kernelopts'].line
('root=/dev/vda2 ro', 2)
>>> expand_variables('$kernelopts $tuned_params', {'kernelopts': 'ro quiet'})
('ro quiet ', ('tuned_params',))
"""

from __future__ import annotations

import re

from nodedoctor._record import record
from nodedoctor.parsers import ParseError

#: What a BLS key looks like (the spec's keys and the Fedora/GRUB ones such as
#: ``grub_users``, ``machine-id``).
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*\Z")
#: The variable references GRUB's blscfg ``expand_val`` replaces: ``$`` and the letters,
#: digits and ``_`` after it (``grub_isalnum (*value) == 0 && *value != '_'`` ends a name).
_VARIABLE = re.compile(r"\$([A-Za-z0-9_]+)")
#: ``${...}``: a shell/grub.cfg form that ``expand_val`` does not know.
_BRACED = re.compile(r"\$\{([^}]*)\}?")
GRUBENV_SIGNATURE = "# GRUB Environment Block"


@record
class BlsLine:
    """One ``key value`` line of an entry (1-based ``line``; ``text`` as written)."""

    key: str
    value: str
    line: int
    text: str


@record
class BlsEntry:
    lines: tuple[BlsLine, ...]

    def first(self, key: str) -> str | None:
        """The value of the first ``key`` line, or ``None``."""
        return next((ln.value for ln in self.lines if ln.key == key), None)

    @property
    def options(self) -> tuple[BlsLine, ...]:
        """Every ``options`` line, in order. The specification combines them all; RHEL's
        GRUB (blscfg ``create_entry_bls_config``/``bls_get_val``) reads only the first."""
        return tuple(ln for ln in self.lines if ln.key == "options")

    @property
    def bootable(self) -> bool:
        """The spec's minimum: a ``linux`` or an ``efi`` key."""
        return any(ln.key in ("linux", "efi") for ln in self.lines)


def parse_bls_entry(text: str) -> BlsEntry:
    """A Type #1 entry file: ``key value`` lines, ``#`` comments, blank lines.

    >>> parse_bls_entry('# comment\\n\\ntitle  Fedora 19\\nlinux /vmlinuz\\n').first('title')
    'Fedora 19'
    >>> parse_bls_entry('title x\\noptions=quiet\\n')
    Traceback (most recent call last):
    nodedoctor.parsers.ParseError: line 2: not a BLS "key value" line: 'options=quiet'
    """
    out: list[BlsLine] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = stripped.split(None, 1)
        key = parts[0]
        if not _KEY.match(key):
            raise ParseError(f'not a BLS "key value" line: {stripped[:60]!r}', lineno)
        value = parts[1].strip() if len(parts) > 1 else ""
        out.append(BlsLine(key, value, lineno, line))
    return BlsEntry(tuple(out))


@record
class EnvVar:
    value: str
    line: int
    text: str


def _unescape(raw: str, lineno: int) -> str:
    out: list[str] = []
    chars = iter(raw)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, None)
            if nxt is None:
                raise ParseError("value ends with a lone backslash", lineno)
            out.append(nxt)
        else:
            out.append(ch)
    return "".join(out)


def parse_grubenv(text: str) -> dict[str, EnvVar]:
    """A GRUB environment block: the signature line, ``name=value`` lines, ``#`` padding.

    >>> sorted(parse_grubenv('# GRUB Environment Block\\nsaved_entry=abc-5.14\\n'
    ...                      'boot_success=0\\n########\\n'))
    ['boot_success', 'saved_entry']
    >>> parse_grubenv('saved_entry=abc\\n')
    Traceback (most recent call last):
    nodedoctor.parsers.ParseError: line 1: no "# GRUB Environment Block" signature
    """
    lines = text.split("\n")
    if not lines or lines[0].rstrip("\r") != GRUBENV_SIGNATURE:
        raise ParseError(f'no "{GRUBENV_SIGNATURE}" signature', 1)
    out: dict[str, EnvVar] = {}
    lineno = 1
    pending: list[str] = []  # a value continued after an escaped newline
    start = 0
    for lineno, line in enumerate(lines[1:], 2):
        if pending:
            pending.append(line)
        elif not line or line.startswith("#"):
            continue
        else:
            pending, start = [line], lineno
        joined = "\n".join(pending)
        trailing = len(joined) - len(joined.rstrip("\\"))
        if trailing % 2:
            continue  # "\" + newline: the value goes on
        pending = []
        name, sep, raw = joined.partition("=")
        if not sep or not re.match(r"[A-Za-z0-9_.-]+\Z", name):
            raise ParseError(f"not a name=value line: {joined[:60]!r}", start)
        out[name] = EnvVar(_unescape(raw, start), start, joined)
    if pending:
        raise ParseError("value ends with a lone backslash", start)
    return out


def expand_variables(text: str, env: dict[str, str]) -> tuple[str, tuple[str, ...]]:
    """GRUB blscfg ``expand_val``-style ``$name`` expansion of an ``options`` value: the
    expanded text and the names that ``env`` does not define (expanded to nothing, as GRUB
    does for an unset variable; the caller decides whether that is known). ``${name}`` is
    not a reference here (see :func:`braced_variables`).

    >>> expand_variables('$kernelopts quiet', {'kernelopts': 'root=/dev/sda1'})
    ('root=/dev/sda1 quiet', ())
    """
    missing: list[str] = []

    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in env:
            return env[name]
        if name not in missing:
            missing.append(name)
        return ""

    return _VARIABLE.sub(one, text), tuple(missing)


def braced_variables(text: str) -> tuple[str, ...]:
    """The ``${...}`` references in ``text``, as written: GRUB's blscfg ``expand_val``
    expands only ``$name``, so what such a line gives the kernel is not inferred.

    >>> braced_variables('${kernelopts} $tuned_params ${x')
    ('${kernelopts}', '${x')
    """
    return tuple(m.group(0) for m in _BRACED.finditer(text))
