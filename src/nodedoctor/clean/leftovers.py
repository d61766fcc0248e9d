"""The clean steps for what a gone cluster leaves besides mounts and cgroups, planned from the
facts the rules judge (never re-derived here):

- ``move`` into the journal (``clean/journal.py``; ``rollback`` moves them back): orphaned pod
  directories (``facts/poddirs.py``), the cluster CNIs' configuration files and Calico's
  ``calico-kubeconfig`` beside them (``facts/cni.py``), the CNIs' state directories (a whole
  directory when everything in it is the cluster's, else its cluster entries), and what
  ``kubeadm reset`` deletes (``facts/kubeadm_leftovers.py``);
- ``delete-link``: the CNIs' and kube-proxy's interfaces (saved as ``ip -d addr show``
  output; the next CNI creates its own, rollback does not);
- ``remove-chains``: per backend and table, the allowlisted iptables chains and the rules
  that jump to them (the table's dump is saved as ``iptables-restore`` input first);
- ``delete-table``: kube-proxy's, Calico's and Flannel's nftables tables (saved as ``nft -f``
  input first).

All of it only where the cluster is gone (``KubeletState.removed``), except the pod
directories the running kubelet's own log names, which may go while it runs.
"""

from __future__ import annotations

from nodedoctor.clean.steps import Kept, Step
from nodedoctor.facts import Facts
from nodedoctor.facts.cni import CNI_BRIDGES, cni_facts
from nodedoctor.facts.kubeadm_leftovers import kubeadm_leftovers
from nodedoctor.facts.mounts import mount_table
from nodedoctor.facts.netfilter import chain_owner, netfilter_facts
from nodedoctor.facts.poddirs import orphaned_pod_dirs
from nodedoctor.facts.teardown import teardown_facts
from nodedoctor.i18n import _
from nodedoctor.model import Evidence

#: Files a CNI writes beside its network configuration (Calico's install-cni writes the
#: kubeconfig its plugin reads: cni-plugin/pkg/install/install.go).
CNI_COMPANIONS = {"Calico": ("calico-kubeconfig",)}


def _pod_steps(facts: Facts) -> list[Step]:
    found = facts.get(orphaned_pod_dirs)
    steps: list[Step] = []
    # One reason for every pod (a teardown may leave thousands).
    reason = (
        _(
            "the kubelet reports this pod as orphaned and cannot remove its directory: volume "
            "paths are still in it; moved into the journal after what is mounted below is gone"
        )
        if found.mode == "kubelet-log"
        else _(
            "the directory of a pod that is gone with the cluster, volume paths in it; moved "
            "into the journal after what is mounted below is gone"
        )
    )
    for pod in found.pods:
        steps.append(
            Step(
                action="move",
                path=pod.path,
                kind="pod-dir",
                reason=reason,
                evidence=pod.evidence[0],
                while_running=found.mode == "kubelet-log",
            )
        )
    return steps


def _cni_steps(facts: Facts) -> list[Step]:
    cni = facts.get(cni_facts)
    steps: list[Step] = []
    for c in cni.configs:
        steps.append(
            Step(
                action="move",
                path=c.path,
                kind="cni-config",
                reason=_(
                    "{owner}'s network configuration of a cluster that is gone; the runtime "
                    "would load it before the next CNI's"
                ).format(owner=c.owner),
                evidence=c.evidence,
            )
        )
        directory = c.path.rsplit("/", 1)[0]
        for name in CNI_COMPANIONS.get(c.owner, ()):
            companion = f"{directory}/{name}"
            if facts.root.exists(companion) and all(s.path != companion for s in steps):
                steps.append(
                    Step(
                        action="move",
                        path=companion,
                        kind="cni-config",
                        reason=_("written by {owner}'s installer beside its configuration").format(
                            owner=c.owner
                        ),
                        evidence=Evidence(companion, "present"),
                    )
                )
    for state in cni.state:
        paths = [state.path] if state.whole else [f"{state.path}/{e}" for e in state.entries]
        for path in paths:
            steps.append(
                Step(
                    action="move",
                    path=path,
                    kind="cni-state",
                    reason=_(
                        "{owner}: state of a cluster that is gone, which the next CNI would "
                        "start from"
                    ).format(owner=state.owner),
                    evidence=state.evidence,
                )
            )
    # A bridge last: the pod veths enslaved to it are told by it (clean/engine.py).
    for iface in sorted(cni.interfaces, key=lambda i: i.name in CNI_BRIDGES):
        if not iface.removable:
            continue
        steps.append(
            Step(
                action="delete-link",
                path=iface.name,
                kind="interface",
                reason=_(
                    "made by {owner}; the next CNI creates its own (its addresses are saved in "
                    "the journal, the interface is not re-created by rollback)"
                ).format(owner=iface.owner),
                evidence=iface.evidence,
            )
        )
    return steps


