"""What each deployer puts on a node, as data: one :class:`Deployer` per deployer that sets up
the kubelet (kubeadm, Kubespray, KubeKey, kOps, k3s, RKE2, MicroK8s).

A model says how to recognise the deployer's nodes (``markers``), which process runs its
kubelet, where the kubelet's flags, configuration and version come from, which files mean
"its kubelet is configured here" (teardown removes them), the kubelet's root directory, where
its containerd is configured, and the flags it passes to the kubelet itself. Which deployer set
a node up is judged from these markers (``facts/profile.py``), or given with ``--profile``.

Sources, per model: kubeadm ``cmd/kubeadm/app/constants`` and the ``10-kubeadm.conf`` drop-in of
the pkgs.k8s.io packages; Kubespray ``roles/kubernetes/node/templates``; KubeKey drives kubeadm
(its own files under ``/etc/kubekey``, the binaries in ``/usr/local/bin``); kOps
``nodeup/pkg/model/kubelet.go`` and ``context.go``; k3s ``pkg/daemons/agent`` and
``pkg/agent/containerd``; RKE2 ``pkg/rke2/rke2_linux.go`` and ``pkg/executor/staticpod`` (it runs
the kubelet binary as a child process and takes the rest from k3s's agent); MicroK8s
``snap/microk8s-resources`` (kubelite reads one flag per line from ``args/kubelet``).

This module holds data only, so the command line can name the profiles without loading facts.
"""

from __future__ import annotations

from nodedoctor._record import record

#: How the kubelet's argument list is built (``facts/kubelet/arguments.py``).
UNIT = "unit"  # a systemd unit ``kubelet.service``, its drop-ins and environment files
SNAP_ARGS = "snap-args"  # MicroK8s's kubelite: one flag per line in ``args/kubelet``
K3S_AGENT = "k3s-agent"  # k3s's agent code (k3s, RKE2): its own flags, then ``kubelet-arg``


@record
class KubeletDefault:
    """A flag the deployer passes to the kubelet itself, whatever the user configures."""

    flag: str
    #: The evidence text: who passes it (the source is in a comment where it is defined).
    why: str


@record
class Deployer:
    """One deployer's layout of the kubelet and its runtime on a node."""

    #: The ``--profile`` name.
    name: str
    #: The name people write.
    title: str
    #: Files or directories whose presence marks a node this deployer set up.
    markers: tuple[str, ...]
    #: ``comm`` of the process that runs the kubelet (the kubelet itself, or the deployer's
    #: own process that embeds it).
    kubelet_processes: tuple[str, ...]
    #: The systemd units that run that process.
    kubelet_units: tuple[str, ...]
    #: Files the kubelet's flags come from (environment files, args files, the deployer's own
    #: configuration with its ``kubelet-arg`` list).
    kubelet_flags: tuple[str, ...]
    #: The kubelet's configuration files, or the ``--config-dir`` it is given.
    kubelet_config: tuple[str, ...]
    #: Where the kubelet's version is told.
    kubelet_version: str
    #: Files whose presence means this deployer's kubelet is still configured on the node.
    configured: tuple[str, ...]
    #: Who chooses the kubelet's cgroup driver.
    cgroup_driver: str
    #: How the kubelet's argument list is built: :data:`UNIT`, :data:`SNAP_ARGS` or
    #: :data:`K3S_AGENT`.
    launcher: str = UNIT
    kubelet_root_dir: str = "/var/lib/kubelet"
    #: containerd's configuration: the file read, or the one the deployer renders.
    containerd_config: str = "/etc/containerd/config.toml"
    containerd_socket: str = "unix:///run/containerd/containerd.sock"
    #: containerd comes with the deployer (its version is not the package's).
    bundles_containerd: bool = False
    #: The deployer's own configuration file, whose ``kubelet-arg`` entries become kubelet
    #: flags (k3s, RKE2); its drop-ins are ``<file>.d/*.yaml``. Empty: none.
    agent_config: str = ""
    #: The ``--config-dir`` the deployer passes when the directory exists (k3s v1.32+, RKE2).
    #: Empty: none.
    kubelet_config_dir: str = ""
    #: Flags the deployer passes to the kubelet whatever the user configures.
    kubelet_defaults: tuple[KubeletDefault, ...] = ()
    #: Where its container runtime reads CNI network configurations (``conf_dir``) and
    #: finds the plugins they name (``bin_dir``).
    cni_conf_dir: str = "/etc/cni/net.d"
    cni_bin_dir: str = "/opt/cni/bin"
    #: Where its CNIs keep their state on the node: host-local IPAM's reservations and
    #: libcni's cache (``/var/lib/cni``), calico-node's ``/var/lib/calico`` and
    #: ``/var/run/calico`` hostPaths (manifests/calico.yaml), flanneld's ``--subnet-file``
    #: directory (``/run/flannel``).
    cni_state_dirs: tuple[str, ...] = (
        "/var/lib/cni",
        "/var/lib/calico",
        "/run/calico",
        "/run/flannel",
    )


