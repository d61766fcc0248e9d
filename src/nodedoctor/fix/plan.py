"""A fix plan is data: file edits, commands, restarts, a reboot and instructions.

The appliers of remedy steps (``fix/appliers.py``) never write files. They read the node
through a :class:`Workspace` (which sees the edits planned before, so two findings in one
file chain) and record what the steps ask for; the engine (``fix/engine.py``) shows the plan
as a diff and applies it.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field

from nodedoctor._record import record
from nodedoctor.facts import Facts
from nodedoctor.model import Finding
from nodedoctor.sources.root import UnsafePathError


def sha256(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


class StepKind(enum.Enum):
    EDIT = "edit"
    CREATE = "create"


@record
class Reason:
    """Why a file changes: the finding's rule and what the edit does."""

    rule: str
    description: str


@record
class Step:
    """One file's change: its bytes before (``None`` when created) and after."""

    path: str
    kind: StepKind
    original: bytes | None
    new: bytes
    reasons: tuple[Reason, ...]
    #: The format the engine re-parses the new bytes with before writing (``toml``,
    #: ``yaml``, ``cmdline``, ``grub``, ``systemd``; ``text``: none).
    format: str = "text"
    #: Mode for a created file (an edited file keeps its own).
    create_mode: int = 0o644

    @property
    def original_sha256(self) -> str | None:
        return sha256(self.original)

    @property
    def new_sha256(self) -> str:
        return sha256(self.new) or ""

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.rule for r in self.reasons))


#: Programs a plan may run (live, with --apply only); anything else is refused.
FIX_PROGRAMS = frozenset(
    {
        "systemctl",
        "update-grub",
        "grub-mkconfig",
        "grub2-mkconfig",
        "grubby",
        "snap",
        # remedies/sysctl.py: kernel settings, modules and swap before Kubernetes
        "sysctl",
        "modprobe",
        "swapoff",
    }
)


@record
class Command:
    """A command run after the edits, live and with ``--apply`` only (never through a shell)."""

    argv: tuple[str, ...]
    rule: str
    why: str

    def __post_init__(self) -> None:
        if not self.argv or self.argv[0] not in FIX_PROGRAMS:
            raise ValueError(f"{self.argv!r}: not a program a fix may run")

    @property
    def display(self) -> str:
        return " ".join(self.argv)

    @property
    def touches(self) -> tuple[str, ...]:
        """The files the command rewrites (node paths; ``*`` in the last component), which
        an apply journals before running it so that rollback restores them too."""
        program = self.argv[0]
        if program == "grubby":
            # RHEL 8+ (a plan uses grubby only where /boot/loader/entries exists): each
            # kernel's BLS entry, RHEL 8's kernelopts in grubenv, and /etc/default/grub,
            # which some grubby versions keep in step. A file it leaves alone is journaled
            # all the same; rollback leaves an unchanged file unchanged.
            return ("/boot/loader/entries/*.conf", "/boot/grub2/grubenv", "/etc/default/grub")
        if program == "update-grub":
            return ("/boot/grub/grub.cfg",)
        if program in ("grub-mkconfig", "grub2-mkconfig") and "-o" in self.argv[:-1]:
            return (self.argv[self.argv.index("-o") + 1],)
        return ()


@record
class Restart:
    """A service the plan names; restarted only with ``--restart`` on a live node."""

    service: str
    #: The rules whose fix needs this restart to take effect.
    rules: tuple[str, ...]
    #: ``systemctl`` (``systemctl restart <unit>``) or ``snap`` (``snap restart <snap>``).
    manager: str = "systemctl"

    @property
    def argv(self) -> tuple[str, ...]:
        if self.manager == "snap":
            return ("snap", "restart", self.service)
        return ("systemctl", "restart", self.service)


@record
class Instruction:
    """Something the tool will not do itself, and why: the user does it by hand."""

    rule: str
    text: str
    why: str


@record
class Refusal:
    """A finding the tool could fix in principle but will not touch on this node."""

    rule: str
    path: str | None
    reason: str


@record
class Plan:
    steps: tuple[Step, ...] = ()
    commands: tuple[Command, ...] = ()
    restarts: tuple[Restart, ...] = ()
    reboot: tuple[str, ...] = ()  # rules whose fix needs a reboot
    #: Rules whose finding reads running state (cgroups) and clears only after a restart.
    after_restart: tuple[str, ...] = ()
    instructions: tuple[Instruction, ...] = ()
    refusals: tuple[Refusal, ...] = ()
    #: Findings the plan addresses (steps, commands or instructions), by rule id.
    addressed: tuple[str, ...] = ()
    #: Findings that carry no remedy, by rule id.
    unfixable: tuple[str, ...] = ()

    @property
    def actionable(self) -> bool:
        """True when applying would change something (files or commands)."""
        return bool(self.steps or self.commands)

    @property
    def reboot_required(self) -> bool:
        return bool(self.reboot)


