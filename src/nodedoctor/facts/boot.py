"""The kernel command line: what the running kernel got, and the file that feeds it.

Interface (for the fix engine)
------------------------------
``facts.get(boot_chain)`` gives a :class:`BootChain`:

- ``target`` — the :class:`BootFile` the boot loader really reads on this node, or ``None``
  (no boot file in the root, or a PXE/netboot node): ``target.path`` is the file to edit,
  ``target.kind`` a :class:`BootFileKind` (``rpi-cmdline``: ``cmdline.txt`` read by the
  Raspberry Pi firmware, one line; ``grub``: ``/etc/default/grub`` (+ ``grub.d/*.cfg``)
  shell assignments; ``kernel-cmdline``: ``/etc/kernel/cmdline`` for kernel-install/UKI),
  ``target.params`` every parameter written there (each a :class:`PlacedParam` with
  ``source``, 1-based ``line``, 1-based ``position``, ``text``, and for GRUB the
  ``variable``), ``target.read_params`` the ones the boot loader uses (a ``cmdline.txt``'s
  first line only), ``target.edit_line``/``target.edit_variable`` where new parameters go.
- ``apply_commands`` — what must run after the file is edited (``update-grub``, ``grubby``,
  ``grub2-mkconfig``); a reboot is always needed.
- ``stubs`` — files nobody reads that hold parameters (the bookworm ``/boot/cmdline.txt``).

The simplest entry point is ``facts.get(controller_fix)`` in ``facts/cgroups.py``: the
missing controllers a command-line edit turns on (``by_cmdline``), the planned ``edit`` (the
same one the ``cgroup-controller-disabled`` finding describes), ``others`` no edit can give,
and ``elsewhere``: disabling words /proc/cmdline shows that are not in the boot file (RHEL
boot entries: ``grubby --update-kernel=ALL --remove-args=...``).

``facts.get(boot_entries)`` (RHEL 8+, GRUB with BLS) reads ``/boot/loader/entries/*.conf`` and
``/boot/grub2/grubenv`` (parsers/bls.py): each entry's parameters (``$kernelopts`` expanded,
every word placed at its file and line), the default entry (grubenv ``saved_entry``) and the
next boot's parameters, or why they cannot be told. ``controller_fix`` takes ``elsewhere``
from them when they are known: the words that keep a controller off at the next boot
(``BootEntries.keeping_off``, the same verdict as for /proc/cmdline, as the entry writes them),
and plans grubby only for those; a disabling word of the running kernel whose controller the
next boot turns on is ``pending`` (a reboot, not grubby).

``plan_cmdline_edit(chain, enable=[...], v1=...)`` turns "these controllers must be on" into a
:class:`CmdlineEdit`: ``path``, ``kind``, ``line``/``variable`` to edit, ``add`` (tokens to
append at the end of that line/variable, e.g. ``cgroup_enable=memory``; last setting wins),
``remove`` (:class:`ParamRemoval`: a token as written, with its file/line/position, and its
``replacement`` text or ``None`` to delete it — e.g. a ``cgroup_disable=memory`` that sits
in the file itself), ``join_lines`` (a split ``cmdline.txt`` must become one line, the later
lines' words appended to the first), ``commands`` and ``reboot``. Idempotent: a file that
already says what is needed plans no change (``CmdlineEdit.empty``).

Sources: research incidents.md §1 (which file each OS's boot loader reads, the bookworm
stub, the firmware's device-tree ``cgroup_disable=memory`` in front of cmdline.txt, the
last setting wins, firmware rewrites of ``console=serial0``); for the BLS entries the UAPI Boot
Loader Specification, RHEL 8 "What boot entries are" (``$kernelopts`` in grubenv),
rhboot/grub2#2 and rhinstaller/anaconda#1789/#1790 (the default entry: ``saved_entry``, else
the first in blscfg's sort order), see :func:`boot_entries` and parsers/bls.py.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from nodedoctor._record import field, record
from nodedoctor.facts import Facts
from nodedoctor.facts.mounts import mount_table
from nodedoctor.facts.system import board, os_release
from nodedoctor.model import Evidence
from nodedoctor.parsers.cmdline import (
    GrubDefault,
    Param,
    kernel_params,
    parse_cmdline,
    parse_cmdline_file,
    parse_default_grub,
)

if TYPE_CHECKING:  # the BLS parser is imported where /boot/loader/entries exists
    from nodedoctor.parsers.bls import BlsEntry, EnvVar

PROC_CMDLINE = "/proc/cmdline"
RPI_FIRMWARE_CMDLINE = "/boot/firmware/cmdline.txt"
RPI_BOOT_CMDLINE = "/boot/cmdline.txt"
DEFAULT_GRUB = "/etc/default/grub"
GRUB_D = "/etc/default/grub.d"
KERNEL_CMDLINE = "/etc/kernel/cmdline"
BLS_ENTRIES = "/boot/loader/entries"
GRUBENV = "/boot/grub2/grubenv"

#: Parameters that decide which cgroup controllers and hierarchy the node gets. Only these
#: are compared between a file and /proc/cmdline (the Pi firmware rewrites others, e.g.
#: ``console=serial0,115200`` appears as ``console=ttyS0,115200``).
RELEVANT_KEYS = frozenset(
    {
        "cgroup_enable",
        "cgroup_disable",
        "cgroup_memory",
        "cgroup_no_v1",
        "systemd.unified_cgroup_hierarchy",
        "systemd.legacy_systemd_cgroup_controller",
        "swapaccount",
    }
)

#: The words of the Raspberry Pi OS bookworm stub (raspberrypi/documentation#3089).
_STUB_MARK = "DO NOT EDIT THIS FILE"
_STUB_TEXT = (
    "DO NOT EDIT THIS FILE The file you are looking for has moved to "
    "/boot/firmware/cmdline.txt /boot/firmware/config.txt"
)
_STUB_WORDS = frozenset(_STUB_TEXT.split())


class BootFileKind(enum.Enum):
    RPI_CMDLINE = "rpi-cmdline"
    GRUB = "grub"
    KERNEL_CMDLINE = "kernel-cmdline"


@record
class PlacedParam:
    """One parameter of a command line, where it is written."""

    key: str
    value: str | None
    text: str
    source: str
    line: int | None
    #: 1-based position among the parameters of its command line (for GRUB: of
    #: GRUB_CMDLINE_LINUX followed by GRUB_CMDLINE_LINUX_DEFAULT).
    position: int
    variable: str | None = None
    line_text: str = ""

    @property
    def relevant(self) -> bool:
        return self.key in RELEVANT_KEYS

    @property
    def values(self) -> tuple[str, ...]:
        """Comma-separated values (``cgroup_disable=memory,cpuset``)."""
        return tuple(v for v in (self.value or "").split(",") if v)

    def evidence(self, note: str = "") -> Evidence:
        text = self.line_text.strip() if self.line_text else self.text
        if self.source == PROC_CMDLINE:
            text = f"{self.text} (parameter {self.position})"
        return Evidence(self.source, f"{text}{note}", self.line)


def _placed(
    params: Iterable[Param],
    source: str,
    line: int | None,
    line_text: str,
    *,
    start: int = 1,
    variable: str | None = None,
) -> list[PlacedParam]:
    return [
        PlacedParam(p.key, p.value, p.text, source, line, start + i, variable, line_text)
        for i, p in enumerate(params)
    ]


@record
class KernelCmdline:
    """``/proc/cmdline``: the parameters the running kernel booted with (before ``--``)."""

    text: str
    params: tuple[PlacedParam, ...]

    @property
    def evidence(self) -> Evidence:
        return Evidence(PROC_CMDLINE, self.text.strip())

    @property
    def relevant(self) -> tuple[PlacedParam, ...]:
        return tuple(p for p in self.params if p.relevant)


def kernel_cmdline(facts: Facts) -> KernelCmdline | None:
    text = facts.read(PROC_CMDLINE)
    if text is None:
        return None
    line = text.strip()
    params = kernel_params(parse_cmdline(line))
    return KernelCmdline(line, tuple(_placed(params, PROC_CMDLINE, None, line)))


@record
class BootFile:
    path: str
    #: ``None`` for a file no boot loader reads (the bookworm stub).
    kind: BootFileKind | None
    text: str
    #: Every parameter written in the file, in order.
    params: tuple[PlacedParam, ...]
    #: The parameters the boot loader takes from it (a cmdline.txt's first line only).
    read_params: tuple[PlacedParam, ...]
    stub: bool = False
    #: Number of non-empty lines holding parameters (cmdline.txt must have one).
    param_lines: int = 1
    #: Where a fix adds parameters: the line and, for GRUB, the variable (``None`` line:
    #: the variable is not set yet and a new line must be added).
    edit_line: int | None = 1
    edit_variable: str | None = None
    #: Other files that fed the parameters (GRUB's ``grub.d/*.cfg``).
    also_from: tuple[str, ...] = ()

    @property
    def split(self) -> bool:
        return self.kind is BootFileKind.RPI_CMDLINE and self.param_lines > 1

    @property
    def ignored_params(self) -> tuple[PlacedParam, ...]:
        """Parameters written here that the boot loader never passes to the kernel."""
        read = set(self.read_params)
        return tuple(p for p in self.params if p not in read)

    def evidence(self) -> Evidence:
        """The line that holds (or will hold) the command line."""
        lines = self.text.splitlines()
        if self.edit_line is not None and 0 < self.edit_line <= len(lines):
            return Evidence(self.path, lines[self.edit_line - 1].strip(), self.edit_line)
        first = self.text.strip().splitlines()[0] if self.text.strip() else "(empty)"
        return Evidence(self.path, first, 1)


@record
class BootChain:
    """Which boot file feeds the kernel command line on this node, and why."""

    target: BootFile | None
    reason: str
    reason_evidence: tuple[Evidence, ...] = ()
    files: tuple[BootFile, ...] = ()
    apply_commands: tuple[str, ...] = ()

    @property
    def kind(self) -> BootFileKind | None:
        return self.target.kind if self.target else None

    @property
    def raspberry_pi_firmware(self) -> bool:
        """The Pi firmware boots this node: it prepends its device-tree bootargs (on current
        kernels ``cgroup_disable=memory``) and the downstream kernel knows ``cgroup_enable=``."""
        return self.kind is BootFileKind.RPI_CMDLINE

    @property
    def stubs(self) -> tuple[BootFile, ...]:
        return tuple(f for f in self.files if f.stub)

    @property
    def grubby(self) -> bool:
        """GRUB with BLS entries that grubby keeps (RHEL 8+): the entries, not grub.cfg,
        hold each kernel's command line."""
        return self.kind is BootFileKind.GRUB and any(
            c.startswith("grubby") for c in self.apply_commands[:1]
        )