_KUBEADM_DROPIN = "kubelet.service.d/10-kubeadm.conf"
_KUBEADM_CONFIGURED = (
    "/var/lib/kubelet/config.yaml",
    "/var/lib/kubelet/kubeadm-flags.env",
    "/etc/kubernetes/kubelet.conf",
    "/etc/kubernetes/bootstrap-kubelet.conf",
)
_KUBEADM_FLAGS = (
    "/var/lib/kubelet/kubeadm-flags.env",
    "/etc/default/kubelet",
    "/etc/sysconfig/kubelet",
)
_PACKAGE_VERSION = "the kubelet package (dpkg, rpm), else `kubelet --version`"

KUBEADM = Deployer(
    name="kubeadm",
    title="kubeadm",
    markers=(
        "/var/lib/kubelet/kubeadm-flags.env",
        f"/usr/lib/systemd/system/{_KUBEADM_DROPIN}",
        f"/lib/systemd/system/{_KUBEADM_DROPIN}",
        f"/etc/systemd/system/{_KUBEADM_DROPIN}",
        "/var/lib/kubelet/config.yaml",
    ),
    kubelet_processes=("kubelet",),
    kubelet_units=("kubelet.service",),
    kubelet_flags=_KUBEADM_FLAGS,
    kubelet_config=("/var/lib/kubelet/config.yaml",),
    kubelet_version=_PACKAGE_VERSION,
    configured=_KUBEADM_CONFIGURED,
    cgroup_driver="kubeadm >= 1.22 writes cgroupDriver: systemd into config.yaml when unset",
)

KUBESPRAY = Deployer(
    name="kubespray",
    title="Kubespray",
    markers=("/etc/kubernetes/kubelet.env", "/etc/kubernetes/kubelet-config.yaml"),
    kubelet_processes=("kubelet",),
    kubelet_units=("kubelet.service",),
    kubelet_flags=("/etc/kubernetes/kubelet.env",),
    kubelet_config=("/etc/kubernetes/kubelet-config.yaml",),
    kubelet_version="`kubelet --version` (Kubespray installs release binaries)",
    # Kubespray runs kubeadm, which writes the kubelet's kubeconfigs.
    configured=(
        "/etc/kubernetes/kubelet-config.yaml",
        "/etc/kubernetes/kubelet.env",
        *_KUBEADM_CONFIGURED,
    ),
    cgroup_driver="kubelet_cgroup_driver in the inventory, written to kubelet-config.yaml",
)

KUBEKEY = Deployer(
    name="kubekey",
    title="KubeKey",
    markers=("/etc/kubekey",),
    kubelet_processes=("kubelet",),
    kubelet_units=("kubelet.service",),
    kubelet_flags=("/var/lib/kubelet/kubeadm-flags.env", f"/etc/systemd/system/{_KUBEADM_DROPIN}"),
    kubelet_config=("/var/lib/kubelet/config.yaml",),
    kubelet_version="/etc/kubernetes/kubeadm-config.yaml (kubernetesVersion), binaries in "
    "/usr/local/bin",
    configured=_KUBEADM_CONFIGURED,
    cgroup_driver="kubeadm's, as KubeKey drives kubeadm",
)

