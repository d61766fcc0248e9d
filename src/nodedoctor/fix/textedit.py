"""Format-preserving edits of line-oriented files: kernel command lines, ``/etc/default/grub``,
kubelet YAML, kubelet flag files and systemd drop-ins.

Each editor changes only what it must (a token, a value on one line, an appended line) and
verifies its own result by re-parsing; anything it cannot edit safely raises
:class:`EditError`, which the planner turns into a refusal that names the file.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

import yaml

from nodedoctor._record import record
from nodedoctor.i18n import N_, _


class EditError(Exception):
    """The file cannot be edited safely; the message says why (``path``: which file)."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path

    def at(self, path: str) -> EditError:
        """The same error, naming ``path``."""
        return EditError(f"{path}: {self}", path)


# -- kernel command lines -------------------------------------------------------------
_TOKEN = re.compile(r'(?:[^\s"]|"[^"]*")+')


# -- /etc/default/grub --------------------------------------------------------------
_GRUB_ASSIGN = re.compile(
    r"^(?P<lead>\s*(?:export\s+)?)(?P<name>GRUB_CMDLINE_LINUX(?:_DEFAULT)?)=(?P<value>.*)$"
)


def _grub_value(raw: str) -> tuple[str, str, str]:
    """Split a simple shell value into (quote, words, trailing comment)."""
    raw = raw.rstrip()
    m = re.match(r'^(?P<q>["\'])(?P<body>[^"\']*)(?P=q)(?P<rest>\s*(?:#.*)?)$', raw)
    if m:
        body, quote, rest = m.group("body"), m.group("q"), m.group("rest")
    else:
        m = re.match(r"^(?P<body>[^\s\"'#]*)(?P<rest>\s*(?:#.*)?)$", raw)
        if not m:
            raise EditError(_("value {value!r} is not a simple quoted string").format(value=raw))
        body, quote, rest = m.group("body"), '"', m.group("rest")
    if quote == '"' and re.search(r"[$`\\]", body):
        raise EditError(
            _("value {value!r} uses shell expansion; edit it by hand").format(value=raw)
        )
    return quote, body, rest