# --------------------------------------------------------------------------------------
# reading the files


def _rpi_file(facts: Facts, path: str) -> BootFile | None:
    text = facts.read(path)
    if text is None:
        return None
    try:
        lines = parse_cmdline_file(text)
    except ValueError as exc:  # ParseError: unbalanced quote
        facts.record_problem(path, getattr(exc, "line", None), str(exc))
        return None
    stub = _STUB_MARK in text and "/boot/firmware/" in text
    params: list[PlacedParam] = []
    for ln in lines:
        placed = _placed(ln.params, path, ln.line, ln.text, start=len(params) + 1)
        if stub:
            placed = [p for p in placed if p.text not in _STUB_WORDS]
        params.extend(placed)
    if stub:
        return BootFile(path, None, text, tuple(params), (), stub=True, param_lines=len(lines))
    first = lines[0].line if lines else 1
    read = tuple(p for p in params if p.line == first)
    return BootFile(
        path,
        BootFileKind.RPI_CMDLINE,
        text,
        tuple(params),
        read,
        param_lines=len(lines),
        edit_line=first,
    )


def _kernel_cmdline_file(facts: Facts) -> BootFile | None:
    text = facts.read(KERNEL_CMDLINE)
    if text is None:
        return None
    try:
        lines = parse_cmdline_file(text)
    except ValueError as exc:
        facts.record_problem(KERNEL_CMDLINE, getattr(exc, "line", None), str(exc))
        return None
    params: list[PlacedParam] = []
    for ln in lines:
        params.extend(_placed(ln.params, KERNEL_CMDLINE, ln.line, ln.text, start=len(params) + 1))
    # kernel-install joins every line of /etc/kernel/cmdline.
    return BootFile(
        KERNEL_CMDLINE,
        BootFileKind.KERNEL_CMDLINE,
        text,
        tuple(params),
        tuple(params),
        param_lines=len(lines),
        edit_line=lines[0].line if lines else None,
    )


