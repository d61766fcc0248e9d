"""CRI-O's remedies: the cgroup manager through a drop-in in ``/etc/crio/crio.conf.d`` (the
last file in lexical order wins; the main file has the lowest precedence), with
``conmon_cgroup = "pod"`` wherever the current value would make CRI-O refuse to start (always
for cgroupfs, as the Kubernetes documentation says; research runtimes.md §2), and a rejected
``conmon_cgroup`` / ``monitor_cgroup`` set to ``"pod"`` where it is written.
"""

from __future__ import annotations

from nodedoctor.facts import Facts
from nodedoctor.facts.crio import DROP_INS, crio_facts
from nodedoctor.i18n import _
from nodedoctor.remedies.steps import Refuse, Remedy, Restart, Step, TomlSet, WriteFile, refused

DROP_IN = f"{DROP_INS}/99-nodedoctor-cgroup-manager.conf"
#: The first line of the drop-in nodedoctor writes (a later fix may rewrite its own file).
OWN_MARK = "# nodedoctor:"


def manager_steps(facts: Facts, manager: str) -> tuple[Step, ...]:
    """CRI-O's ``cgroup_manager`` set to ``manager`` by nodedoctor's drop-in, which sorts
    last; refused where a later drop-in or a handler's monitor cgroup stands in the way."""
    crio = facts.get(crio_facts)
    if crio.unknown:
        return (Refuse(crio.unknown),)
    later = [f for f in crio.files if f.startswith(DROP_INS + "/") and f > DROP_IN]
    if later:
        return (
            Refuse(
                _("{path} sorts after {drop_in} and would win over it; edit it by hand").format(
                    path=later[-1], drop_in=DROP_IN
                ),
                later[-1],
            ),
        )
    if any(p.handler is not None for p in crio.problems):
        return (
            Refuse(
                _(
                    "a runtime handler sets monitor_cgroup to a value CRI-O rejects; fix that "
                    "handler by hand (a partial handler table in a drop-in is not safe)"
                ),
                crio.problems[0].file,
            ),
        )
    settings = [("cgroup_manager", manager)]
    conmon = crio.conmon_cgroup.value if crio.conmon_cgroup else ""
    valid = (
        conmon in ("", "pod")
        if manager == "cgroupfs"
        else (conmon in ("", "pod") or conmon.endswith(".slice"))
    )
    if manager == "cgroupfs" or not valid:
        settings.append(("conmon_cgroup", "pod"))
    body = "\n".join(f'{k} = "{v}"' for k, v in settings)
    text = (
        f"{OWN_MARK} cgroup manager to match the kubelet's cgroup driver\n[crio.runtime]\n{body}\n"
    )
    return (
        WriteFile(
            DROP_IN,
            text,
            description=_("{settings} (drop-in, wins last)").format(
                settings=", ".join(f"{k} = {v}" for k, v in settings)
            ),
            fmt="toml",
            own_mark=OWN_MARK,
        ),
        Restart("crio.service"),
    )


def conmon_remedy(facts: Facts) -> Remedy:
    """``crio-conmon-cgroup-invalid``: each rejected ``conmon_cgroup`` / ``monitor_cgroup``
    set to ``"pod"`` (valid with both managers) in the file whose line wins, changing only
    that value."""
    crio = facts.get(crio_facts)
    if crio.unknown:
        return refused(crio.unknown)
    if not crio.problems:
        return refused(_("CRI-O's facts show no rejected monitor cgroup"))
    steps: list[Step] = []
    for problem in crio.problems:
        if problem.handler is None:
            table: tuple[str, ...] = ("crio", "runtime")
            key = "conmon_cgroup"
        else:
            table, key = ("crio", "runtime", "runtimes", problem.handler), "monitor_cgroup"
        steps.append(
            TomlSet(
                problem.file,
                table,
                key,
                "pod",
                description=_('{key} = "pod" (was "{value}": {message})').format(
                    key=key, value=problem.value, message=problem.message
                ),
            )
        )
    steps.append(Restart("crio.service"))
    return Remedy(tuple(steps))
