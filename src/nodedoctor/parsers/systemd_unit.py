"""systemd unit files, drop-ins and ``EnvironmentFile=`` files, read as systemd reads them.

A unit file is a list of assignments, each with its section and line (a backslash at the end
of a line continues it, and systemd replaces the backslash with a space):

>>> unit = parse_unit_file('''[Service]
... Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
... EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
... ExecStart=
... ExecStart=/usr/bin/kubelet $KUBELET_CONFIG_ARGS \\\\
...     $KUBELET_KUBEADM_ARGS
... ''')
>>> [(a.key, a.line) for a in unit.assignments]
[('Environment', 2), ('EnvironmentFile', 3), ('ExecStart', 4), ('ExecStart', 5)]
>>> unit.assignments[-1].value
'/usr/bin/kubelet $KUBELET_CONFIG_ARGS      $KUBELET_KUBEADM_ARGS'

systemd does not refuse a malformed line: it logs and ignores it, and so does this parser
(the lines are kept in ``ignored``); nothing here raises.

Environment files follow systemd's own rules (not a shell's): quotes, backslash escapes and
multi-line double-quoted values, as Kubespray's ``kubelet.env`` uses:

>>> env = parse_environment_file('KUBELET_ARGS="--config=/etc/kubernetes/kubelet.yaml \\\\\\n'
...                              '--v=2 "\\n# comment\\nPATH=/usr/bin\\n')
>>> env["KUBELET_ARGS"].value, env["KUBELET_ARGS"].line, env["PATH"].line
('--config=/etc/kubernetes/kubelet.yaml --v=2 ', 1, 4)
"""

from __future__ import annotations

from collections.abc import Sequence

from nodedoctor._record import field, record
from nodedoctor.parsers import ParseError


@record
class UnitAssignment:
    section: str
    key: str
    value: str
    line: int
    #: The assignment as written (continuation lines joined with a newline).
    text: str


@record
class UnitFile:
    assignments: tuple[UnitAssignment, ...]
    ignored: tuple[tuple[int, str], ...] = field(default=())

    def values(self, section: str, key: str) -> list[UnitAssignment]:
        return [a for a in self.assignments if a.section == section and a.key == key]


def parse_unit_file(text: str) -> UnitFile:
    assignments: list[UnitAssignment] = []
    ignored: list[tuple[int, str]] = []
    section: str | None = None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        start = i
        raw = lines[i]
        i += 1
        stripped = raw.strip()
        if not stripped or stripped[0] in "#;":
            continue
        parts = [stripped]
        raw_parts = [raw]
        # A trailing backslash continues the line; comment lines inside are skipped.
        while parts[-1].endswith("\\") and i < len(lines):
            parts[-1] = parts[-1][:-1]
            nxt = lines[i]
            i += 1
            if nxt.strip()[:1] in ("#", ";"):
                continue
            raw_parts.append(nxt)
            parts.append(nxt)
        if parts[-1].endswith("\\"):
            parts[-1] = parts[-1][:-1]
        joined = " ".join(parts)
        if stripped.startswith("["):
            if stripped.endswith("]") and len(stripped) > 2:
                section = stripped[1:-1]
            else:
                ignored.append((start + 1, "invalid section header"))
            continue
        key, sep, value = joined.partition("=")
        if not sep:
            ignored.append((start + 1, "missing '=', ignoring line"))
            continue
        if section is None:
            ignored.append((start + 1, "assignment outside of section, ignoring"))
            continue
        assignments.append(
            UnitAssignment(section, key.strip(), value.strip(), start + 1, "\n".join(raw_parts))
        )
    return UnitFile(tuple(assignments), tuple(ignored))


# --------------------------------------------------------------------------------------
# Quoting as systemd does it (extract_first_word with EXTRACT_UNQUOTE | EXTRACT_CUNESCAPE)

_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", " ": " ", "$": "$"}


