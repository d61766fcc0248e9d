"""crio-conmon-cgroup-invalid: CRI-O's conmon_cgroup does not fit its cgroup_manager (research
runtimes.md §2)."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.crio import UNSET_REFUSED_TEXT, crio_facts
from nodedoctor.facts.versions import Version
from nodedoctor.i18n import N_, _
from nodedoctor.model import FixHint, Issue, Severity
from nodedoctor.rules.base import Rule, SkipRuleError


def _check_conmon(facts: Facts) -> Iterator[Issue]:
    cr = facts.get(crio_facts)
    if not cr.present:
        raise SkipRuleError(_("CRI-O is not installed"))
    if cr.unknown:
        raise SkipRuleError(cr.unknown)
    manager = cr.cgroup_manager
    for p in cr.problems:
        key = "conmon_cgroup" if p.handler is None else "monitor_cgroup"
        systemd = manager is not None and manager.value == "systemd"
        if p.value:
            template = (
                _("CRI-O refuses conmon_cgroup = {value!r} with cgroup_manager {manager}")
                if p.handler is None
                else _(
                    "CRI-O refuses monitor_cgroup of runtime {handler} = {value!r} with "
                    "cgroup_manager {manager}"
                )
            )
            title = template.format(
                handler=p.handler, value=p.value, manager=manager.value if manager else "?"
            )
            message = _("CRI-O fails to start: `{error}`").format(error=p.message)
            evidence = (p.evidence, *((manager.evidence,) if manager else ()))
        else:
            # cgroupfs with conmon_cgroup unset: refused by some releases only.
            if cr.version:
                title = _("CRI-O {version} refuses cgroup_manager cgroupfs without conmon_cgroup")
            else:
                title = _("{versions} refuse cgroup_manager cgroupfs without conmon_cgroup")
            title = title.format(
                version=_minor(cr.version.value) if cr.version else "",
                versions=_(UNSET_REFUSED_TEXT),
            )
            template = (
                _(
                    "CRI-O's version is unknown here. {versions} give an unset monitor cgroup "
                    "the default system.slice, which the cgroupfs manager refuses: CRI-O fails "
                    "to start with `{error}`; 1.33.0 and later leave it empty and start (cri-o "
                    "a4c67cc6c2)"
                )
                if p.versions
                else _(
                    "{versions} give an unset monitor cgroup the default system.slice, which the "
                    "cgroupfs manager refuses: CRI-O fails to start with `{error}`; 1.33.0 and "
                    "later leave it empty and start (cri-o a4c67cc6c2)"
                )
            )
            message = template.format(versions=_(UNSET_REFUSED_TEXT), error=p.message)
            evidence = (p.evidence, *p.also, *((cr.version.evidence,) if cr.version else ()))
        from nodedoctor.remedies.crio import conmon_remedy  # only for a finding

        fix = (
            _('set {key} = "pod" or a ".slice" in {file} (the file that wins), then restart crio')
            if systemd
            else _('set {key} = "pod" in {file} (the file that wins), then restart crio')
        )
        yield Issue(
            title=title,
            message=message,
            evidence=evidence,
            severity=Severity.WARNING if p.versions else None,
            fix=FixHint(
                summary=fix.format(key=key, file=p.file),
                files=(p.file,),
                restart=("crio",),
            ),
            impact=(
                _(
                    "on {versions} crio does not start; the kubelet cannot reach the runtime and "
                    "the node stays NotReady"
                ).format(versions=_(p.versions))
                if p.versions
                else _(
                    "crio does not start; the kubelet cannot reach the runtime and the node "
                    "stays NotReady"
                )
            ),
            remedy=conmon_remedy(facts),
        )


def _minor(version: Version) -> str:
    return f"{version.release[0]}.{version.release[1]}"


RULE = Rule(
    id="crio-conmon-cgroup-invalid",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    title=N_("CRI-O's conmon_cgroup does not fit its cgroup_manager"),
    check=_check_conmon,
    tags=("cri-o", "cgroup", "runtime"),
    applies_to=N_(
        "CRI-O; system.slice with cgroupfs, or cgroupfs without conmon_cgroup from 1.25.1, only "
        "before 1.33"
    ),
)