@dataclass
class Workspace:
    """What appliers see and record. Reads return the bytes as planned so far."""

    facts: Facts
    #: Every finding of the run (a remedy may wait for another, e.g. a workaround's cause).
    findings: tuple[Finding, ...] = ()
    _planned: dict[str, bytes] = field(default_factory=dict)
    _original: dict[str, bytes | None] = field(default_factory=dict)
    _reasons: dict[str, list[Reason]] = field(default_factory=dict)
    _formats: dict[str, str] = field(default_factory=dict)
    _modes: dict[str, int] = field(default_factory=dict)
    commands: list[Command] = field(default_factory=list)
    restarts: list[Restart] = field(default_factory=list)
    reboot: list[str] = field(default_factory=list)
    after_restart: list[str] = field(default_factory=list)
    instructions: list[Instruction] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)

    # -- reading ------------------------------------------------------------
    def read_bytes(self, path: str) -> bytes | None:
        """The file's bytes as planned so far (``None`` when absent or unreadable)."""
        if path in self._planned:
            return self._planned[path]
        self.facts.root.resolve(path)  # a link leaving the root: UnsafePathError, a refusal
        got = self.facts.root.read_bytes(path)
        if got is None:
            return None
        data, truncated = got
        if truncated:
            raise UnsafePathError(f"{path}: too large to edit safely")
        return data

    def read_text(self, path: str) -> str | None:
        data = self.read_bytes(path)
        if data is None:
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return None

    def exists(self, path: str) -> bool:
        return path in self._planned or self.facts.root.exists(path)

    # -- recording ----------------------------------------------------------
    def write_text(
        self, path: str, text: str, *, rule: str, description: str, fmt: str, mode: int = 0o644
    ) -> None:
        """Plan ``path``'s new content; nothing is planned when it would not change."""
        new = text.encode("utf-8")
        if path not in self._original:
            self._original[path] = self.read_bytes(path)
        current = self._planned.get(path, self._original[path])
        if current == new:
            return
        self._planned[path] = new
        self._reasons.setdefault(path, []).append(Reason(rule, description))
        self._formats[path] = fmt
        self._modes.setdefault(path, mode)

    def run(self, argv: tuple[str, ...], rule: str, why: str) -> None:
        cmd = Command(argv, rule, why)
        if all(c.argv != argv for c in self.commands):
            self.commands.append(cmd)

    def restart(self, service: str, rule: str, manager: str = "systemctl") -> None:
        for i, r in enumerate(self.restarts):
            if r.service == service:
                if rule not in r.rules:
                    self.restarts[i] = Restart(service, (*r.rules, rule), r.manager)
                return
        self.restarts.append(Restart(service, (rule,), manager))

    def need_reboot(self, rule: str) -> None:
        if rule not in self.reboot:
            self.reboot.append(rule)

    def clears_after_restart(self, rule: str) -> None:
        """The rule checks running state: it passes only once the service restarted."""
        if rule not in self.after_restart:
            self.after_restart.append(rule)

    def instruct(self, rule: str, text: str, why: str) -> None:
        item = Instruction(rule, text, why)
        if item not in self.instructions:
            self.instructions.append(item)

    def refuse(self, rule: str, path: str | None, reason: str) -> None:
        item = Refusal(rule, path, reason)
        if item not in self.refusals:
            self.refusals.append(item)

    def snapshot(self) -> tuple[object, ...]:
        """Everything recorded so far (to undo a remedy that is refused half-way)."""
        return (
            dict(self._planned),
            dict(self._original),
            {k: list(v) for k, v in self._reasons.items()},
            dict(self._formats),
            dict(self._modes),
            list(self.commands),
            list(self.restarts),
            list(self.reboot),
            list(self.after_restart),
            list(self.instructions),
        )

    def restore(self, snap: tuple[object, ...]) -> None:
        (
            self._planned,
            self._original,
            self._reasons,
            self._formats,
            self._modes,
            self.commands,
            self.restarts,
            self.reboot,
            self.after_restart,
            self.instructions,
        ) = snap  # type: ignore[assignment]

    def edited_since(self, snap: tuple[object, ...]) -> bool:
        """Whether file edits were planned since ``snap``."""
        return self._planned != snap[0]

    def drop_commands_since(self, snap: tuple[object, ...]) -> None:
        """Forget commands recorded since ``snap`` (they only make sense after an edit)."""
        self.commands = list(snap[5])  # type: ignore[call-overload]

    # -- result -------------------------------------------------------------
    def steps(self) -> tuple[Step, ...]:
        out: list[Step] = []
        for path, new in self._planned.items():
            original = self._original[path]
            if original == new:
                continue
            out.append(
                Step(
                    path=path,
                    kind=StepKind.EDIT if original is not None else StepKind.CREATE,
                    original=original,
                    new=new,
                    reasons=tuple(self._reasons[path]),
                    format=self._formats[path],
                    create_mode=self._modes[path],
                )
            )
        return tuple(out)
