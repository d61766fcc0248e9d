"""resources-below-minimum: fewer CPUs or less memory than the deployer requires of the node's
role: kubeadm's preflight for a control plane (NumCPU: 2 CPUs, since 1.13; Mem: 1700 MB, since
1.20; cmd/kubeadm/app/preflight/checks.go, constants.ControlPlaneNumCPU/ControlPlaneMem),
Kubespray's preinstall asserts (minimal_master_memory_mb 1500, minimal_node_memory_mb 1024),
and the minimums k3s and RKE2 document (not enforced)."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor._record import record
from nodedoctor.facts import Facts, Sourced
from nodedoctor.facts.noderole import CONTROL_PLANE, WORKER, NodeRole, node_role
from nodedoctor.facts.profile import deployer_profile
from nodedoctor.facts.resources import node_resources
from nodedoctor.i18n import N_, _, ngettext
from nodedoctor.model import FixHint, Issue, Severity
from nodedoctor.rules.base import Rule, SkipRuleError

#: Deployers that run ``kubeadm init`` / ``join`` (KubeKey and Kubespray drive kubeadm;
#: Kubespray's ``kubeadm_ignore_preflight_errors`` is empty by default).
_KUBEADM_DRIVEN = ("kubeadm", "kubekey", "kubespray")
#: Memory a machine sold with N GB shows as MemTotal is less (firmware, GPU and kernel
#: reservations: a 2 GB Raspberry Pi 4 shows about 1850 MiB); a documented nominal size is
#: compared with this share of it.
_NOMINAL_SHARE = 0.85


@record
class Minimum:
    """One requirement: who sets it, on what, and whether it stops the deployment. Its texts
    are in English (``N_``) and translated where the finding is built."""

    #: ``cpus`` or ``memory``.
    resource: str
    #: In CPUs, or MiB of MemTotal.
    value: int
    #: The requirement as its source words it (``2 CPUs``, ``1700 MB``, ``2 GB``).
    shown: str
    #: Who requires it, of which nodes.
    source: str
    #: What the deployer prints when the node is below it (``{n}``: the node's figure).
    message: str = ""
    #: The deployer stops (kubeadm's preflight, Kubespray's asserts); else only documented.
    enforced: bool = True
    #: Required of control planes only (kubeadm checks ``init`` and ``join --control-plane``).
    control_plane_only: bool = True
    #: Who stops the deployment, for the title (an enforced minimum's).
    enforcer: str = ""


def _gb(nominal_gb: float) -> int:
    return int(nominal_gb * 1024 * _NOMINAL_SHARE)


KUBEADM_PREFLIGHT = N_("kubeadm's preflight")
KUBESPRAY_PREINSTALL = N_("Kubespray's preinstall")
KUBEADM_CPUS = Minimum(
    "cpus",
    2,
    N_("2 CPUs"),
    N_("kubeadm's preflight (NumCPU) for a control plane"),
    "[ERROR NumCPU]: the number of available CPUs {n} is less than the required 2",
    enforcer=KUBEADM_PREFLIGHT,
)
KUBEADM_MEMORY = Minimum(
    "memory",
    1700,
    "1700 MB",
    N_("kubeadm's preflight (Mem, kubeadm 1.20 and later) for a control plane"),
    "[ERROR Mem]: the system RAM ({n} MB) is less than the minimum 1700 MB",
    enforcer=KUBEADM_PREFLIGHT,
)
KUBESPRAY_MASTER = Minimum(
    "memory",
    1500,
    "1500 MB",
    N_("Kubespray's preinstall (minimal_master_memory_mb) for a kube_control_plane host"),
    N_(
        'its task "Stop if memory is too small for control plane nodes" fails with '
        '"assertion": "ansible_memtotal_mb >= minimal_master_memory_mb", "msg": '
        '"Assertion failed"'
    ),
    enforcer=KUBESPRAY_PREINSTALL,
)
KUBESPRAY_NODE = Minimum(
    "memory",
    1024,
    "1024 MB",
    N_("Kubespray's preinstall (minimal_node_memory_mb) for a kube_node host"),
    N_(
        'its task "Stop if memory is too small for nodes" fails with "assertion": '
        '"ansible_memtotal_mb >= minimal_node_memory_mb", "msg": "Assertion failed"'
    ),
    control_plane_only=False,
    enforcer=KUBESPRAY_PREINSTALL,
)


def _documented(where: str, cpus: str, ncpus: int, nominal_gb: float, shown: str) -> list[Minimum]:
    """A deployer's documented minimum (``where``) of ``cpus`` (``ncpus``) and memory."""
    return [
        Minimum("cpus", ncpus, cpus, where, enforced=False, control_plane_only=False),
        Minimum("memory", _gb(nominal_gb), shown, where, enforced=False, control_plane_only=False),
    ]