_GRUB_VARS = ("GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT")


def _grub_file(facts: Facts) -> BootFile | None:
    main = facts.parse(DEFAULT_GRUB, parse_default_grub)
    if main is None:
        return None
    # /etc/default/grub.d/*.cfg are sourced after /etc/default/grub (Debian/Ubuntu).
    layers: list[tuple[str, GrubDefault]] = [(DEFAULT_GRUB, main)]
    for path in facts.root.glob(GRUB_D, "*.cfg"):
        parsed = facts.parse(path, parse_default_grub)
        if parsed is not None:
            layers.append((path, parsed))
    chosen: dict[str, tuple[str, str, int, str]] = {}  # var -> (path, value, line, text)
    for path, layer in layers:
        for var in _GRUB_VARS:
            if var in layer.variables:
                value, line, text = layer.variables[var]
                chosen[var] = (path, value, line, text)
    params: list[PlacedParam] = []
    for var in _GRUB_VARS:
        if var in chosen:
            path, value, line, text = chosen[var]
            params.extend(
                _placed(parse_cmdline(value), path, line, text, start=len(params) + 1, variable=var)
            )
    linux = chosen.get("GRUB_CMDLINE_LINUX")
    edit_path = linux[0] if linux else DEFAULT_GRUB
    also = tuple(sorted({c[0] for c in chosen.values()} - {edit_path}))
    text = facts.read(edit_path) or ""
    return BootFile(
        edit_path,
        BootFileKind.GRUB,
        text,
        tuple(params),
        tuple(params),
        edit_line=linux[2] if linux else None,
        edit_variable="GRUB_CMDLINE_LINUX",
        also_from=also,
    )


