"""Kubelet configuration: the ``KubeletConfiguration`` YAML file and kubelet command-line flags.

The YAML file keeps, for every key, the line it is on, so a finding can name it:

>>> cfg = parse_kubelet_config('''apiVersion: kubelet.config.k8s.io/v1beta1
... kind: KubeletConfiguration
... cgroupDriver: systemd
... featureGates:
...   KubeletCgroupDriverFromCRI: true
... memorySwap:
...   swapBehavior: LimitedSwap
... ''')
>>> cfg.kind, cfg.get("cgroupDriver").value, cfg.get("cgroupDriver").line
('KubeletConfiguration', 'systemd', 3)
>>> e = cfg.get("featureGates.KubeletCgroupDriverFromCRI"); e.value, e.line, e.text
(True, 5, 'KubeletCgroupDriverFromCRI: true')
>>> parse_kubelet_config("cgroupDriver: systemd\\n  bad: [\\n")
Traceback (most recent call last):
...
nodedoctor.parsers.ParseError: line 2: mapping values are not allowed here

Flags are parsed as the kubelet's pflag parses them: ``--key=value``, ``--key value`` for
non-boolean flags, a bare boolean means ``true``, ``--`` ends the flags:

>>> flags = parse_kubelet_flags(["--cgroups-per-qos=false", "--enforce-node-allocatable=",
...     "--cgroup-driver", "cgroupfs", "--fail-swap-on", "--feature-gates=A=true,B=false"])
>>> [(f.name, f.value, f.index) for f in flags.flags][:2]
[('cgroups-per-qos', 'false', 0), ('enforce-node-allocatable', '', 1)]
>>> [(f.name, f.value, f.index) for f in flags.flags][2:]  # doctest: +NORMALIZE_WHITESPACE
[('cgroup-driver', 'cgroupfs', 2), ('fail-swap-on', 'true', 4),
 ('feature-gates', 'A=true,B=false', 5)]
>>> parse_feature_gates("A=true, B=false")
{'A': True, 'B': False}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from nodedoctor._record import field, record
from nodedoctor.parsers import ParseError
from nodedoctor.parsers.yamldoc import load_yaml

if TYPE_CHECKING:
    import yaml

# --------------------------------------------------------------------------------------
# KubeletConfiguration YAML


@record
class ConfigEntry:
    """One key of the file. ``key`` is dotted for nested mappings (``memorySwap.swapBehavior``)."""

    key: str
    value: object
    line: int
    text: str


@record
class KubeletConfigFile:
    entries: dict[str, ConfigEntry]
    kind: str | None
    api_version: str | None

    def get(self, key: str) -> ConfigEntry | None:
        return self.entries.get(key)

    def children(self, prefix: str) -> dict[str, ConfigEntry]:
        """The entries directly under mapping ``prefix`` (``featureGates`` -> its gates)."""
        start = prefix + "."
        return {
            k[len(start) :]: v
            for k, v in self.entries.items()
            if k.startswith(start) and "." not in k[len(start) :]
        }


def _flatten(
    node: yaml.Node,
    value: object,
    prefix: str,
    lines: list[str],
    out: dict[str, ConfigEntry],
) -> None:
    import yaml  # imported when a file is parsed: start-up cost (bench/)

    if not isinstance(node, yaml.MappingNode) or not isinstance(value, dict):
        return
    for key_node, value_node in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        if not isinstance(key, str) or key not in value:
            continue
        line = key_node.start_mark.line + 1
        text = lines[line - 1].strip() if line - 1 < len(lines) else key
        dotted = f"{prefix}{key}"
        out[dotted] = ConfigEntry(dotted, value[key], line, text)
        _flatten(value_node, value[key], dotted + ".", lines, out)


def parse_kubelet_config(text: str) -> KubeletConfigFile:
    """A ``KubeletConfiguration`` (YAML or JSON). Malformed input, or input past the bounds of
    :mod:`nodedoctor.parsers.yamldoc`, raises ParseError with its line; an empty file is an
    empty configuration (the kubelet then uses its defaults)."""
    node, data = load_yaml(text)
    if data is None:
        return KubeletConfigFile({}, None, None)
    if not isinstance(data, dict) or node is None:
        raise ParseError("a KubeletConfiguration must be a mapping of keys to values", 1)
    entries: dict[str, ConfigEntry] = {}
    _flatten(node, data, "", text.splitlines(), entries)
    kind = data.get("kind")
    api = data.get("apiVersion")
    return KubeletConfigFile(
        entries,
        kind if isinstance(kind, str) else None,
        api if isinstance(api, str) else None,
    )


# --------------------------------------------------------------------------------------
# Command-line flags

#: Kubelet flags that are booleans in pflag: they never take the next word as their value.
BOOL_FLAGS = frozenset(
    {
        "add-dir-header",
        "allow-privileged",
        "alsologtostderr",
        "anonymous-auth",
        "authentication-token-webhook",
        "cgroups-per-qos",
        "containerized",
        "enable-controller-attach-detach",
        "enable-debugging-handlers",
        "enable-load-reader",
        "enable-server",
        "exit-on-lock-contention",
        "experimental-check-node-capabilities-before-mount",
        "experimental-kernel-memcg-notification",
        "fail-cgroupv1",
        "fail-swap-on",
        "help",
        "kernel-memcg-notification",
        "keep-terminated-pod-volumes",
        "local-storage-capacity-isolation",
        "log-flush-frequency",
        "logtostderr",
        "make-iptables-util-chains",
        "one-output",
        "protect-kernel-defaults",
        "register-node",
        "register-schedulable",
        "rotate-certificates",
        "rotate-server-certificates",
        "runonce",
        "seccomp-default",
        "serialize-image-pulls",
        "skip-headers",
        "skip-log-headers",
        "version",
    }
)


@record
class Flag:
    """One flag. ``index`` is the position of its first word in the argument list; ``end``
    the position after its last (``--key value`` spans two words)."""

    name: str
    value: str
    index: int
    end: int
    text: str
    explicit: bool = True


@record
class Flags:
    flags: tuple[Flag, ...]
    #: Words that are not flags (the kubelet refuses them: it takes no arguments).
    positional: tuple[tuple[int, str], ...] = field(default=())

    def last(self, name: str) -> Flag | None:
        """The flag as the kubelet sees it: pflag keeps the last occurrence."""
        found = None
        for f in self.flags:
            if f.name == name:
                found = f
        return found


def parse_kubelet_flags(args: Sequence[str]) -> Flags:
    """Split an argument list (the executable already removed) into flags."""
    flags: list[Flag] = []
    positional: list[tuple[int, str]] = []
    i = 0
    only_positional = False
    while i < len(args):
        word = args[i]
        if only_positional or not word.startswith("-") or word == "-":
            positional.append((i, word))
            i += 1
            continue
        if word == "--":
            only_positional = True
            i += 1
            continue
        body = word[2:] if word.startswith("--") else word[1:]
        name, sep, value = body.partition("=")
        if sep:
            flags.append(Flag(name, value, i, i + 1, word))
            i += 1
        elif name in BOOL_FLAGS:
            flags.append(Flag(name, "true", i, i + 1, word, explicit=False))
            i += 1
        elif i + 1 < len(args):
            flags.append(Flag(name, args[i + 1], i, i + 2, f"{word} {args[i + 1]}"))
            i += 2
        else:
            # pflag: "flag needs an argument"; the kubelet would refuse to start.
            flags.append(Flag(name, "", i, i + 1, word, explicit=False))
            i += 1
    return Flags(tuple(flags), tuple(positional))


_TRUE = {"1", "t", "T", "true", "TRUE", "True"}
_FALSE = {"0", "f", "F", "false", "FALSE", "False"}


def parse_bool(text: str) -> bool | None:
    """Go's ``strconv.ParseBool``; ``None`` for anything else.

    >>> parse_bool("False"), parse_bool("1"), parse_bool("no")
    (False, True, None)
    """
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def parse_feature_gates(text: str) -> dict[str, bool]:
    """``--feature-gates=A=true,B=false`` (entries the kubelet would reject are left out)."""
    gates: dict[str, bool] = {}
    for item in text.split(","):
        name, sep, raw = item.strip().partition("=")
        value = parse_bool(raw.strip()) if sep else None
        if name.strip() and value is not None:
            gates[name.strip()] = value
    return gates


def split_list(text: str) -> list[str]:
    """A string-slice flag (``--enforce-node-allocatable=pods,kube-reserved``); empty is empty.

    >>> split_list(""), split_list("pods, system-reserved")
    ([], ['pods', 'system-reserved'])
    """
    return [item.strip() for item in text.split(",") if item.strip()]


# --------------------------------------------------------------------------------------
# Argument files


@record
class ArgWord:
    word: str
    line: int
    text: str


def parse_microk8s_args(text: str) -> list[ArgWord]:
    """A MicroK8s args file (``/var/snap/microk8s/current/args/kubelet``) read as kubelite reads it
    (``ReadArgsFromFile``): trimmed lines, ``#`` lines and blank lines skipped, every ``"`` and
    ``'`` removed, then split on single spaces. ``${SNAP_DATA}`` and friends stay unexpanded.

    >>> [(w.word, w.line) for w in parse_microk8s_args(
    ...     '# comment\\n--cgroups-per-qos=false\\n\\n--enforce-node-allocatable=""\\n')]
    [('--cgroups-per-qos=false', 2), ('--enforce-node-allocatable=', 4)]
    """
    words: list[ArgWord] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        unquoted = line.replace('"', "").replace("'", "")
        for part in unquoted.split(" "):
            if part:
                words.append(ArgWord(part, lineno, line))
    return words


@record
class K3sConfig:
    """The parts of a k3s config file (``/etc/rancher/k3s/config.yaml`` or a drop-in in
    ``config.yaml.d``) that concern the kubelet.

    ``kubelet_args`` are the words of ``kubelet-arg`` and ``kubelet-arg+`` in file order;
    ``kubelet_args_replace`` is true when the file has a plain ``kubelet-arg`` key, which
    replaces what earlier files gave, where ``kubelet-arg+`` appends to it (docs.k3s.io,
    "Configuration File", "Multiple Config Files").
    """

    kubelet_args: tuple[ArgWord, ...]
    entries: dict[str, ConfigEntry]
    kubelet_args_replace: bool = False


def parse_k3s_config(text: str) -> K3sConfig:
    """k3s's ``config.yaml``: ``kubelet-arg`` as a list or a single string. k3s adds ``--`` in
    front of each (``max-pods=200`` means ``--max-pods=200``).

    >>> c = parse_k3s_config("write-kubeconfig-mode: '0644'\\nkubelet-arg:\\n"
    ...                      "  - cgroup-driver=cgroupfs\\n  - '--max-pods=200'\\n")
    >>> [(a.word, a.line) for a in c.kubelet_args]
    [('--cgroup-driver=cgroupfs', 3), ('--max-pods=200', 4)]
    >>> [a.word for a in parse_k3s_config("kubelet-arg: fail-swap-on=false\\n").kubelet_args]
    ['--fail-swap-on=false']
    >>> c = parse_k3s_config("kubelet-arg+:\\n  - max-pods=150\\n")
    >>> [a.word for a in c.kubelet_args], c.kubelet_args_replace
    (['--max-pods=150'], False)
    """
    import yaml  # imported when a file is parsed: start-up cost (bench/)

    node, data = load_yaml(text)
    if data is None:
        return K3sConfig((), {})
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        raise ParseError("k3s config.yaml must be a mapping", 1)
    lines = text.splitlines()
    entries: dict[str, ConfigEntry] = {}
    _flatten(node, data, "", lines, entries)
    args: list[ArgWord] = []
    replace = False
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            continue
        if key_node.value == "kubelet-arg":
            # A plain key replaces what came before it, in this file or an earlier one.
            args, replace = [], True
        elif key_node.value != "kubelet-arg+":
            continue
        items: list[yaml.Node] = (
            list(value_node.value) if isinstance(value_node, yaml.SequenceNode) else [value_node]
        )
        for item in items:
            if not isinstance(item, yaml.ScalarNode):
                raise ParseError("kubelet-arg entries must be strings", item.start_mark.line + 1)
            line = item.start_mark.line + 1
            word = str(item.value).strip()
            if word and not word.startswith("-"):
                word = "--" + word
            args.append(ArgWord(word, line, lines[line - 1].strip()))
    return K3sConfig(tuple(args), entries, replace)
