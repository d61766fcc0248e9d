"""``cgroup-driver-mismatch``'s remedy: the runtime follows the kubelet's driver (containerd's
runc handlers, or CRI-O's cgroup manager), or, when the kubelet takes the runtime's driver
over RuntimeConfig, the ignored kubelet setting follows the runtime.

Never: flipping one side of k3s (k3s keeps its kubelet and containerd consistent itself), or
the systemd driver on a node whose PID 1 is not systemd.
"""

from __future__ import annotations

from nodedoctor.facts import Facts
from nodedoctor.facts.containerd import RUNC_TYPES, containerd_facts
from nodedoctor.facts.kubelet import kubelet_facts
from nodedoctor.facts.runtime import runtime_facts
from nodedoctor.facts.system import init_system
from nodedoctor.i18n import N_, _
from nodedoctor.remedies.containerd import restart_containerd, systemd_cgroup
from nodedoctor.remedies.crio import manager_steps
from nodedoctor.remedies.kubelet import driver_steps
from nodedoctor.remedies.steps import Instruction, Remedy, refused

#: Said with every driver change: pods made under one driver do not survive the other.
DRAIN = Instruction(
    N_(
        "drain the node before restarting containerd and the kubelet if it has joined a "
        "cluster: existing pod sandboxes were made with the other driver"
    ),
    N_(
        "changing the driver under running pods can break their re-creation (Kubernetes "
        "container-runtimes documentation)"
    ),
)


def driver_mismatch_remedy(facts: Facts, kubelet_driver: str | None = None) -> Remedy:
    """Make the runtime use the kubelet's driver (the kubelet's choice is the deployer's,
    e.g. kubeadm's systemd default); the kubelet's where it takes the runtime's.
    ``kubelet_driver``: the driver the deployer will give a kubelet not configured yet (the
    runtime follows it; facts/target.py)."""
    cf = facts.get(containerd_facts)
    kubelet = facts.get(kubelet_facts)
    if kubelet_driver is not None:
        return _runtime_follows(facts, kubelet_driver == "systemd")
    if cf.layout == "k3s" or kubelet.profile.name == "k3s":
        return Remedy(
            (
                Instruction(
                    _(
                        "let k3s choose the driver for both sides (it passes the same value to "
                        "its kubelet and its containerd template); remove the override that "
                        "makes them differ"
                    ),
                    _(
                        "k3s keeps its kubelet and containerd consistent itself; nodedoctor "
                        "never flips only one side of k3s"
                    ),
                ),
            )
        )
    driver = kubelet.cgroup_driver
    if driver is None or driver.value not in ("systemd", "cgroupfs"):
        return refused(_("the kubelet's cgroup driver is unknown"))
    gate = kubelet.driver_from_cri
    runtime = facts.get(runtime_facts)
    if gate is not None and gate.value is True and runtime.implements_runtime_config:
        # The kubelet takes the runtime's driver over RuntimeConfig: the runtime is right by
        # definition; only the ignored kubelet setting can be brought in line.
        if runtime.cgroup_driver is None:
            return refused(_("the runtime's effective driver is unknown"))
        return Remedy(driver_steps(facts, runtime.cgroup_driver.value))
    return _runtime_follows(facts, driver.value == "systemd")


def _runtime_follows(facts: Facts, systemd: bool) -> Remedy:
    """The runtime's driver set to the kubelet's (``systemd`` or cgroupfs)."""
    cf = facts.get(containerd_facts)
    runtime = facts.get(runtime_facts)
    if systemd and facts.get(init_system).systemd is False:
        return refused(
            _(
                "the kubelet asks for the systemd driver on a node whose PID 1 is not systemd; "
                "fix the kubelet side (see cgroup-driver-not-systemd)"
            )
        )
    if runtime.name == "cri-o":
        return Remedy((*manager_steps(facts, "systemd" if systemd else "cgroupfs"), DRAIN))
    if runtime.name not in (None, "containerd"):
        return refused(
            _("the runtime is {runtime}; set its cgroup driver by hand").format(
                runtime=runtime.name
            )
        )
    if not cf.present or not cf.handlers:
        return refused(_("no containerd configuration with a runc handler to edit"))
    # SystemdCgroup is an option of runc-type handlers only (runtimes.md §1.1, §1.5).
    handlers = [
        h
        for h in cf.handlers.values()
        if h.runtime_type in RUNC_TYPES and h.systemd_cgroup != systemd
    ]
    if not handlers:
        return refused(_("every runc handler already uses the kubelet's driver"))
    return Remedy((*(systemd_cgroup(h, systemd) for h in handlers), *restart_containerd(cf), DRAIN))
