"""RHEL-family Boot Loader Specification entries (``/boot/loader/entries``): the kernel
command line GRUB's ``blscfg`` gives each kernel, and the one the next boot uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nodedoctor._record import record
from nodedoctor.facts import Facts
from nodedoctor.facts.boot.chain import DEFAULT_GRUB
from nodedoctor.facts.boot.cmdline import PlacedParam, placed_params
from nodedoctor.facts.boot.verdicts import controller_verdict
from nodedoctor.i18n import _
from nodedoctor.model import Evidence
from nodedoctor.parsers.cmdline import parse_cmdline

if TYPE_CHECKING:  # the BLS parser is imported where /boot/loader/entries exists
    from nodedoctor.parsers.bls import BlsEntry, EnvVar

BLS_ENTRIES = "/boot/loader/entries"
GRUBENV = "/boot/grub2/grubenv"


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
        return _(
            "{path} has no options line (GRUB's blscfg then uses $default_kernelopts from "
            "grub.cfg, which is not read here)"
        ).format(path=path)
    if len(options) > 1:
        lines = ", ".join(str(o.line) for o in options)
        return _(
            "{path} has {n} options lines ({lines}): GRUB's blscfg uses only the first, the "
            "Boot Loader Specification combines them"
        ).format(path=path, n=len(options), lines=lines)
    braced = braced_variables(options[0].value)
    if braced:
        return _(
            "{path} uses {variable} (line {line}), which GRUB's blscfg does not expand (it "
            "knows $name only)"
        ).format(path=path, variable=braced[0], line=options[0].line)
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
                    placed_params(
                        found, GRUBENV, var.line, "", start=len(params) + 1, variable=name
                    )
                )
                continue
            text, missing = expand_variables(token.text, values)
            unresolved.extend(m for m in missing if m not in unresolved)
            found = parse_cmdline(text)
            params.extend(placed_params(found, path, ln.line, "", start=len(params) + 1))
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
    paths = facts.drop_ins(BLS_ENTRIES, "*.conf")
    if facts.parse_failed(BLS_ENTRIES):
        problems.append(_("{path} cannot be read").format(path=BLS_ENTRIES))
    for path in paths:
        name = path.rsplit("/", 1)[-1]
        if name.startswith("."):
            continue  # GRUB's blscfg read_entry skips them
        parsed = facts.parse(path, parse_bls_entry)
        if parsed is None:
            problems.append(_("{path} cannot be read as a boot entry").format(path=path))
            continue
        if not parsed.bootable:
            continue  # the spec: an entry has a linux or efi key; this is not one
        unknown = _unknown_params(parsed, path)
        params, unresolved = ([], ()) if unknown else _entry_params(parsed, path, env)
        if unknown:
            problems.append(unknown)
        elif "kernelopts" in unresolved:
            problems.append(
                (
                    _("{path} uses $kernelopts, which {grubenv} cannot be read for")
                    if env_problem
                    else _("{path} uses $kernelopts, which {grubenv} does not set")
                ).format(path=path, grubenv=GRUBENV)
            )
        entries.append(
            BootEntry(
                path=path,
                id=name[: -len(".conf")],
                title=parsed.first("title"),
                version=parsed.first("version"),
                params=tuple(params),
                options=tuple(Evidence(path, ln.text.strip(), ln.line) for ln in parsed.options),
                unresolved=unresolved,
                unknown=unknown,
            )
        )
    if problems or not entries:
        reason = "; ".join(problems) or _("no boot entry in {path}").format(path=BLS_ENTRIES)
        return BootEntries(
            entries=tuple(entries), default=None, next_params=None, next_reason=reason
        )
    default: BootEntry | None = None
    how = ""
    ev: list[Evidence] = []
    by_id = {e.id: e for e in entries}
    if len(entries) == 1:
        default, how = entries[0], _("the only boot entry")
    elif _grub_default(facts) == "saved":
        for var, why in (
            ("next_entry", _("next_entry in grubenv (grub2-reboot: the next boot only)")),
            ("saved_entry", _("saved_entry in grubenv, with GRUB_DEFAULT=saved")),
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
            entries=tuple(entries),
            default=default,
            next_params=default.params,
            next_reason=_("{path} is the default boot entry ({how})").format(
                path=default.path, how=how
            ),
            next_evidence=(*ev, *shown(default)),
        )
    views = {tuple(p.text for p in e.relevant) for e in entries}
    if len(views) == 1:
        first = entries[0]
        return BootEntries(
            entries=tuple(entries),
            default=None,
            next_params=first.params,
            next_reason=_(
                "which of the {n} boot entries is the default cannot be told here (GRUB sorts "
                "them itself); they all have the same cgroup parameters"
            ).format(n=len(entries)),
            next_evidence=tuple(dict.fromkeys(x for e in entries for x in shown(e))),
        )
    return BootEntries(
        entries=tuple(entries),
        default=None,
        next_params=None,
        next_reason=_(
            "which of the {n} boot entries is the default cannot be told here, and they "
            "disagree on the cgroup parameters"
        ).format(n=len(entries)),
        next_evidence=tuple(dict.fromkeys(x for e in entries for x in shown(e))),
    )