def split_words(text: str) -> list[str]:
    """Words of a unit-file value: whitespace separates, quotes group, backslash escapes.

    >>> split_words('"KUBELET_EXTRA_ARGS=--node-ip=10.0.0.5 --v=2" A=b \\'c d\\'')
    ['KUBELET_EXTRA_ARGS=--node-ip=10.0.0.5 --v=2', 'A=b', 'c d']
    >>> split_words('--enforce-node-allocatable=""')
    ['--enforce-node-allocatable=']
    """
    words: list[str] = []
    current: list[str] = []
    started = False
    quote: str | None = None
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            current.append(_ESCAPES.get(text[i + 1], text[i + 1]))
            started = True
            i += 2
            continue
        if quote:
            if ch == quote:
                quote = None
            else:
                current.append(ch)
        elif ch in "\"'":
            quote = ch
            started = True
        elif ch.isspace():
            if started:
                words.append("".join(current))
                current, started = [], False
        else:
            current.append(ch)
            started = True
        i += 1
    if started:
        words.append("".join(current))
    return words


def parse_environment_assignments(value: str) -> list[tuple[str, str]]:
    """An ``Environment=`` value: space-separated ``NAME=value`` words (quotes group).

    >>> parse_environment_assignments('"A=--x=1 --y" B=2')
    [('A', '--x=1 --y'), ('B', '2')]
    """
    out: list[tuple[str, str]] = []
    for word in split_words(value):
        name, sep, val = word.partition("=")
        if sep and name:
            out.append((name, val))
    return out


@record
class EnvAssignment:
    value: str
    line: int
    #: The physical lines of the assignment, first to last.
    lines: tuple[str, ...]

    def locate(self, needle: str) -> tuple[int, str]:
        """The line number and text of the physical line holding ``needle`` (the first if none)."""
        for offset, text in enumerate(self.lines):
            if needle in text:
                return self.line + offset, text.strip()
        return self.line, self.lines[0].strip() if self.lines else ""


def parse_environment_file(text: str) -> dict[str, EnvAssignment]:
    """An ``EnvironmentFile=`` (systemd's ``load_env_file``): ``KEY=VALUE`` per assignment,
    ``#``/``;`` comment lines, single quotes literal, double quotes with backslash escapes,
    a backslash before a newline continues the value. Lines that are not assignments raise
    ParseError (systemd ignores them with a warning, but they are almost always a mistake).
    """
    out: dict[str, EnvAssignment] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        start = i
        line = lines[i].lstrip()
        i += 1
        if not line or line[0] in "#;":
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        name, sep, rest = line.partition("=")
        name = name.strip()
        if not sep or not name or not name.replace("_", "a").isalnum() or name[0].isdigit():
            raise ParseError(f"not a KEY=value assignment: {line.strip()[:60]!r}", start + 1)
        value: list[str] = []
        quoted_end = 0
        physical = [lines[start]]
        quote: str | None = None
        buf = rest.lstrip()
        while True:
            j = 0
            continued = False
            while j < len(buf):
                ch = buf[j]
                if quote == "'":
                    if ch == "'":
                        quote = None
                        quoted_end = len(value)
                    else:
                        value.append(ch)
                elif quote == '"':
                    if ch == '"':
                        quote = None
                        quoted_end = len(value)
                    elif ch == "\\":
                        if j + 1 < len(buf):
                            nxt = buf[j + 1]
                            value.append(nxt if nxt in '"\\`$' else "\\" + nxt)
                            j += 1
                        else:
                            continued = True
                    else:
                        value.append(ch)
                elif ch in "'\"":
                    quote = ch
                elif ch == "\\":
                    if j + 1 < len(buf):
                        value.append(buf[j + 1])
                        j += 1
                    else:
                        continued = True
                else:
                    value.append(ch)
                j += 1
            if quote is None and not continued:
                break
            if i >= len(lines):
                if quote is not None:
                    raise ParseError(f"{name}: unterminated {quote} quote", start + 1)
                break
            if quote is not None and not continued:
                value.append("\n")
            buf = lines[i]
            physical.append(lines[i])
            i += 1
        # Whitespace after the last closing quote is dropped, inside quotes it is kept.
        text_value = "".join(value[:quoted_end]) + "".join(value[quoted_end:]).rstrip()
        out[name] = EnvAssignment(text_value, start + 1, tuple(physical))
    return out