def _grub_commands(facts: Facts) -> tuple[str, ...]:
    osr = facts.get(os_release)
    family = osr.family
    if osr.rhel_like and facts.root.is_dir("/boot/loader/entries"):
        # RHEL 8+ keep each kernel's options in its BLS entry; grubby updates them all.
        return ("grubby --update-kernel=ALL",)
    if family & {"debian", "ubuntu"}:
        return ("update-grub",)
    if osr.rhel_like or family & {"suse", "opensuse"}:
        return ("grub2-mkconfig -o /boot/grub2/grub.cfg",)
    return ("grub-mkconfig -o /boot/grub/grub.cfg",)


def boot_chain(facts: Facts) -> BootChain:
    fw = _rpi_file(facts, RPI_FIRMWARE_CMDLINE)
    old = _rpi_file(facts, RPI_BOOT_CMDLINE)
    grub = _grub_file(facts)
    kcmd = _kernel_cmdline_file(facts)
    files = tuple(f for f in (fw, old, grub, kcmd) if f is not None)
    b = facts.get(board)
    evidence: list[Evidence] = [b.evidence] if b.evidence else []
    table = facts.get(mount_table)
    firmware_mount = None
    for point in ("/boot/firmware", "/boot"):
        m = table.at(point)
        if m is not None and m.fstype == "vfat":
            firmware_mount = point
            evidence.append(Evidence(table.source or "mountinfo", m.text, m.line))
            break
    rpi_files = [f for f in (fw, old) if f is not None and not f.stub]
    # A Raspberry Pi boots from cmdline.txt unless it is known to be another board, or a
    # GRUB configuration exists and the board cannot be told (UEFI firmware on a Pi).
    pi_boot = bool(rpi_files) and (b.raspberry_pi or (b.model is None and grub is None))
    if pi_boot:
        if firmware_mount is not None:
            on_mount = [f for f in rpi_files if f.path == f"{firmware_mount}/cmdline.txt"]
            rpi_files = on_mount or rpi_files
        target = rpi_files[0]
        if target.path == RPI_FIRMWARE_CMDLINE:
            reason = (
                "the Raspberry Pi firmware reads /boot/firmware/cmdline.txt (Raspberry Pi OS "
                "bookworm and later, Ubuntu for Raspberry Pi)"
            )
        else:
            reason = (
                "the Raspberry Pi firmware reads /boot/cmdline.txt (Raspberry Pi OS bullseye "
                "and older, Rocky Linux for Raspberry Pi)"
            )
        return BootChain(target, reason, tuple(evidence), files)
    if grub is not None:
        reason = f"GRUB builds the kernel command line from {grub.path}"
        return BootChain(grub, reason, (grub.evidence(),), files, _grub_commands(facts))
    if kcmd is not None:
        reason = "kernel-install builds the boot entries' command line from /etc/kernel/cmdline"
        return BootChain(kcmd, reason, (kcmd.evidence(),), files)
    if b.raspberry_pi:
        return BootChain(
            None,
            "a Raspberry Pi without /boot/firmware/cmdline.txt or /boot/cmdline.txt in this "
            "root (a netbooted Pi has no local file)",
            tuple(evidence),
            files,
        )
    return BootChain(None, "no boot loader configuration was found in this root", (), files)


# --------------------------------------------------------------------------------------
# RHEL-family Boot Loader Specification entries: the next boot's command line


@record
class BootEntry:
    """One ``/boot/loader/entries/*.conf`` file: the kernel command line GRUB's ``blscfg``
    gives that kernel (its ``options`` lines, ``$kernelopts`` expanded from grubenv)."""

    path: str
    #: The entry's id, its file name without ``.conf`` (what grubenv's ``saved_entry`` names).
    id: str
    title: str | None
    version: str | None
    #: Every parameter, in order (its evidence is the word, at its file and line). A word
    #: written in the entry has the entry's options line as ``source``/``line``; a word that
    #: ``$kernelopts`` (or another grubenv variable) expands to has the grubenv line that
    #: defines it, and the variable's name as ``variable``.
    params: tuple[PlacedParam, ...]
    #: The options lines, as written.
    options: tuple[Evidence, ...]
    #: Variables the options use that grubenv does not define (expanded to nothing).
    unresolved: tuple[str, ...] = ()
    #: Why the command line GRUB gives this entry is not inferred (``params`` is then
    #: empty): several ``options`` lines, none, or a ``${name}`` reference, where RHEL's
    #: GRUB and the Boot Loader Specification disagree; empty when it is known.
    unknown: str = ""

    @property
    def relevant(self) -> tuple[PlacedParam, ...]:
        return tuple(p for p in self.params if p.relevant)

    def evidence(self) -> Evidence:
        """The entry's (first) options line, or the file when it has none."""
        if self.options:
            return self.options[0]
        return Evidence(self.path, "no options line", None)