# kOps nodeup/pkg/model/kubelet.go: kubeletConfigFilePath /var/lib/kubelet/kubelet.conf,
# KubeletKubeConfig() /var/lib/kubelet/kubeconfig (context.go), buildSystemdEnvironmentFile
# /etc/sysconfig/kubelet (DAEMON_ARGS), binaryPath() /usr/local/bin.
KOPS = Deployer(
    name="kops",
    title="kOps",
    markers=(
        "/etc/sysconfig/kops-configuration",
        "/opt/kops",
        "/var/lib/toolbox/kops",
        "/etc/systemd/system/kops-configuration.service",
        "/usr/lib/systemd/system/kops-configuration.service",
        "/lib/systemd/system/kops-configuration.service",
    ),
    kubelet_processes=("kubelet",),
    kubelet_units=("kubelet.service",),
    kubelet_flags=("/etc/sysconfig/kubelet",),
    kubelet_config=("/var/lib/kubelet/kubelet.conf",),
    kubelet_version="`kubelet --version` (nodeup installs /usr/local/bin/kubelet)",
    configured=(
        "/var/lib/kubelet/kubelet.conf",
        "/var/lib/kubelet/kubeconfig",
        "/etc/sysconfig/kubelet",
    ),
    cgroup_driver="the cluster spec's kubelet.cgroupDriver, written to kubelet.conf",
)

# k3s pkg/daemons/agent: kubeletArgs (agent_linux.go) passes "fail-swap-on": "false" up to
# v1.31; from v1.32 (k3s-io/k3s#2116) defaultKubeletConfig (agent.go) writes FailSwapOn: false
# into the kubelet.conf.d/00-k3s-defaults.conf drop-in. Either way its kubelet runs with swap.
_FAIL_SWAP_OFF = "--fail-swap-on=false"
_K3S_SOCKET = "unix:///run/k3s/containerd/containerd.sock"
_K3S_DRIVER = (
    "k3s: systemd when it runs as a systemd unit and the kernel gives cpuset, else cgroupfs "
    "(pkg/agent/containerd/config_linux.go), the same for its containerd"
)

K3S = Deployer(
    name="k3s",
    title="k3s",
    markers=(
        "/etc/rancher/k3s/config.yaml",
        "/etc/systemd/system/k3s.service",
        "/etc/systemd/system/k3s-agent.service",
        "/var/lib/rancher/k3s/agent/etc/kubelet.conf.d",
        "/usr/local/bin/k3s",
    ),
    # The kubelet runs inside k3s's own process (k3s execs itself as k3s-server or k3s-agent).
    kubelet_processes=("k3s-server", "k3s-agent"),
    kubelet_units=("k3s.service", "k3s-agent.service"),
    kubelet_flags=("/etc/rancher/k3s/config.yaml", "/etc/rancher/k3s/config.yaml.d"),
    kubelet_config=("/var/lib/rancher/k3s/agent/etc/kubelet.conf.d",),
    kubelet_version="`k3s --version`",
    # k3s-uninstall.sh removes both directories; a server writes /etc/rancher/k3s/k3s.yaml.
    configured=(
        "/etc/rancher/k3s",
        "/var/lib/rancher/k3s/agent/kubelet.kubeconfig",
        "/var/lib/rancher/k3s/agent/etc/kubelet.conf.d",
    ),
    cgroup_driver=_K3S_DRIVER,
    launcher=K3S_AGENT,
    containerd_config="/var/lib/rancher/k3s/agent/etc/containerd/config.toml",
    containerd_socket=_K3S_SOCKET,
    bundles_containerd=True,
    agent_config="/etc/rancher/k3s/config.yaml",
    kubelet_config_dir="/var/lib/rancher/k3s/agent/etc/kubelet.conf.d",
    kubelet_defaults=(KubeletDefault(_FAIL_SWAP_OFF, "k3s passes --fail-swap-on=false"),),
    # pkg/agent/config: CNIConfDir = <data-dir>/agent/etc/cni/net.d, CNIBinDir = the directory
    # of k3s's own host-local (its data dir's bin, "current" the link to the running one).
    cni_conf_dir="/var/lib/rancher/k3s/agent/etc/cni/net.d",
    cni_bin_dir="/var/lib/rancher/k3s/data/current/bin",
)