# --------------------------------------------------------------------------------------
# Merging a unit with its drop-ins


@record
class PlacedAssignment:
    """An assignment and the file it is in."""

    path: str
    assignment: UnitAssignment


@record
class EffectiveService:
    """The ``[Service]`` settings of a unit after its drop-ins, as systemd merges them."""

    exec_start: tuple[PlacedAssignment, ...]
    environment: dict[str, tuple[str, PlacedAssignment]]
    environment_files: tuple[tuple[str, bool, PlacedAssignment], ...]
    delegate: PlacedAssignment | None
    files: tuple[str, ...]


def merge_service(files: Sequence[tuple[str, UnitFile]]) -> EffectiveService:
    """Merge the unit then its drop-ins (already in systemd's order). ``ExecStart=``,
    ``Environment=`` and ``EnvironmentFile=`` with an empty value reset the list so far; a later
    ``Environment=`` of the same name wins; ``Delegate=`` is last-wins.

    >>> base = parse_unit_file("[Service]\\nExecStart=/usr/bin/kubelet\\n")
    >>> drop = parse_unit_file("[Service]\\nExecStart=\\nExecStart=/usr/bin/kubelet $A\\n"
    ...                        "EnvironmentFile=-/etc/default/kubelet\\nDelegate=yes\\n")
    >>> svc = merge_service([("/lib/kubelet.service", base), ("/etc/d/10.conf", drop)])
    >>> [p.assignment.value for p in svc.exec_start], svc.environment_files[0][:2]
    (['/usr/bin/kubelet $A'], ('/etc/default/kubelet', True))
    >>> svc.delegate.assignment.value
    'yes'
    """
    exec_start: list[PlacedAssignment] = []
    environment: dict[str, tuple[str, PlacedAssignment]] = {}
    env_files: list[tuple[str, bool, PlacedAssignment]] = []
    delegate: PlacedAssignment | None = None
    for path, unit in files:
        for a in unit.assignments:
            if a.section != "Service":
                continue
            placed = PlacedAssignment(path, a)
            if a.key == "ExecStart":
                if not a.value:
                    exec_start = []
                else:
                    exec_start.append(placed)
            elif a.key == "Environment":
                if not a.value:
                    environment = {}
                for name, val in parse_environment_assignments(a.value):
                    environment[name] = (val, placed)
            elif a.key == "EnvironmentFile":
                if not a.value:
                    env_files = []
                else:
                    optional = a.value.startswith("-")
                    env_files.append((a.value.lstrip("-").strip(), optional, placed))
            elif a.key == "Delegate":
                delegate = placed
    return EffectiveService(
        tuple(exec_start), environment, tuple(env_files), delegate, tuple(p for p, _ in files)
    )


@record
class ExpandedWord:
    word: str
    #: The environment variable the word came from, if any.
    variable: str | None


def _is_name(text: str) -> bool:
    return bool(text) and text.replace("_", "a").isalnum()


def expand_exec(command: str, env: dict[str, str]) -> list[ExpandedWord]:
    """Split ``ExecStart=`` and expand variables as systemd does: a word that is exactly
    ``$NAME`` becomes the value split at whitespace (nothing if unset or empty); ``${NAME}``
    is substituted in place as one word. The executable's prefixes (``-@:+!``) are dropped.

    >>> env = {"A": "--x=1  --y", "B": "b c"}
    >>> [w.word for w in expand_exec("/usr/bin/kubelet $A ${B} $C", env)]
    ['/usr/bin/kubelet', '--x=1', '--y', 'b c']
    """
    out: list[ExpandedWord] = []
    words = split_words(command)
    for index, written in enumerate(words):
        word = written.lstrip("-@:+!") if index == 0 else written
        name = word[1:]
        if word.startswith("$") and name.replace("_", "a").isalnum():
            out.extend(ExpandedWord(part, name) for part in env.get(name, "").split())
            continue
        variable: str | None = None
        while "${" in word:
            head, _, tail = word.partition("${")
            inner, closed, rest = tail.partition("}")
            if not closed:
                break
            variable = inner
            word = head + env.get(inner, "") + rest
        out.append(ExpandedWord(word, variable))
    return out