@record
class BootEntries:
    """The BLS entries of a RHEL-family node and which one the next boot uses.

    ``next_params`` are the parameters the next boot gets, when they can be told: those of
    the default entry, or, when the default entry cannot be told, those every entry agrees
    on (only the cgroup parameters of :data:`RELEVANT_KEYS` are compared); ``None``
    otherwise. ``next_reason`` says which, for people."""

    entries: tuple[BootEntry, ...]
    default: BootEntry | None
    next_params: tuple[PlacedParam, ...] | None
    next_reason: str
    next_evidence: tuple[Evidence, ...] = ()

    @property
    def known(self) -> bool:
        return self.next_params is not None

    @property
    def next_relevant(self) -> tuple[PlacedParam, ...]:
        return tuple(p for p in self.next_params or () if p.relevant)

    def keeping_off(self, controller: str, *, no_v1: bool = False) -> tuple[PlacedParam, ...]:
        """The next boot's words that keep ``controller`` off, decided as for /proc/cmdline
        (:func:`controller_verdict`, :func:`no_v1_token`), not by the running word's text:
        when the last word about it disables it, every disabling word about it (removing
        them all turns it on); with ``no_v1``, every ``cgroup_no_v1=`` naming it or
        ``all``. Empty when the next boot does not keep it off (or is unknown)."""
        params = self.next_params or ()
        if no_v1:
            return tuple(
                p
                for p in params
                if p.key == "cgroup_no_v1" and (controller in p.values or "all" in p.values)
            )
        verdict = controller_verdict(params, controller)
        if verdict.enabled is not False:
            return ()
        return tuple(
            p
            for p in verdict.tokens
            if p.key == "cgroup_disable" or (p.key == "cgroup_memory" and p.value == "0")
        )


def _unknown_params(entry: BlsEntry, path: str) -> str:
    """Why the command line RHEL's GRUB gives ``entry`` is not inferred, or ``""``.

    rhboot/grub2 grub-core/commands/blscfg.c (blsuki.c since 2.12) ``create_entry_bls_config``
    reads ``options = expand_val (bls_get_val (entry, "options", NULL))``: the first
    ``options`` line only, where the Boot Loader Specification combines all of them; with
    none, ``expand_val (grub_env_get ("default_kernelopts"))``, a variable grub.cfg sets
    (not read here); and ``expand_val`` expands only ``$name``, not ``${name}``. A loader
    that follows the specification (systemd-boot) reads such an entry differently, so
    nothing is inferred from it."""
    from nodedoctor.parsers.bls import braced_variables

    options = entry.options
    if not options:
        return (
            f"{path} has no options line (GRUB's blscfg then uses $default_kernelopts from "
            "grub.cfg, which is not read here)"
        )
    if len(options) > 1:
        lines = ", ".join(str(o.line) for o in options)
        return (
            f"{path} has {len(options)} options lines ({lines}): GRUB's blscfg uses only the "
            "first, the Boot Loader Specification combines them"
        )
    braced = braced_variables(options[0].value)
    if braced:
        return (
            f"{path} uses {braced[0]} (line {options[0].line}), which GRUB's blscfg does not "
            "expand (it knows $name only)"
        )
    return ""


def _entry_params(
    entry: BlsEntry, path: str, env: dict[str, EnvVar]
) -> tuple[list[PlacedParam], tuple[str, ...]]:
    """The parameters of the entry's first (only) ``options`` line, ``$name`` expanded from
    grubenv, and the names grubenv does not define (see :func:`_unknown_params`)."""
    from nodedoctor.parsers.bls import expand_variables

    values = {k: v.value for k, v in env.items()}
    params: list[PlacedParam] = []
    unresolved: list[str] = []
    for ln in entry.options[:1]:
        for token in parse_cmdline(ln.value):
            name = token.text[1:] if token.text.startswith("$") else ""
            if name and name in env:
                var = env[name]
                found = parse_cmdline(var.value)
                params.extend(
                    _placed(found, GRUBENV, var.line, "", start=len(params) + 1, variable=name)
                )
                continue
            text, missing = expand_variables(token.text, values)
            unresolved.extend(m for m in missing if m not in unresolved)
            found = parse_cmdline(text)
            params.extend(_placed(found, path, ln.line, "", start=len(params) + 1))
    return params, tuple(unresolved)


def _grub_default(facts: Facts) -> str | None:
    """``GRUB_DEFAULT`` of /etc/default/grub as written (``saved`` on RHEL 8+), or ``None``."""
    text = facts.read(DEFAULT_GRUB) or ""
    value = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("GRUB_DEFAULT="):
            value = stripped.partition("=")[2].strip().strip("\"'")
    return value