def _minimums(profile: str, role: str | None) -> list[Minimum]:
    """What ``profile`` requires of a node of ``role`` (``None``: either role's is shown)."""
    if profile in _KUBEADM_DRIVEN:
        out: list[Minimum] = []
        if role in (CONTROL_PLANE, None):
            out += [KUBEADM_CPUS, KUBEADM_MEMORY]
            if profile == "kubespray":
                out.append(KUBESPRAY_MASTER)
        if profile == "kubespray":
            out.append(KUBESPRAY_NODE)
        return out
    if profile == "k3s":
        # docs.k3s.io/installation/requirements "Hardware": server 2 cores 2 GB, agent 1 core
        # 512 MB. An unknown role is held to the agent's, which every node needs.
        if role == CONTROL_PLANE:
            return _documented(
                N_("k3s's documented minimum for a server"), N_("2 CPUs"), 2, 2, "2 GB"
            )
        return _documented(
            N_("k3s's documented minimum for an agent"), N_("1 CPU"), 1, 0.5, "512 MB"
        )
    if profile == "rke2":
        # docs.rke2.io/install/requirements "Hardware": 2 CPUs and 4 GB for every node.
        return _documented(
            N_("RKE2's documented minimum for every node"), N_("2 CPUs"), 2, 4, "4 GB"
        )
    return []


def _severity(minimum: Minimum, role: NodeRole) -> Severity:
    """Error: the deployer will stop on this node. Warning: it will stop on it unless the host
    is in none of the groups it checks. Info: the role is not known (kubeadm checks control
    planes only), the node already runs (the check was passed or skipped), or the minimum is
    only documented."""
    if not minimum.enforced:
        return Severity.INFO
    if role.declared:
        return Severity.ERROR
    if role.role is None and not minimum.control_plane_only:
        return Severity.WARNING
    return Severity.INFO


def _situation(figure: int, minimum: Minimum, role: NodeRole) -> tuple[str, str]:
    """What the requirement means for this node, and its impact."""
    # Kubespray's failing task is described in words; kubeadm's errors are quoted as printed.
    stops = _(minimum.message).format(n=figure)
    source, shown = _(minimum.source), _(minimum.shown)
    starved = (
        _(
            "the control plane (API server, etcd, controllers) and the pods compete for too "
            "little CPU or memory: slow API calls, etcd timeouts, OOM kills"
        )
        if minimum.control_plane_only or role.role == CONTROL_PLANE
        else _(
            "the kubelet, the runtime and the pods compete for too little CPU or memory: "
            "evictions and OOM kills"
        )
    )
    if not minimum.enforced:
        situation = _("{source} is {shown}; nothing stops the install")
        return situation.format(source=source, shown=shown), starved
    if role.declared:
        return _("{source} is {shown}: it stops: {stops}").format(
            source=source, shown=shown, stops=stops
        ), _("the deployment stops on this node before installing anything")
    if role.role is None and minimum.control_plane_only:
        return (
            _(
                "if this node is to be a control plane, {source} is {shown}: it stops: "
                "{stops} (a worker is not checked; give --role to say which)"
            ).format(source=source, shown=shown, stops=stops),
            _("kubeadm init and kubeadm join --control-plane stop on this node"),
        )
    if role.role is None:
        return (
            _(
                "{source} is {shown}: every kube_node host below it stops: {stops} (an "
                "etcd-only host is not checked; give --role to say which)"
            ).format(source=source, shown=shown, stops=stops),
            _("Kubespray's cluster.yml stops on this host before installing anything"),
        )
    set_up = (
        _(
            "this control-plane was set up although {source} is {shown} (the check was "
            "skipped, or the machine shrank since); a node this size stops: {stops}"
        )
        if role.role == CONTROL_PLANE
        else _(
            "this worker was set up although {source} is {shown} (the check was skipped, or "
            "the machine shrank since); a node this size stops: {stops}"
        )
    )
    return set_up.format(source=source, shown=shown, stops=stops), starved


