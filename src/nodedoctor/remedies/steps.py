"""What a remedy is made of: the change a finding calls for, as data, in steps that the fix
engine carries out in order (``fix/appliers.py``, one applier per kind of step).

A rule decides its finding and, in the same breath, its :class:`Remedy` (``Issue.remedy``,
built by the planning functions of ``remedies/``): which file, which key or word, which value,
which command, which service, whether a reboot is needed, what the user must do by hand, or
why the tool will not touch it (:class:`Refuse`). Everything that can be decided from the
node's facts is decided there; a step leaves to apply time only what depends on the file as
planned so far, because an earlier step of the same plan may have changed it (the table of a
TOML file whose ``version = 2`` an earlier step adds, the words of a command line, whether a
file nodedoctor creates already exists, the lines a sysctl file already has).

Only the names of files and values live here: the bytes are edited by ``fix/`` with its
format-preserving editors, which refuse what they cannot edit safely.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Union

from nodedoctor._record import record, replace
from nodedoctor.i18n import _


def then_join(parts: Sequence[str]) -> str:
    """Clauses done one after the other, as one sentence (``a, then b, then c``)."""
    out = parts[0] if parts else ""
    for part in parts[1:]:
        out = _("{first}, then {next}").format(first=out, next=part)
    return out


def and_join(items: Sequence[str]) -> str:
    """Items named together (``a and b and c``)."""
    out = items[0] if items else ""
    for item in items[1:]:
        out = _("{first} and {next}").format(first=out, next=item)
    return out


#: A TOML table or key path, outermost first.
TablePath = tuple[str, ...]


@record
class WordChange:
    """Replace (or with ``replacement`` ``None`` delete) the word at ``position`` (1-based,
    among the words of its file or variable), which must still read ``text``."""

    position: int
    text: str
    replacement: str | None


@record
class CmdlineFileEdit:
    """Words of a command-line file (``cmdline.txt``, ``/etc/kernel/cmdline``): ``changes``,
    then ``add`` at the end of line ``add_line``; ``join`` makes the file one line."""

    path: str
    description: str
    add: tuple[str, ...] = ()
    changes: tuple[WordChange, ...] = ()
    add_line: int | None = None
    join: bool = False
    #: The file must stay exactly one line (Raspberry Pi firmware's ``cmdline.txt``).
    one_line: bool = False


@record
class GrubVariableEdit:
    """Words of one ``GRUB_CMDLINE_LINUX*`` assignment in ``/etc/default/grub`` or a
    ``grub.d`` file: ``changes``, then ``add`` at the end of the value (``line``: the
    assignment that counts, ``None`` for the last one or a new one)."""

    path: str
    variable: str
    line: int | None
    description: str
    add: tuple[str, ...] = ()
    changes: tuple[WordChange, ...] = ()


@record
class TomlSet:
    """``key = value`` in ``table`` of a TOML file, the table made when absent.

    ``tables``: where the table depends on the file's top-level ``version`` as planned (an
    earlier step may add ``version = 2``), the table of each version, ``(version, table)``;
    ``table`` is then the one for any other version, and keys are quoted literally from
    version 3 on (containerd's style). ``description`` empty: ``key = value in [table]``."""

    path: str
    table: TablePath
    key: str
    value: bool | int | str
    description: str = ""
    tables: tuple[tuple[int, TablePath], ...] = ()


@record
class TomlArrayRemove:
    """Remove ``values`` from the array at ``key`` of a TOML file; when none is there, the
    remedy is refused with ``unchanged``."""

    path: str
    key: TablePath
    values: tuple[str, ...]
    description: str
    unchanged: str


@record
class ContainerdVersion2:
    """``version = 2`` at the top of each of ``paths`` that, as planned, has no version and
    holds full-name (version 2) plugin tables, when nothing in it makes version 2 unsafe
    (``remedies.containerd.version_2_refusal``); refused when no file gets it."""

    paths: tuple[str, ...]
    description: str


@record
class YamlSet:
    """``key: value`` at the top level of a YAML file (the line changed, or appended)."""

    path: str
    key: str
    value: str
    description: str


@record
class YamlRemove:
    """The top-level ``key`` of a YAML file and its value, removed line by line."""

    path: str
    key: str
    description: str


@record
class FlagSet:
    """``flag=value`` on its own line of a flag file (MicroK8s ``args/kubelet``)."""

    path: str
    flag: str
    value: str
    description: str


@record
class FlagRemove:
    """Every ``flag`` / ``flag=value`` word removed from a flag or environment file."""

    path: str
    flag: str
    description: str


@record
class WriteFile:
    """A whole file nodedoctor owns (a drop-in that wins over the others): written with
    ``text``; refused when it exists with other content, unless that content starts with
    ``own_mark`` (nodedoctor wrote it before)."""

    path: str
    text: str
    description: str
    #: What the engine re-parses the new bytes as (``toml``, ``systemd``, ``text``).
    fmt: str
    own_mark: str | None = None


@record
class SysctlSet:
    """``key = value`` in a sysctl configuration file (nodedoctor's drop-in in
    ``/etc/sysctl.d``, or the administrator's file whose assignment wins today): each
    assignment of ``key`` there gets ``value``, or a line is appended; a file that does not
    exist is made, starting with ``header``. Several findings share the one drop-in."""

    path: str
    key: str
    value: str
    description: str
    header: str = ""


@record
class ModuleLoad:
    """``module`` on a line of a modules-load.d(5) file, which systemd-modules-load reads at
    boot; a file that does not exist is made, starting with ``header``."""

    path: str
    module: str
    description: str
    header: str = ""


@record
class FstabComment:
    """Comment out ``line`` (1-based) of ``path`` (``/etc/fstab``), which must still read
    ``text``: the swap area stays on disk and is no longer activated at boot."""

    path: str
    line: int
    text: str
    description: str


@record
class Command:
    """A program run after the edits, live and with ``--apply`` only; like every command it
    is dropped when the remedy planned no file edit (it regenerates what an edit changed)."""

    argv: tuple[str, ...]
    why: str


@record
class RunNow:
    """A program run live with ``--apply`` even when the remedy edits no file: it applies to
    the running kernel what the files already hold (``sysctl --system``, ``modprobe``,
    ``swapoff -a``), so the plan converges once the running state follows."""

    argv: tuple[str, ...]
    why: str


@record
class Restart:
    """A service named for a restart (``--restart`` only): a systemd unit, or a snap."""

    service: str
    manager: str = "systemctl"


@record
class Reboot:
    """The fix takes effect at the next boot; nodedoctor never reboots."""


@record
class ClearsAfterRestart:
    """The finding reads running state (cgroups): it clears once the service restarted."""


@record
class Instruction:
    """What the user does by hand, and why nodedoctor does not."""

    text: str
    why: str


@record
class ByHand:
    """The finding's own advice (its fix summary and commands), done by hand: ``why``."""

    why: str


@record
class Refuse:
    """nodedoctor will not fix this on this node: ``reason`` (``path``: the file concerned).
    Nothing else of the remedy is planned."""

    reason: str
    path: str | None = None


Step = Union[
    CmdlineFileEdit,
    GrubVariableEdit,
    TomlSet,
    TomlArrayRemove,
    ContainerdVersion2,
    YamlSet,
    YamlRemove,
    FlagSet,
    FlagRemove,
    WriteFile,
    SysctlSet,
    ModuleLoad,
    FstabComment,
    Command,
    RunNow,
    Restart,
    Reboot,
    ClearsAfterRestart,
    Instruction,
    ByHand,
    Refuse,
]


@record
class Remedy:
    """The change a finding calls for: ``steps``, in order. ``unless_found``: rules whose
    finding, anywhere in the run, means this remedy must wait (its cause is still there);
    ``instead`` then replaces ``steps``, ``{rules}`` in an instruction naming those found."""

    steps: tuple[Step, ...]
    unless_found: tuple[str, ...] = ()
    instead: tuple[Step, ...] = ()

    @property
    def acts(self) -> bool:
        """``nodedoctor fix`` changes something on the node for it (an edit or a command), not
        only advice, a reboot or a refusal."""
        return not any(isinstance(s, Refuse) for s in self.steps) and any(
            not isinstance(s, _NOT_ACTIONS) for s in self.steps
        )

    def acts_with(self, found: Collection[str]) -> bool:
        """:attr:`acts`, for the steps chosen in a run whose findings are of the rules
        ``found`` (a workaround that waits for its cause's fix does nothing yet)."""
        return Remedy(self.chosen(found)).acts

    def chosen(self, found: Collection[str]) -> tuple[Step, ...]:
        """The steps to carry out in a run whose findings are of the rules ``found``."""
        waiting = sorted(set(self.unless_found) & set(found))
        if not waiting:
            return self.steps
        names = ", ".join(waiting)
        return tuple(
            replace(s, text=s.text.replace("{rules}", names)) if isinstance(s, Instruction) else s
            for s in self.instead
        )


#: Steps that change nothing by themselves: advice, what happens after a restart or reboot.
_NOT_ACTIONS = (Restart, Reboot, ClearsAfterRestart, Instruction, ByHand, Refuse)


def refused(reason: str, path: str | None = None) -> Remedy:
    return Remedy((Refuse(reason, path),))


#: The order a plan carries out remedies in (a rule not named comes last): the boot first,
#: then the runtime's configuration (CRI back on before ``version = 2``, which must not meet a
#: short plugin name, before ``SystemdCgroup``, whose table depends on the version as
#: planned), then the kubelet, then what is done by hand.
PLAN_ORDER = (
    "cgroup-controller-disabled",
    "boot-cmdline-ignored",
    "containerd-cri-disabled",
    "containerd-config-ignored",
    "cgroup-driver-mismatch",
    "crio-conmon-cgroup-invalid",
    "cgroup-controller-not-delegated",
    "qos-cgroups-disabled",
    "kubepods-invalid",
    "apparmor-blocks-runc-signal",
    "runtime-version-unsupported",
    # br_netfilter is loaded (modprobe) before sysctl --system sets its keys.
    "bridge-netfilter",
    "ip-forwarding-disabled",
    "swap-enabled",
    "cloud-init-missing",
    "cloud-init-disabled",
)