def boot_entries(facts: Facts) -> BootEntries | None:
    """The BLS entries in ``/boot/loader/entries`` (``None`` when the directory is absent).

    Which entry boots next (GRUB with ``blscfg``, RHEL 8+): with ``GRUB_DEFAULT=saved`` (the
    RHEL default) GRUB boots grubenv's ``next_entry`` once if set (``grub2-reboot``: "the
    next reboot only"), else its ``saved_entry`` (``grub2-set-default``; Oracle Linux 8 "About
    the GRUB 2 Bootloader"), an entry id: the file name without ``.conf``, as anaconda sets it
    (rhinstaller/anaconda#1789/#1790). Without a usable ``saved_entry`` GRUB boots the first
    entry in blscfg's sort order (rhboot/grub2#2; rpm version comparison, Fedora grub2
    420527a "blscfg: sort everything with rpm package comparison", osbuild/osbuild#205),
    which this does not reproduce: the default is then unknown, and the next boot's
    parameters are only known when every entry has the same cgroup parameters.

    What GRUB gives an entry (rhboot/grub2 blscfg.c/blsuki.c ``create_entry_bls_config``,
    ``bls_get_val``, ``expand_val``, ``read_entry``): files whose names start with ``.`` are
    skipped; only the first ``options`` line counts. An entry with several ``options`` lines,
    none (GRUB's ``$default_kernelopts``) or a ``${name}`` reference has unknown parameters
    (:attr:`BootEntry.unknown`, in ``next_reason``), like an unreadable entry: nothing is
    inferred from the entries then.

    ``$kernelopts`` (RHEL 8: ``options $kernelopts $tuned_params``) is expanded from
    ``/boot/grub2/grubenv`` (RHEL 8 "What boot entries are"); an entry that needs it when
    grubenv does not define it has unknown parameters. Other undefined variables
    (``$tuned_params`` when tuned set none) expand to nothing, as GRUB does; grub.cfg could
    still set them, which this does not read."""
    if not facts.root.is_dir(BLS_ENTRIES):
        return None
    from nodedoctor.parsers.bls import parse_bls_entry, parse_grubenv

    env: dict[str, EnvVar] = {}
    env_ev: dict[str, Evidence] = {}
    env_problem = False
    if facts.read(GRUBENV) is not None:
        parsed_env = facts.parse(GRUBENV, parse_grubenv)
        if parsed_env is None:
            env_problem = True
        else:
            env = parsed_env
            env_ev = {k: Evidence(GRUBENV, v.text.strip(), v.line) for k, v in env.items()}
    entries: list[BootEntry] = []
    problems: list[str] = []
    for path in facts.root.glob(BLS_ENTRIES, "*.conf"):
        name = path.rsplit("/", 1)[-1]
        if name.startswith("."):
            continue  # GRUB's blscfg read_entry skips them
        parsed = facts.parse(path, parse_bls_entry)
        if parsed is None:
            problems.append(f"{path} cannot be read as a boot entry")
            continue
        if not parsed.bootable:
            continue  # the spec: an entry has a linux or efi key; this is not one
        unknown = _unknown_params(parsed, path)
        params, unresolved = ([], ()) if unknown else _entry_params(parsed, path, env)
        if unknown:
            problems.append(unknown)
        elif "kernelopts" in unresolved:
            problems.append(
                f"{path} uses $kernelopts, which "
                + (f"{GRUBENV} cannot be read for" if env_problem else f"{GRUBENV} does not set")
            )
        entries.append(
            BootEntry(
                path,
                name[: -len(".conf")],
                parsed.first("title"),
                parsed.first("version"),
                tuple(params),
                tuple(Evidence(path, ln.text.strip(), ln.line) for ln in parsed.options),
                unresolved,
                unknown,
            )
        )
    if problems or not entries:
        reason = "; ".join(problems) or f"no boot entry in {BLS_ENTRIES}"
        return BootEntries(tuple(entries), None, None, reason)
    default: BootEntry | None = None
    how = ""
    ev: list[Evidence] = []
    by_id = {e.id: e for e in entries}
    if len(entries) == 1:
        default, how = entries[0], "the only boot entry"
    elif _grub_default(facts) == "saved":
        for var, why in (
            ("next_entry", "next_entry in grubenv (grub2-reboot: the next boot only)"),
            ("saved_entry", "saved_entry in grubenv, with GRUB_DEFAULT=saved"),
        ):
            value = env[var].value if var in env else ""
            if value:
                default = by_id.get(value)
                how = why if default else ""
                ev.append(env_ev[var])
                break

    def shown(entry: BootEntry) -> tuple[Evidence, ...]:
        """The entry's options line, and grubenv's kernelopts line when it uses it."""
        uses = any(p.variable == "kernelopts" for p in entry.params)
        return (entry.evidence(), *((env_ev["kernelopts"],) if uses else ()))

    if default is not None:
        return BootEntries(
            tuple(entries),
            default,
            default.params,
            f"{default.path} is the default boot entry ({how})",
            (*ev, *shown(default)),
        )
    views = {tuple(p.text for p in e.relevant) for e in entries}
    if len(views) == 1:
        first = entries[0]
        return BootEntries(
            tuple(entries),
            None,
            first.params,
            f"which of the {len(entries)} boot entries is the default cannot be told here "
            "(GRUB sorts them itself); they all have the same cgroup parameters",
            tuple(dict.fromkeys(x for e in entries for x in shown(e))),
        )
    return BootEntries(
        tuple(entries),
        None,
        None,
        f"which of the {len(entries)} boot entries is the default cannot be told here, and "
        "they disagree on the cgroup parameters",
        tuple(dict.fromkeys(x for e in entries for x in shown(e))),
    )


