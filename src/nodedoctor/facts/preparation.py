"""What each deployer does to a node when it installs Kubernetes, as data: the Kubernetes
version it installs when told none, whether it turns on IPv4 forwarding and bridge netfilter
itself, what it does about swap, which cgroup driver it gives the kubelet and whether it
brings (or installs and configures) its own container runtime. One table, each value with
its upstream source, read at the versions named (2026-08/09 snapshots).

A node before the install is judged against this (``facts/target.py``): what the deployer
will do itself is not a problem yet; what it leaves to the user (kubeadm's prerequisites) is.

=========  ==========================  ===========  ===========  ===========  ===========
deployer   default Kubernetes          ip_forward   bridge nf    swap         kubelet
                                                                              driver
=========  ==========================  ===========  ===========  ===========  ===========
kubeadm    1.37 (``stable-1``)         user         user         refused      systemd
Kubespray  1.35 (v2.31.0)              install      install      turned off   systemd
KubeKey    1.34 (v4.0.6)               install      install      turned off   systemd
kOps       1.35 (stable channel)       install      install      refused      systemd
k3s        stable channel (online)     each start   each start   tolerated    systemd*
RKE2       1.35 (stable channel)       each start   each start   tolerated    systemd*
MicroK8s   1.37 (latest/stable)        each start   each start   tolerated    cgroupfs
=========  ==========================  ===========  ===========  ===========  ===========

``*`` when PID 1 is systemd (and cpuset is available), else cgroupfs. "refused": the kubelet's
own default, ``failSwapOn: true``. Sources, per deployer, in each record's fields.
"""

from __future__ import annotations

from nodedoctor._record import record
from nodedoctor.i18n import N_

#: It sets the value when it installs the node (persisted in a sysctl or modules file).
AT_INSTALL = "install"
#: It sets the value each time its service starts.
AT_START = "start"

SWAP_REFUSED = "refused"
SWAP_TURNED_OFF = "turned off"
SWAP_TOLERATED = "tolerated"

#: k3s's choice: systemd when PID 1 is systemd, else cgroupfs.
DRIVER_BY_INIT = "systemd when PID 1 is systemd"


@record
class Preparation:
    deployer: str
    #: The Kubernetes minor version installed when none is given; ``None``: resolved online at
    #: install time from a channel this table cannot read.
    default_version: str | None
    #: Where the default comes from (shown in the report as the target's evidence).
    version_source: str
    #: :data:`AT_INSTALL`, :data:`AT_START`, or ``None``: the user must set
    #: ``net.ipv4.ip_forward = 1`` (and IPv6 forwarding for dual-stack) before it runs.
    ip_forward: str | None
    ip_forward_source: str
    #: The same for ``br_netfilter`` and ``net.bridge.bridge-nf-call-iptables = 1``.
    bridge_netfilter: str | None
    bridge_netfilter_source: str
    #: :data:`SWAP_REFUSED`, :data:`SWAP_TURNED_OFF` or :data:`SWAP_TOLERATED`.
    swap: str
    swap_source: str
    #: The cgroup driver it gives the kubelet: ``systemd``, ``cgroupfs`` or
    #: :data:`DRIVER_BY_INIT`.
    kubelet_driver: str
    kubelet_driver_source: str
    #: It installs and configures the container runtime itself (or bundles one): a runtime
    #: installed on the node before it does not decide anything.
    own_runtime: bool