# -- kubelet YAML -------------------------------------------------------------------
def _load_mapping(text: str, what: str) -> dict[str, object]:
    stripped = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if stripped and stripped[0].lstrip().startswith("{"):
        raise EditError(_("{what} is flow-style (JSON); refusing a line edit").format(what=_(what)))
    if any(ln.rstrip() == "---" for ln in stripped[1:]) or any(
        ln.startswith("---") and ln.strip() != "---" for ln in stripped
    ):
        raise EditError(_("{what} holds several YAML documents").format(what=_(what)))
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise EditError(
            _("{what} is not valid YAML: {error}").format(what=_(what), error=exc)
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise EditError(_("{what} is not a YAML mapping").format(what=_(what)))
    return data


def _key_line(key: str) -> re.Pattern[str]:
    return re.compile(
        rf"^(?P<key>{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')"
        r"(?P<sep>[ \t]*:[ \t]*)(?P<value>[^#\n]*?)(?P<comment>[ \t]+#.*)?$"
    )


def set_yaml_key(text: str, key: str, value: str) -> str:
    """Set top-level ``key`` to the scalar ``value`` (YAML text), changing only its line.

    >>> print(set_yaml_key("kind: KubeletConfiguration\\ncgroupDriver: cgroupfs # x\\n",
    ...                    "cgroupDriver", "systemd"), end="")
    kind: KubeletConfiguration
    cgroupDriver: systemd # x
    >>> print(set_yaml_key("kind: KubeletConfiguration", "cgroupDriver", "systemd"), end="")
    kind: KubeletConfiguration
    cgroupDriver: systemd
    """
    before = _load_mapping(text, N_("the file"))
    wanted = yaml.safe_load(value)
    if before.get(key) == wanted and key in before:
        return text
    lines = text.splitlines(keepends=True)
    pattern = _key_line(key)
    hits = [i for i, ln in enumerate(lines) if pattern.match(ln.rstrip("\n"))]
    if len(hits) > 1:
        raise EditError(_("{key} is set on several lines").format(key=key))
    if hits:
        i = hits[0]
        m = pattern.match(lines[i].rstrip("\n"))
        if m is None or not m.group("value").strip():
            raise EditError(_("{key} has a block value on line {line}").format(key=key, line=i + 1))
        ending = "\n" if lines[i].endswith("\n") else ""
        lines[i] = f"{m.group('key')}{m.group('sep')}{value}{m.group('comment') or ''}{ending}"
    else:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines.append(f"{key}: {value}\n")
    out = "".join(lines)
    after = _load_mapping(out, N_("the edited file"))
    if after != {**before, key: wanted}:
        raise EditError(_("setting {key} on one line would change other keys").format(key=key))
    return out


def remove_yaml_key(text: str, key: str) -> str:
    """Remove top-level ``key`` and its value (one line, or its indented/list block).

    >>> print(remove_yaml_key("a: 1\\ncgroupsPerQOS: false\\nenforceNodeAllocatable:\\n"
    ...                       "- none\\nb: 2\\n", "enforceNodeAllocatable"), end="")
    a: 1
    cgroupsPerQOS: false
    b: 2
    """
    before = _load_mapping(text, N_("the file"))
    if key not in before:
        return text
    lines = text.splitlines(keepends=True)
    pattern = _key_line(key)
    hits = [i for i, ln in enumerate(lines) if pattern.match(ln.rstrip("\n"))]
    if len(hits) != 1:
        raise EditError(_("{key} is not on exactly one top-level line").format(key=key))
    start = hits[0]
    end = start + 1
    m = pattern.match(lines[start].rstrip("\n"))
    if m is None or not m.group("value").strip():
        while end < len(lines):
            ln = lines[end]
            if ln.strip() == "" or ln[0] in " \t" or ln.startswith("- ") or ln.rstrip() == "-":
                end += 1
                continue
            break
        while end > start + 1 and not lines[end - 1].strip():
            end -= 1
    del lines[start:end]
    out = "".join(lines)
    after = _load_mapping(out, N_("the edited file"))
    expected = {k: v for k, v in before.items() if k != key}
    if after != expected:
        raise EditError(_("removing {key} would change other keys").format(key=key))
    return out


# -- kubelet flags -------------------------------------------------------------------
def _flag_token(flag: str) -> str:
    return rf"{re.escape(flag)}(?:=(?:\"\"|''|\\\"\\\"|[^\s\"'\\]*))?(?=$|[\s\"'\\])"


def remove_flag(text: str, flag: str) -> str:
    """Remove every ``--flag`` / ``--flag=value`` token (args files and env files alike).

    A line left empty (or holding only a line continuation) goes away; otherwise the
    space that separated the token goes with it.

    >>> remove_flag('--kubeconfig=x\\n--cgroups-per-qos=false\\n--v=2\\n', '--cgroups-per-qos')
    '--kubeconfig=x\\n--v=2\\n'
    >>> remove_flag('ARGS="--a=1 --enforce-node-allocatable=\\"\\" --b"\\n',
    ...             '--enforce-node-allocatable')
    'ARGS="--a=1 --b"\\n'
    >>> remove_flag('ARGS="--cgroups-per-qos=false --b"\\n', '--cgroups-per-qos')
    'ARGS="--b"\\n'
    """
    token = _flag_token(flag)
    after_blank = re.compile(rf"[ \t]+{token}")
    at_start = re.compile(rf"(?:^|(?<=[\"']))[ \t]*{token}[ \t]*")
    out: list[str] = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\n")
        ending = line[len(body) :]
        if body.lstrip().startswith("#"):
            out.append(line)
            continue
        edited = at_start.sub("", after_blank.sub("", body))
        if edited == body:
            out.append(line)
        elif edited.strip() not in ("", "\\"):
            out.append(edited + ending)
    return "".join(out)


def set_flag_line(text: str, flag: str, value: str) -> str:
    """In a one-flag-per-line args file (MicroK8s ``args/kubelet``), set ``--flag=value``.

    >>> set_flag_line("--a=1\\n--cgroup-driver=cgroupfs\\n", "--cgroup-driver", "systemd")
    '--a=1\\n--cgroup-driver=systemd\\n'
    >>> set_flag_line("--a=1", "--cgroup-driver", "systemd")
    '--a=1\\n--cgroup-driver=systemd\\n'
    """
    lines = text.splitlines(keepends=True)
    pattern = re.compile(rf"^\s*{re.escape(flag)}(?:[=\s].*)?$")
    hits = [i for i, ln in enumerate(lines) if pattern.match(ln.rstrip("\n"))]
    if len(hits) > 1:
        raise EditError(_("{key} is set on several lines").format(key=flag))
    token = f"{flag}={value}"
    if hits:
        ending = "\n" if lines[hits[0]].endswith("\n") else ""
        lines[hits[0]] = token + ending
    else:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines.append(token + "\n")
    return "".join(lines)


# -- systemd ------------------------------------------------------------------------
def check_systemd_unit(text: str) -> None:
    """Raise :class:`EditError` unless ``text`` is a plausible unit file (sections, keys)."""
    section = None
    for lineno, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith(("#", ";")):
            continue
        if s.startswith("[") and s.endswith("]"):
            section = s
            continue
        if section is None or "=" not in s:
            raise EditError(
                _("line {line}: {text!r} is not a unit setting").format(line=lineno, text=s)
            )


# -- edits planned by remedies/boot.py (explicit positions) ----------------------------
@record
class TokenChange:
    """Replace (or with ``replacement`` ``None`` delete) the parameter at ``position``
    (1-based, among the parameters of the file or variable), which must read ``text``."""

    position: int
    text: str
    replacement: str | None


def _unquote(token: str) -> str:
    return token.replace('"', "")


def _change_tokens(
    tokens: list[str], changes: Sequence[TokenChange], offset: int = 0
) -> list[str | None]:
    out: list[str | None] = list(tokens)
    for c in changes:
        i = c.position - 1 - offset
        if not 0 <= i < len(tokens) or _unquote(tokens[i]) != c.text:
            raise EditError(
                _("parameter {position} is not {text!r} any more").format(
                    position=c.position, text=c.text
                )
            )
        out[i] = c.replacement
    return out


def edit_cmdline_lines(
    text: str,
    *,
    add: Sequence[str],
    changes: Sequence[TokenChange],
    add_line: int | None,
    join: bool,
) -> str:
    """Edit a command-line file (``cmdline.txt``, ``/etc/kernel/cmdline``) in place:
    change or delete parameters by position, append ``add`` to line ``add_line``, and with
    ``join`` make the file one line (later lines' words appended to the first). Lines not
    touched keep their exact text.

    >>> edit_cmdline_lines("console=tty1 cgroup_disable=memory rootwait\\n",
    ...                    add=["cgroup_enable=memory"],
    ...                    changes=[TokenChange(2, "cgroup_disable=memory", None)],
    ...                    add_line=1, join=False)
    'console=tty1 rootwait cgroup_enable=memory\\n'
    >>> edit_cmdline_lines("a b\\n\\nc\\n", add=[], changes=[], add_line=1, join=True)
    'a b c\\n'
    """
    lines = text.splitlines(keepends=True)
    params_seen = 0
    new_tokens: dict[int, list[str]] = {}
    for index, line in enumerate(lines):
        body = line.rstrip("\r\n")
        if not body.strip():
            continue
        if body.count('"') % 2:
            raise EditError(_("line {line}: unbalanced quote").format(line=index + 1))
        tokens = _TOKEN.findall(body)
        mine = [c for c in changes if params_seen < c.position <= params_seen + len(tokens)]
        changed = _change_tokens(tokens, mine, params_seen)
        kept = [t for t in changed if t is not None]
        if add_line == index + 1:
            kept.extend(add)
        if mine or add_line == index + 1:
            new_tokens[index] = kept
        params_seen += len(tokens)
    if any(c.position > params_seen for c in changes):
        raise EditError(_("the file has fewer parameters than planned"))
    if add and add_line is None:
        raise EditError(_("no line to add the parameters to"))
    out: list[str] = []
    first: int | None = None
    for index, line in enumerate(lines):
        body = line.rstrip("\r\n")
        ending = line[len(body) :]
        if not body.strip():
            if not join:
                out.append(line)
            continue
        edited = new_tokens.get(index)
        if join:
            words = edited if edited is not None else _TOKEN.findall(body)
            if first is None:
                first = len(out)
                out.append(" ".join(words) + (ending or ""))
            else:
                head = out[first]
                head_body = head.rstrip("\r\n")
                joined = " ".join(w for w in [head_body, *words] if w)
                out[first] = joined + head[len(head_body) :]
            continue
        if edited is None:
            out.append(line)
        elif edited:
            out.append(" ".join(edited) + ending)
    result = "".join(out)
    if join and text.endswith("\n") and not result.endswith("\n"):
        result += "\n"
    return result


def edit_grub_variable(
    text: str,
    variable: str,
    line: int | None,
    *,
    add: Sequence[str],
    changes: Sequence[TokenChange],
) -> str:
    """Edit the words of ``variable`` assigned on ``line`` (1-based) of a GRUB defaults
    file; positions count within the variable. With ``line`` ``None`` the variable is
    appended as a new assignment holding ``add``.

    >>> print(edit_grub_variable('GRUB_CMDLINE_LINUX="quiet cgroup_disable=memory"\\n',
    ...       "GRUB_CMDLINE_LINUX", 1, add=[],
    ...       changes=[TokenChange(2, "cgroup_disable=memory", None)]), end="")
    GRUB_CMDLINE_LINUX="quiet"
    """
    lines = text.splitlines(keepends=True)
    if line is None:
        if changes:
            raise EditError(_("{variable} is not set here").format(variable=variable))
        if not add:
            return text
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines.append(f'{variable}="{" ".join(add)}"\n')
        return "".join(lines)
    if not 1 <= line <= len(lines):
        raise EditError(_("line {line} does not exist").format(line=line))
    raw = lines[line - 1]
    body = raw.rstrip("\n")
    ending = raw[len(body) :]
    if body.endswith("\\"):
        raise EditError(
            _("line {line}: {variable} continues on the next line").format(
                line=line, variable=variable
            )
        )
    m = _GRUB_ASSIGN.match(body)
    if m is None or m.group("name") != variable:
        raise EditError(
            _("line {line} does not assign {variable}").format(line=line, variable=variable)
        )
    quote, value, rest = _grub_value(m.group("value"))
    try:
        words = shlex.split(value)
    except ValueError as exc:
        raise EditError(_("line {line}: {error}").format(line=line, error=exc)) from None
    kept = [w for w in _change_tokens(words, changes) if w is not None]
    kept.extend(add)
    if kept == words:
        return text
    joined = " ".join(kept)
    if quote == "'" and "'" in joined:
        raise EditError(_("line {line}: cannot quote the new value").format(line=line))
    lines[line - 1] = f"{m.group('lead')}{variable}={quote}{joined}{quote}{rest}{ending}"
    return "".join(lines)