# --------------------------------------------------------------------------------------
# what the command line says about each controller


@record
class ControllerVerdict:
    """The cgroup parameters about one controller, folded in order (the last one wins)."""

    controller: str
    #: ``True``/``False`` as the last parameter about it says; ``None`` when none does.
    enabled: bool | None
    winner: PlacedParam | None
    tokens: tuple[PlacedParam, ...] = ()


def controller_verdict(params: Sequence[PlacedParam], controller: str) -> ControllerVerdict:
    """Fold ``cgroup_disable=``, the downstream Raspberry Pi ``cgroup_enable=`` and the
    obsolete ``cgroup_memory=0|1`` in command-line order.

    >>> ps = _placed(parse_cmdline('cgroup_disable=memory quiet cgroup_enable=memory'),
    ...              '/proc/cmdline', None, '')
    >>> v = controller_verdict(ps, 'memory')
    >>> v.enabled, v.winner.text, v.winner.position, len(v.tokens)
    (True, 'cgroup_enable=memory', 3, 2)
    >>> controller_verdict(ps, 'cpuset').enabled is None
    True
    """
    enabled: bool | None = None
    winner: PlacedParam | None = None
    tokens: list[PlacedParam] = []
    for p in params:
        says: bool | None = None
        if p.key == "cgroup_disable" and controller in p.values:
            says = False
        elif p.key == "cgroup_enable" and controller in p.values:
            says = True
        elif p.key == "cgroup_memory" and controller == "memory" and p.value in ("0", "1"):
            says = p.value == "1"
        if says is not None:
            enabled, winner = says, p
            tokens.append(p)
    return ControllerVerdict(controller, enabled, winner, tuple(tokens))


def no_v1_token(params: Sequence[PlacedParam], controller: str) -> PlacedParam | None:
    """The ``cgroup_no_v1=`` parameter that keeps ``controller`` off cgroup v1, if any."""
    found = None
    for p in params:
        if p.key == "cgroup_no_v1" and (controller in p.values or "all" in p.values):
            found = p
    return found


# --------------------------------------------------------------------------------------
# the edit a fix makes


@record
class ParamRemoval:
    param: PlacedParam
    #: The token's new text (other controllers kept), or ``None`` to delete it.
    replacement: str | None


@record
class CmdlineEdit:
    path: str
    kind: BootFileKind
    line: int | None
    variable: str | None
    add: tuple[str, ...] = ()
    remove: tuple[ParamRemoval, ...] = ()
    join_lines: bool = False
    commands: tuple[str, ...] = ()
    reboot: bool = True
    notes: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not (self.add or self.remove or self.join_lines)

    def describe(self) -> str:
        parts: list[str] = []
        if self.join_lines:
            parts.append(f"join {self.path} into a single line")
        if self.remove:
            words = ", ".join(
                f'"{r.param.text}"' + (f' -> "{r.replacement}"' if r.replacement else "")
                for r in self.remove
            )
            parts.append(
                f"in {self.path} change {words}"
                if any(r.replacement for r in self.remove)
                else f"remove {words} from {self.path}"
            )
        if self.add:
            where = f"{self.variable} in {self.path}" if self.variable else self.path
            how = (
                " (at the end of the line, which must stay one line)"
                if (self.kind is BootFileKind.RPI_CMDLINE)
                else ""
            )
            parts.append(f'add "{" ".join(self.add)}" to {where}{how}')
        if self.commands:
            parts.append("run " + " and ".join(f"`{c}`" for c in self.commands))
        parts.extend(self.notes)
        if self.reboot:
            parts.append("reboot")
        return ", then ".join(parts)


def _without(param: PlacedParam, names: set[str]) -> str | None:
    kept = [v for v in param.values if v not in names]
    return f"{param.key}={','.join(kept)}" if kept else None


#: Characters that a shell or ``shlex.split`` treats specially inside double quotes.
_UNSAFE_IN_QUOTES = frozenset('"\\$`')