PREPARATIONS: dict[str, Preparation] = {
    p.deployer: p
    for p in (
        Preparation(
            deployer="kubeadm",
            default_version="1.37",
            version_source=(
                "kubeadm's default kubernetesVersion is stable-1 (cmd/kubeadm/app/apis/kubeadm/"
                "v1beta4 DefaultKubernetesVersion), the latest stable release capped at "
                "kubeadm's own minor: 1.37 (kubernetes.io/releases/1.37, 1.37.0 of 2026-08-26)"
            ),
            ip_forward=None,
            ip_forward_source=(
                "kubeadm does not set it; its preflight stops on it (cmd/kubeadm/app/preflight/"
                "checks_linux.go addIPv4Checks); the container runtimes page lists it as a "
                "prerequisite"
            ),
            bridge_netfilter=None,
            bridge_netfilter_source=(
                "kubeadm does not load it; kubeadm 1.29 and older stop without it "
                "(kubernetes#123464 removed the check in 1.30)"
            ),
            swap=SWAP_REFUSED,
            swap_source="kubeadm keeps the kubelet's failSwapOn default (true)",
            kubelet_driver="systemd",
            kubelet_driver_source=(
                "kubeadm >= 1.22 writes cgroupDriver: systemd into /var/lib/kubelet/config.yaml "
                "at init and join when unset"
            ),
            own_runtime=False,
        ),
        Preparation(
            deployer="kubespray",
            default_version="1.35",
            version_source=(
                "Kubespray v2.31.0 kube_version: the newest kubelet in roles/kubespray_defaults/"
                "vars/main/checksums.yml, 1.35.4"
            ),
            ip_forward=AT_INSTALL,
            ip_forward_source=(
                "Kubespray roles/kubernetes/preinstall/tasks/0080-system-configurations.yml "
                '"Enable ip forwarding" (/etc/sysctl.d/99-sysctl.conf)'
            ),
            bridge_netfilter=AT_INSTALL,
            bridge_netfilter_source=(
                "Kubespray roles/kubernetes/node/tasks/main.yml loads br_netfilter "
                "(/etc/modules-load.d/kubespray-br_netfilter.conf) and sets bridge-nf-call-*"
            ),
            swap=SWAP_TURNED_OFF,
            swap_source=(
                "Kubespray roles/kubernetes/preinstall/tasks/0010-swapoff.yml (swapoff -a, "
                "swap lines out of /etc/fstab, swap.target masked; kubelet_fail_swap_on: true)"
            ),
            kubelet_driver="systemd",
            kubelet_driver_source=(
                "Kubespray containerd_use_systemd_cgroup: true, which kubelet_cgroup_driver "
                "follows (roles/kubernetes/node/tasks/facts.yml)"
            ),
            own_runtime=True,
        ),
        Preparation(
            deployer="kubekey",
            default_version="1.34",
            version_source=(
                "KubeKey v4.0.6 defaultKubeVersion v1.34.3 (cmd/kk/app/options/builtin/builtin.go)"
            ),
            ip_forward=AT_INSTALL,
            ip_forward_source=(
                "KubeKey builtin/core/roles/native/init/templates/init-os.sh "
                "(net.ipv4.ip_forward = 1 in /etc/sysctl.conf)"
            ),
            bridge_netfilter=AT_INSTALL,
            bridge_netfilter_source=(
                "KubeKey init-os.sh: modprobe br_netfilter, "
                "/etc/modules-load.d/kubekey-br_netfilter.conf, bridge-nf-call-iptables = 1"
            ),
            swap=SWAP_TURNED_OFF,
            swap_source="KubeKey init-os.sh: swapoff -a and the swap lines of /etc/fstab commented",
            kubelet_driver="systemd",
            kubelet_driver_source=(
                "KubeKey builtin/core/roles/defaults/defaults/main/04-cri.yaml "
                "cgroup_driver: systemd"
            ),
            own_runtime=True,
        ),
        Preparation(
            deployer="kops",
            default_version="1.35",
            version_source=(
                "kOps channels/stable: kOps 1.35.1 is recommended and installs Kubernetes 1.35.7"
            ),
            ip_forward=AT_INSTALL,
            ip_forward_source=(
                "kOps nodeup/pkg/model/sysctls.go (net.ipv4.ip_forward=1 in "
                "/etc/sysctl.d/99-k8s-general.conf, then sysctl --system)"
            ),
            bridge_netfilter=AT_INSTALL,
            bridge_netfilter_source=(
                "kOps upup/pkg/fi/nodeup/command.go loadKernelModules: modprobe br_netfilter"
            ),
            swap=SWAP_REFUSED,
            swap_source="kOps leaves failSwapOn to the cluster spec (unset: the kubelet's true)",
            kubelet_driver="systemd",
            kubelet_driver_source='kOps pkg/model/components/kubelet.go: CgroupDriver = "systemd"',
            own_runtime=True,
        ),
        Preparation(
            deployer="k3s",
            default_version=None,
            version_source=N_(
                "k3s installs the release of its stable channel (get.k3s.io "
                "INSTALL_K3S_CHANNEL=stable, docs.k3s.io upgrades/manual), resolved online at "
                "install time"
            ),
            ip_forward=AT_START,
            ip_forward_source=(
                "k3s pkg/agent/syssetup/setup.go Configure: net/ipv4/conf/all/forwarding = 1 "
                "(and IPv6 forwarding for IPv6 clusters) at each agent start"
            ),
            bridge_netfilter=AT_START,
            bridge_netfilter_source=(
                "k3s pkg/agent/syssetup/setup.go: modprobe br_netfilter, "
                "bridge-nf-call-iptables = 1 where kube-proxy or flannel run"
            ),
            swap=SWAP_TOLERATED,
            swap_source="k3s gives its kubelet --fail-swap-on=false (pkg/daemons/agent)",
            kubelet_driver=DRIVER_BY_INIT,
            kubelet_driver_source="k3s pkg/agent/containerd/config_linux.go",
            own_runtime=True,
        ),
        Preparation(
            deployer="rke2",
            default_version="1.35",
            version_source=(
                "RKE2 channels.yaml: stable is v1.35.7+rke2r1 (install.sh default channel)"
            ),
            ip_forward=AT_START,
            ip_forward_source="RKE2 runs k3s's agent code: pkg/agent/syssetup Configure",
            bridge_netfilter=AT_START,
            bridge_netfilter_source="RKE2 runs k3s's agent code: pkg/agent/syssetup Configure",
            swap=SWAP_TOLERATED,
            swap_source="RKE2 gives its kubelet --fail-swap-on=false (k3s's agent code)",
            kubelet_driver=DRIVER_BY_INIT,
            kubelet_driver_source="k3s's agent code (pkg/agent/containerd/config_linux.go)",
            own_runtime=True,
        ),
        Preparation(
            deployer="microk8s",
            default_version="1.37",
            version_source=(
                "snap install microk8s follows latest/stable, upstream's latest stable release "
                "(MicroK8s build KUBE_VERSION default): 1.37 (kubernetes.io/releases/1.37)"
            ),
            ip_forward=AT_START,
            ip_forward_source=(
                "MicroK8s microk8s-resources/wrappers/run-kubelite-with-args: IPv4 and IPv6 "
                "forwarding on at each kubelite start (with its CNI, args/cni-network/cni.yaml)"
            ),
            bridge_netfilter=AT_START,
            bridge_netfilter_source=(
                "MicroK8s run-kubelite-with-args: modprobe br_netfilter, "
                "bridge-nf-call-iptables = 1"
            ),
            swap=SWAP_TOLERATED,
            swap_source="MicroK8s default-args/kubelet: --fail-swap-on=false",
            kubelet_driver="cgroupfs",
            kubelet_driver_source="MicroK8s sets no cgroup driver: the kubelet's default",
            own_runtime=True,
        ),
    )
}