# RKE2 pkg/rke2/rke2_linux.go (KubeletPath "kubelet") and pkg/executor/staticpod/staticpod.go
# (Kubelet: exec.CommandContext(ctx, s.KubeletPath, args...)): the kubelet is a child process
# of rke2 with comm "kubelet"; its arguments and its containerd come from k3s's agent code
# (go.mod requires github.com/k3s-io/k3s) with RKE2's data directory /var/lib/rancher/rke2;
# containerd's socket is staticpod.ContainerdSock (spw.go).
RKE2 = Deployer(
    name="rke2",
    title="RKE2",
    markers=(
        "/etc/rancher/rke2/config.yaml",
        # The tarball installs the units in /usr/local/lib/systemd/system, the RPMs in /usr/lib.
        *(
            f"{d}/{unit}"
            for unit in ("rke2-server.service", "rke2-agent.service")
            for d in (
                "/etc/systemd/system",
                "/usr/local/lib/systemd/system",
                "/usr/lib/systemd/system",
            )
        ),
        "/var/lib/rancher/rke2/agent/etc/kubelet.conf.d",
        "/usr/local/bin/rke2",
        "/usr/bin/rke2",
    ),
    kubelet_processes=("kubelet",),
    kubelet_units=("rke2-server.service", "rke2-agent.service"),
    kubelet_flags=("/etc/rancher/rke2/config.yaml", "/etc/rancher/rke2/config.yaml.d"),
    kubelet_config=("/var/lib/rancher/rke2/agent/etc/kubelet.conf.d",),
    kubelet_version="`rke2 --version`, or the rke2-common package",
    # rke2-uninstall.sh removes both directories; a server writes /etc/rancher/rke2/rke2.yaml.
    configured=(
        "/etc/rancher/rke2",
        "/var/lib/rancher/rke2/agent/kubelet.kubeconfig",
        "/var/lib/rancher/rke2/agent/etc/kubelet.conf.d",
    ),
    cgroup_driver=_K3S_DRIVER.replace("k3s:", "RKE2 (k3s's agent code):", 1),
    launcher=K3S_AGENT,
    containerd_config="/var/lib/rancher/rke2/agent/etc/containerd/config.toml",
    containerd_socket=_K3S_SOCKET,
    bundles_containerd=True,
    agent_config="/etc/rancher/rke2/config.yaml",
    kubelet_config_dir="/var/lib/rancher/rke2/agent/etc/kubelet.conf.d",
    kubelet_defaults=(
        KubeletDefault(_FAIL_SWAP_OFF, "RKE2 passes --fail-swap-on=false (k3s's agent code)"),
    ),
)

MICROK8S = Deployer(
    name="microk8s",
    title="MicroK8s",
    markers=("/snap/microk8s/current/meta/snap.yaml", "/var/snap/microk8s/current/args/kubelet"),
    kubelet_processes=("kubelite",),
    kubelet_units=("snap.microk8s.daemon-kubelite.service",),
    kubelet_flags=("/var/snap/microk8s/current/args/kubelet",),
    kubelet_config=(),
    kubelet_version="the microk8s snap's version",
    configured=("/var/snap/microk8s/current/args/kubelet",),
    cgroup_driver="the kubelet's default, cgroupfs (MicroK8s sets none)",
    launcher=SNAP_ARGS,
    kubelet_root_dir="/var/snap/microk8s/common/var/lib/kubelet",
    containerd_config="/var/snap/microk8s/current/args/containerd-template.toml",
    containerd_socket="unix:///var/snap/microk8s/common/run/containerd.sock",
    bundles_containerd=True,
    # microk8s-resources/default-args/containerd-template.toml (conf_dir, bin_dir) and
    # flannel-template.conflist; upgrade-scripts/000-switch-to-calico/resources/calico.yaml
    # (hostPaths of calico-node).
    cni_conf_dir="/var/snap/microk8s/current/args/cni-network",
    cni_bin_dir="/var/snap/microk8s/current/opt/cni/bin",
    cni_state_dirs=(
        "/var/snap/microk8s/current/var/lib/cni",
        "/var/snap/microk8s/common/var/lib/cni",
        "/var/snap/microk8s/current/var/lib/calico",
        "/var/snap/microk8s/current/var/run/calico",
        "/var/snap/microk8s/common/run/flannel",
    ),
)

#: Every model, in the order nodes are matched against their markers: the most specific
#: first (KubeKey and Kubespray run kubeadm, so they come before it).
DEPLOYERS = (MICROK8S, K3S, RKE2, KUBEKEY, KOPS, KUBESPRAY, KUBEADM)
BY_NAME = {d.name: d for d in DEPLOYERS}
#: The ``--profile`` choices (cli/common.py repeats them, to start without loading facts).
PROFILES = ("kubeadm", "kubespray", "microk8s", "k3s", "kops", "kubekey", "rke2")

#: ``comm`` of every process that runs a kubelet (RKE2's is the kubelet binary's own).
KUBELET_PROCESSES = tuple(dict.fromkeys(c for d in DEPLOYERS for c in d.kubelet_processes))