def grubby_command(option: str, words: str) -> str:
    """``grubby --update-kernel=ALL --OPTION="WORDS"``, written the way users type it and
    safe to give back to ``shlex.split`` (the fix engine runs it so): words that would not
    survive double quotes are shell-quoted instead.

    >>> grubby_command("args", "cgroup_enable=memory cgroup_enable=cpuset")
    'grubby --update-kernel=ALL --args="cgroup_enable=memory cgroup_enable=cpuset"'
    >>> print(grubby_command("remove-args", 'cgroup_disable="memory"'))
    grubby --update-kernel=ALL '--remove-args=cgroup_disable="memory"'
    """
    if _UNSAFE_IN_QUOTES.isdisjoint(words):
        return f'grubby --update-kernel=ALL --{option}="{words}"'
    import shlex

    return f"grubby --update-kernel=ALL {shlex.quote(f'--{option}={words}')}"


def plan_cmdline_edit(
    chain: BootChain, enable: Sequence[str], *, v1: bool = False, reboot: bool = True
) -> CmdlineEdit | None:
    """The edit of the target boot file that turns ``enable`` on at the next boot; ``None``
    when there is no target file. An edit may be :attr:`CmdlineEdit.empty` when the file
    already asks for everything (a reboot or a kernel change is what is missing).
    ``reboot=False``: a disk image before its first boot (its first boot reads the file)."""
    target = chain.target
    if target is None:
        return None
    wanted = set(enable)
    join = target.split
    # After the fix the whole file is one line, so every parameter in it counts.
    params = target.params if join else target.read_params
    removals: list[ParamRemoval] = []
    for p in params:
        hits: set[str] = set()
        if p.key == "cgroup_disable":
            hits = wanted & set(p.values)
        elif p.key == "cgroup_memory" and p.value == "0" and "memory" in wanted:
            hits = {"memory"}
        elif v1 and p.key == "cgroup_no_v1":
            hits = wanted & set(p.values) or (wanted if "all" in p.values else set())
            if "all" in p.values and hits:
                removals.append(ParamRemoval(p, None))
                continue
        if hits:
            replacement = None if p.key == "cgroup_memory" else _without(p, hits)
            removals.append(ParamRemoval(p, replacement))
    add: list[str] = []
    if chain.raspberry_pi_firmware:
        # The firmware puts cgroup_disable=memory in front of the file: only a later
        # cgroup_enable= (downstream Raspberry Pi kernels) turns it back on.
        # cgroup_memory=1 is obsolete (current kernels ignore it): never rely on it.
        removed = {r.param for r in removals}
        kept = [p for p in params if p not in removed and p.key != "cgroup_memory"]
        for name in enable:
            if controller_verdict(kept, name).enabled is not True:
                add.append(f"cgroup_enable={name}")
    commands = chain.apply_commands
    if chain.kind is BootFileKind.GRUB and commands and commands[0].startswith("grubby"):
        args = " ".join(add)
        drop = " ".join(r.param.text for r in removals)
        commands = tuple(
            c
            for c in (
                grubby_command("args", args) if args else "",
                grubby_command("remove-args", drop) if drop else "",
                *(grubby_command("args", r.replacement) for r in removals if r.replacement),
            )
            if c
        )
    edit = CmdlineEdit(
        path=target.path,
        kind=target.kind or BootFileKind.RPI_CMDLINE,
        line=target.edit_line,
        variable=target.edit_variable,
        add=tuple(add),
        remove=tuple(removals),
        join_lines=join,
        commands=commands,
        notes=(
            (
                "re-run `kernel-install add <version> <kernel image>` for the kernel to boot "
                "(kernel-install reads /etc/kernel/cmdline only when it installs a kernel)",
            )
            if target.kind is BootFileKind.KERNEL_CMDLINE
            else ()
        ),
        reboot=reboot,
    )
    if edit.empty:
        return CmdlineEdit(edit.path, edit.kind, edit.line, edit.variable, reboot=reboot)
    return edit


# --------------------------------------------------------------------------------------
# what the kernel said about its command line at boot (live and bundles only)

KERNEL_LOG_COMMAND = "journalctl-kernel"
_BOOT_MESSAGES = (
    "Unknown kernel command line parameters",
    "cgroup: Disabling ",
    "cgroup: Enabling ",
)


def cgroup_boot_messages(facts: Facts) -> tuple[Evidence, ...]:
    """The kernel's own words about cgroup parameters this boot: ``cgroup: Disabling memory
    control group subsystem``, ``Unknown kernel command line parameters "..."`` (research
    incidents.md §1). Empty offline or when the journal cannot be read."""
    result = facts.root.run(KERNEL_LOG_COMMAND)
    if result is None or not result.ok:
        return ()
    found: list[Evidence] = []
    for line in result.stdout.splitlines():
        if any(m in line for m in _BOOT_MESSAGES) and (
            "cgroup" in line or "Unknown kernel command line" in line
        ):
            found.append(Evidence(result.display, line.strip()))
    return tuple(found)