def _netfilter_steps(facts: Facts, notes: list[str]) -> list[Step]:
    nf = facts.get(netfilter_facts)
    if not nf.known:
        if facts.live:
            notes.append(
                _("packet filter rules not planned: {reason}").format(reason=nf.unknown_reason)
            )
        return []
    steps: list[Step] = []
    seen: set[tuple[str, str]] = set()
    for c in nf.chains:
        key = (c.ruleset.command, c.table)
        if key in seen:
            continue
        seen.add(key)
        chains = tuple(x.chain for x in nf.chains if (x.ruleset.command, x.table) == key)
        owners = sorted({chain_owner(name) or "" for name in chains})
        steps.append(
            Step(
                action="remove-chains",
                path=f"{c.ruleset.command} table {c.table}",
                kind="iptables",
                reason=_(
                    "{n} chain(s) of {owners} and the rules that jump to them; the table is "
                    "saved as iptables-restore input first"
                ).format(n=len(chains), owners=", ".join(owners)),
                evidence=c.evidence,
                command=c.ruleset.command,
                table=c.table,
                chains=chains,
            )
        )
    for t in nf.nft_tables:
        steps.append(
            Step(
                action="delete-table",
                path=f"nft table {t.family} {t.name}",
                kind="nftables",
                reason=_("{owner}'s table; saved as nft -f input first").format(owner=t.owner),
                evidence=t.evidence,
                table=f"{t.family} {t.name}",
            )
        )
    return steps


def _kubeadm_steps(facts: Facts) -> list[Step]:
    found = facts.get(kubeadm_leftovers)
    if not found.gone:
        return []
    checks = {b.path: b for b in found.blockers}
    steps: list[Step] = []
    for path in found.reset_paths:
        blocker = checks.get(path) or checks.get(path.rsplit("/", 1)[0])
        evidence = blocker.evidence if blocker else Evidence(path, "present")
        steps.append(
            Step(
                action="move",
                path=path,
                kind="kubeadm",
                reason=_(
                    "left by a kubeadm cluster that is gone; 'kubeadm reset' deletes it, and the "
                    "next 'kubeadm init' or 'join' stops on it or reuses it"
                ),
                evidence=evidence,
            )
        )
    return steps


def _mount_points_kept(facts: Facts, steps: list[Step], kept: list[Kept]) -> list[Step]:
    """A path to move that is a mount point stays (moving it fails, and it is a disk or a
    filesystem someone mounted there): kept, with why."""
    points = {m.mount_point for m in facts.get(mount_table).mounts}
    out: list[Step] = []
    for step in steps:
        if step.action == "move" and step.path in points:
            kept.append(
                Kept(
                    step.path,
                    step.kind,
                    _("a mount point: moving it would fail; remove its contents by hand"),
                    step.evidence,
                )
            )
        else:
            out.append(step)
    return out


def plan_leftovers(facts: Facts) -> tuple[list[Step], list[Kept], list[str]]:
    """The moves, interface deletions and rule removals for ``facts``' node."""
    notes: list[str] = []
    kept: list[Kept] = []
    steps = _pod_steps(facts)
    kubelet = facts.get(teardown_facts).kubelet
    if kubelet.removed:
        steps += _cni_steps(facts)
        steps += _kubeadm_steps(facts)
        steps += _netfilter_steps(facts, notes)
    steps = _mount_points_kept(facts, steps, kept)
    if not kubelet.removed:
        return steps, kept, notes
    for iface in facts.get(cni_facts).interfaces:
        if not iface.removable:
            kept.append(
                Kept(
                    iface.name,
                    "interface",
                    _(
                        "the ipip module's own device: it goes only with the module "
                        "(modprobe -r ipip) or at reboot"
                    ),
                    iface.evidence,
                )
            )
    return steps, kept, notes
