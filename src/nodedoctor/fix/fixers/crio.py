"""CRI-O: the cgroup manager through a drop-in in ``/etc/crio/crio.conf.d`` (the last file in
lexical order wins; the main file has the lowest precedence), with ``conmon_cgroup = "pod"``
wherever the current value would make CRI-O refuse to start (always for cgroupfs, as the
Kubernetes documentation says; research runtimes.md §2).
"""

from __future__ import annotations

from nodedoctor.facts.crio import DROP_INS, crio_facts
from nodedoctor.fix.fixers.base import FixerEntry
from nodedoctor.fix.plan import Workspace
from nodedoctor.fix.textedit import EditError
from nodedoctor.fix.tomledit import set_key
from nodedoctor.model import Finding

DROP_IN = f"{DROP_INS}/99-nodedoctor-cgroup-manager.conf"


def set_crio_manager(ws: Workspace, manager: str, rule: str) -> None:
    crio = ws.facts.get(crio_facts)
    if crio.unknown:
        raise EditError(crio.unknown)
    later = [f for f in crio.files if f.startswith(DROP_INS + "/") and f > DROP_IN]
    if later:
        raise EditError(
            f"{later[-1]} sorts after {DROP_IN} and would win over it; edit it by hand", later[-1]
        )
    if any(p.handler is not None for p in crio.problems):
        raise EditError(
            "a runtime handler sets monitor_cgroup to a value CRI-O rejects; fix that handler "
            "by hand (a partial handler table in a drop-in is not safe)",
            crio.problems[0].file,
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
        f"# nodedoctor: cgroup manager to match the kubelet's cgroup driver\n"
        f"[crio.runtime]\n{body}\n"
    )
    existing = ws.read_text(DROP_IN)
    if existing is not None and existing != text and not existing.startswith("# nodedoctor:"):
        raise EditError(f"{DROP_IN} exists and is not nodedoctor's", DROP_IN)
    ws.write_text(
        DROP_IN,
        text,
        rule=rule,
        description=", ".join(f"{k} = {v}" for k, v in settings) + " (drop-in, wins last)",
        fmt="toml",
    )
    ws.restart("crio.service", rule)


def fix_conmon_cgroup(ws: Workspace, finding: Finding) -> None:
    """Set each rejected ``conmon_cgroup`` / ``monitor_cgroup`` to ``"pod"`` (valid with
    both managers) in the file whose line wins, changing only that value."""
    crio = ws.facts.get(crio_facts)
    if crio.unknown:
        raise EditError(crio.unknown)
    if not crio.problems:
        raise EditError("CRI-O's facts show no rejected monitor cgroup")
    for problem in crio.problems:
        path = problem.file
        if problem.handler is None:
            table, key = ["crio", "runtime"], "conmon_cgroup"
        else:
            table, key = ["crio", "runtime", "runtimes", problem.handler], "monitor_cgroup"
        text = ws.read_text(path)
        if text is None:
            raise EditError("cannot read it as UTF-8 text", path).at(path)
        try:
            new = set_key(text, table, key, "pod")
        except EditError as exc:
            raise exc.at(path) from None
        ws.write_text(
            path,
            new,
            rule=finding.rule,
            description=f'{key} = "pod" (was "{problem.value}": {problem.message})',
            fmt="toml",
        )
    ws.restart("crio.service", finding.rule)


FIXERS = (FixerEntry("crio-conmon-cgroup-invalid", fix_conmon_cgroup),)
