"""The kubelet: whether it is installed, which unit runs it, where its configuration comes from,
and the settings it will really use, each with the file, line and text that set it.

How the settings are found
--------------------------
1. The deployer (``facts/profile.py``, its model in ``facts/deployers.py``) says where to look.
2. The argument list is rebuilt as the kubelet receives it:

   * systemd units (kubeadm, KubeKey, Kubespray, kOps): the unit ``kubelet.service`` from the
     first of ``/etc/systemd/system``, ``/run/systemd/system``, ``/usr/local/lib/systemd/system``,
     ``/usr/lib/systemd/system``, ``/lib/systemd/system`` that has it, then its drop-ins
     (``kubelet.service.d/*.conf`` in all those directories, a name in an earlier directory hiding
     the same name in a later one, applied in name order). ``Environment=`` then
     ``EnvironmentFile=`` (which override it) give the variables; the last ``ExecStart=`` after
     the last reset is expanded as systemd does (``$VAR`` splits, ``${VAR}`` does not). Without
     a unit file, kubeadm's layout is assumed (``kubeadm-flags.env`` ``KUBELET_KUBEADM_ARGS`` then
     ``/etc/default/kubelet`` or ``/etc/sysconfig/kubelet`` ``KUBELET_EXTRA_ARGS``, config
     ``/var/lib/kubelet/config.yaml``) and said so in the evidence.
   * MicroK8s: ``/var/snap/microk8s/current/args/kubelet``, read as kubelite reads it.
   * k3s and RKE2 (k3s's agent code; paths from their models in facts/deployers.py): the flags
     it passes itself (driver, runtime endpoint, ``--config-dir`` for the ``kubelet.conf.d``
     drop-ins, ``--fail-swap-on=false``), then ``kubelet-arg`` from ``/etc/rancher/k3s/config.yaml``
     and its drop-ins ``config.yaml.d/*.yaml`` in name order (a later plain ``kubelet-arg``
     replaces the list, ``kubelet-arg+`` appends to it), unless the unit's ``ExecStart=`` has
     ``--kubelet-arg``: a repeatable argument on the command line replaces the config files'
     whole list (docs.k3s.io "Configuration File").
   * when nothing above names any flag and the root shows what runs (facts/processes.py): the
     running kubelet's ``/proc/<pid>/cmdline``.

3. ``--config`` names the ``KubeletConfiguration`` file, ``--config-dir`` its drop-ins (``*.conf``
   in name order; nested fields merge, lists are replaced: kubernetes.io "Kubelet Configuration
   Directory Merging"). Precedence, highest first: flags (the last occurrence wins; feature gates
   merge gate by gate), drop-ins (later files win), the config file, the deployer's own choice
   (k3s only), the kubelet's default for its version.

For the remedies (interface)
----------------------------
``kubelet_facts(facts).setting("cgroupDriver")`` (or ``"cgroupsPerQOS"``,
``"enforceNodeAllocatable"``, ...) returns a :class:`Setting`:

* ``origin == "flag"``: ``evidence.source`` is the file holding the flag (an env file such as
  ``/var/lib/kubelet/kubeadm-flags.env``, a unit or drop-in, MicroK8s's ``args/kubelet``, k3s's
  ``config.yaml``), ``evidence.line`` the physical line and ``evidence.text`` its text;
  ``flag_text`` is the exact token as written there (``--cgroups-per-qos=false``), ``flag`` the
  flag's name (``cgroups-per-qos``). Removing or editing that token on that line changes it.
  ``origin == "deployer"`` (k3s's own choice) has no file: change it with a ``kubelet-arg``.
* ``origin == "config"`` / ``"config-dir"``: ``evidence.source`` is the YAML file, ``line`` the
  line of the key (``cgroupDriver: cgroupfs``).
* ``origin == "default"``: nothing sets it; ``evidence.text`` says which default and why.
  To change it, add the key to ``config_path`` (or, without a config file, a flag).

``kubelet_facts(facts).unit`` is the systemd unit to give a ``Delegate=yes`` drop-in to
(``kubelet.service``, ``snap.microk8s.daemon-kubelite.service``, ``k3s.service``,
``k3s-agent.service``); ``delegate`` is its current ``Delegate=`` (``None`` if unset or
unknown) and ``unit_files`` the unit and drop-ins read.

For the runtime rules: ``cgroup_driver``, ``runtime_endpoint``, ``version`` and
``driver_from_cri`` (is ``KubeletCgroupDriverFromCRI`` on: explicit gate, or by version:
alpha/off 1.28-1.30, beta/on 1.31-1.33, GA/locked on from 1.34; ``None`` below 1.28 or when the
version is unknown). When it is on and the runtime implements ``RuntimeConfig`` (containerd >= 2.0,
CRI-O >= 1.28), the runtime's driver overrides ``cgroupDriver`` (research kubelet-cgroups.md §2).

Modules: ``arguments`` (the argument list per deployer), ``units`` (systemd units, kubeadm's
files), ``deployers`` (MicroK8s and k3s), ``settings`` (:func:`kubelet_facts`: precedence of
flags, drop-ins, config file), ``defaults`` (by version) and ``model`` (the records).
"""

from __future__ import annotations

from nodedoctor.facts.kubelet.deployers import (
    K3S_CONFIG,
    K3S_CONFIG_DIR,
    K3S_CONFIG_DROPINS,
    K3S_SOCKET,
    MICROK8S_ARGS,
    MICROK8S_UNIT,
)
from nodedoctor.facts.kubelet.model import (
    DRIVER_FROM_CRI_GATE,
    SETTINGS,
    KubeletFacts,
    PlacedWord,
    Setting,
)
from nodedoctor.facts.kubelet.settings import kubelet_facts, kubelet_summary
from nodedoctor.facts.kubelet.units import KUBEADM_CONFIG, KUBEADM_EXTRA, KUBEADM_FLAGS, UNIT_DIRS

__all__ = [
    "DRIVER_FROM_CRI_GATE",
    "K3S_CONFIG",
    "K3S_CONFIG_DIR",
    "K3S_CONFIG_DROPINS",
    "K3S_SOCKET",
    "KUBEADM_CONFIG",
    "KUBEADM_EXTRA",
    "KUBEADM_FLAGS",
    "MICROK8S_ARGS",
    "MICROK8S_UNIT",
    "SETTINGS",
    "UNIT_DIRS",
    "KubeletFacts",
    "PlacedWord",
    "Setting",
    "kubelet_facts",
    "kubelet_summary",
]