def _issue(
    figure: Sourced[int], minimum: Minimum, role: NodeRole, profile: str, also: list[Minimum]
) -> Issue:
    n = figure.value
    situation, impact = _situation(n, minimum, role)
    if minimum.resource == "cpus":
        have = ngettext("{n} CPU", "{n} CPUs", n).format(n=n)
        message = _("{have}; {situation}").format(have=have, situation=situation)
        grow = _("give the machine at least {n} CPUs").format(n=minimum.value)
    else:
        have = _("{n} MiB of memory").format(n=n)
        message = _("{have} (MemTotal); {situation}").format(have=have, situation=situation)
        grow = _("give the machine more memory (MemTotal at least {n} MiB)").format(n=minimum.value)
    if also:
        below = [_("{source}: {shown}").format(source=_(m.source), shown=_(m.shown)) for m in also]
        message = _("{message}; also below {others}").format(
            message=message, others=_joined(below, _("{first}; {then}"))
        )
    knowingly = {
        "kubeadm": _("knowingly, run kubeadm with --ignore-preflight-errors=NumCPU,Mem"),
        "kubekey": _("knowingly, run kubeadm with --ignore-preflight-errors=NumCPU,Mem"),
        "kubespray": _(
            "knowingly, lower minimal_master_memory_mb / minimal_node_memory_mb or add "
            "NumCPU,Mem to kubeadm_ignore_preflight_errors in the inventory"
        ),
    }
    ways = [_("{grow} (resize the VM, or use a larger board)").format(grow=grow)]
    if minimum.control_plane_only and role.role != WORKER:
        ways.append(_("make this node a worker"))
    if minimum.enforced and profile in knowingly:
        ways.append(knowingly[profile])
    title = (
        _("{have}: below the {shown} {enforcer} requires").format(
            have=have, shown=_(minimum.shown), enforcer=_(minimum.enforcer)
        )
        if minimum.enforced
        else _("{have}: below the {shown} of {source}").format(
            have=have, shown=_(minimum.shown), source=_(minimum.source)
        )
    )
    return Issue(
        title=title,
        message=message,
        evidence=(figure.evidence, *role.evidence),
        severity=_severity(minimum, role),
        fix=FixHint(summary=_joined(ways, _("{first}; or {then}"))),
        impact=impact,
    )


def _joined(items: list[str], template: str) -> str:
    """``items`` joined pairwise by ``template`` (``{first}``, ``{then}``): a translated
    separator.

    >>> _joined(["a", "b", "c"], "{first}; or {then}")
    'a; or b; or c'
    """
    joined = items[0]
    for item in items[1:]:
        joined = template.format(first=joined, then=item)
    return joined


def _check(facts: Facts) -> Iterator[Issue]:
    # Read first, whatever the deployer: a bundle then carries the figures for a later
    # `check --bundle --profile ... --role ...`.
    resources = facts.get(node_resources)
    if resources.cpus is None and resources.memory_mib is None:
        raise SkipRuleError(
            _(
                "this root has neither /proc/meminfo nor /sys/devices/system/cpu/online nor "
                "/proc/cpuinfo"
            )
        )
    profile = facts.get(deployer_profile)
    if profile.name is None:
        raise SkipRuleError(
            _(
                "the deployer is not known (give --profile: kubeadm, kubespray, k3s ...); the "
                "minimums are the deployer's"
            )
        )
    role = facts.get(node_role)
    minimums = _minimums(profile.name, role.role)
    if not minimums:
        title = profile.deployer.title if profile.deployer else profile.name
        raise SkipRuleError(_("{deployer} sets no minimum CPUs or memory").format(deployer=title))
    # The strictest unmet requirement per resource: one finding for CPUs, one for memory.
    for resource, figure in (("cpus", resources.cpus), ("memory", resources.memory_mib)):
        if figure is None:
            continue
        unmet = [m for m in minimums if m.resource == resource and figure.value < m.value]
        if unmet:
            worst = max(unmet, key=lambda m: (_severity(m, role).rank, m.value))
            also = [m for m in unmet if m is not worst]
            yield _issue(figure, worst, role, profile.name, also)


RULE = Rule(
    id="resources-below-minimum",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    title=N_("fewer CPUs or less memory than the deployer requires of the node's role"),
    check=_check,
    tags=("preflight", "kubeadm", "kubespray", "k3s"),
    applies_to=N_(
        "kubeadm (NumCPU since 1.13, Mem since 1.20), KubeKey and Kubespray on control "
        "planes, Kubespray on every node; k3s and RKE2 documented minimums (info)"
    ),
)
