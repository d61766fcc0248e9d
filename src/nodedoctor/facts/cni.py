"""What a cluster's pod network leaves on a node: the CNI configurations the container runtime
reads, the CNIs' state directories, and the network interfaces CNIs and kube-proxy create.

Only what is attributable to a cluster's CNI is listed, so a node's other users of CNI and of
bridges are never taken for leftovers (podman's ``87-podman-bridge.conflist`` and
``cni-podman0``, nerdctl's ``nerdctl-bridge.conflist`` and ``nerdctl0``, Docker's ``docker0``,
libvirt's ``virbr0``, LXD's ``lxdbr0``):

- **configurations**: files libcni loads from a runtime's ``conf_dir`` (``.conf``,
  ``.conflist``, ``.json``) whose plugins include a cluster CNI's own plugin (:data:`CNI_TYPES`:
  Calico's ``calico``, Flannel's ``flannel``, Cilium's ``cilium-cni``), in every deployer's
  directory (``/etc/cni/net.d``; k3s ``/var/lib/rancher/k3s/agent/etc/cni/net.d``; MicroK8s
  ``/var/snap/microk8s/current/args/cni-network``: ``facts/deployers.py``). The runtime uses
  the lexically first file (containerd with its default ``max_conf_num`` 1, CRI-O unless
  ``cni_default_network`` names another), so a file left there shadows the next CNI's.
- **state**: the deployers' ``cni_state_dirs`` that exist: host-local IPAM's reservations and
  libcni's cache under ``/var/lib/cni``, calico-node's ``/var/lib/calico`` (``nodename``) and
  ``/run/calico``, flanneld's ``/run/flannel`` (``subnet.env``).
- **interfaces** (``/sys/class/net``), by the names their creators give them (:data:`IFACES`,
  the names k3s's ``k3s-killall.sh`` and MicroK8s's ``remove.d`` hooks delete), and the pod
  veths still enslaved to a CNI bridge. ``tunl0`` is the ``ipip`` module's own device: it is
  listed (Calico gives it an address) but cannot be deleted, only the module unloaded.
"""

from __future__ import annotations

import os
import re

from nodedoctor._record import record
from nodedoctor.facts import Facts
from nodedoctor.facts.deployers import DEPLOYERS, KUBEADM
from nodedoctor.facts.mounts import mount_table
from nodedoctor.model import Evidence
from nodedoctor.parsers.cni import CNI_CONFIG_SUFFIXES, CniConfig, parse_cni_config
from nodedoctor.sources.root import UnsafePathError

#: A plugin type -> the CNI it belongs to: the type in each CNI's own network configuration
#: (Calico manifests/calico.yaml ``cni_network_config``; Flannel Documentation/kube-flannel.yml
#: ``cni-conf.json``; Cilium daemon/cmd/cni.go ``cniConfigs``, ``05-cilium.conflist``).
CNI_TYPES = {
    "calico": "Calico",
    "calico-ipam": "Calico",
    "flannel": "Flannel",
    "cilium-cni": "Cilium",
}

#: Interface names and name patterns -> who creates them. Sources: k3s install.sh
#: (``k3s-killall.sh``: cni0, flannel.1, flannel-v6.1, kube-ipvs0, flannel-wg,
#: flannel-wg-v6), MicroK8s microk8s-resources/default-hooks/remove.d (cni0,
#: ``^vxlan[-v6]*.calico|cali[a-f0-9]*$``, cilium_host, cilium_vxlan), Calico felix
#: (vxlan.calico, vxlan-v6.calico, wireguard.cali, wg-v6.cali, tunl0), Cilium (cilium_host,
#: cilium_net, cilium_vxlan, cilium_geneve), kube-proxy's IPVS mode (kube-ipvs0).
IFACES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), owner)
    for pattern, owner in (
        (r"cni0", "the CNI bridge plugin (Flannel's cbr0 network)"),
        (r"flannel\.1|flannel-v6\.1|flannel-wg|flannel-wg-v6", "Flannel"),
        (r"vxlan\.calico|vxlan-v6\.calico|wireguard\.cali|wg-v6\.cali|tunl0", "Calico"),
        (r"cali[0-9a-f]{11}", "Calico (a pod's host-side veth)"),
        (r"cilium_host|cilium_net|cilium_vxlan|cilium_geneve", "Cilium"),
        (r"kube-ipvs0", "kube-proxy (IPVS mode)"),
    )
)
#: Bridges whose enslaved interfaces are pods' veths.
CNI_BRIDGES = ("cni0",)
#: Devices that exist while a kernel module is loaded and cannot be deleted.
MODULE_DEVICES = {"tunl0": "ipip"}
#: Plugin directories runtimes search besides the deployers' (Debian's
#: containernetworking-plugins, the RHEL family's CRI-O ``plugin_dirs``).
EXTRA_BIN_DIRS = ("/usr/lib/cni", "/usr/libexec/cni")
#: Configuration files read per directory: far above any node's.
MAX_CONFIGS = 256
#: Interfaces listed: a node with thousands of pods has thousands of veths.
MAX_INTERFACES = 20_000


@record
class CniConfigFile:
    path: str
    #: The directory's runtime loads the lexically first file; its position among them.
    position: int
    config: CniConfig
    #: The cluster CNI it belongs to.
    owner: str
    #: Plugin types with no binary in any plugin directory.
    missing_plugins: tuple[str, ...]

    @property
    def evidence(self) -> Evidence:
        plugins = ", ".join(self.config.types)
        return Evidence(self.path, f'network "{self.config.name}", plugins: {plugins}')


@record
class CniConfDir:
    path: str
    #: Who reads it: the deployers whose runtime's ``conf_dir`` it is.
    readers: tuple[str, ...]
    #: Every file libcni would load, in the order it loads them.
    files: tuple[str, ...]


@record
class CniState:
    path: str
    owner: str
    #: Its entries that are the cluster's, relative to it: every entry of a Calico or Flannel
    #: directory (``nodename``, ``subnet.env``); of ``/var/lib/cni`` only the cluster
    #: networks' (``networks/cbr0``, ``results/cbr0-...``, ``flannel``).
    entries: tuple[str, ...]
    #: Everything in it is the cluster's: it may go whole.
    whole: bool = True

    @property
    def evidence(self) -> Evidence:
        shown = ", ".join(self.entries[:6]) + (", ..." if len(self.entries) > 6 else "")
        return Evidence(self.path, f"directory: {shown or 'empty'}")


@record
class NetInterface:
    name: str
    owner: str
    #: ``bridge``, ``vxlan``, ``veth``, ... (``DEVTYPE`` of its uevent), empty when untold.
    kind: str
    #: The bridge it is enslaved to, if any.
    master: str
    #: ``False`` for a module's own device (``tunl0``): deleting it is refused by the kernel.
    removable: bool

    @property
    def evidence(self) -> Evidence:
        what = self.kind or "interface"
        on = f", enslaved to {self.master}" if self.master else ""
        return Evidence(f"/sys/class/net/{self.name}", f"{what}{on} ({self.owner})")


@record
class CniFacts:
    dirs: tuple[CniConfDir, ...]
    #: The cluster CNIs' configuration files, every directory, each directory in load order.
    configs: tuple[CniConfigFile, ...]
    state: tuple[CniState, ...]
    #: ``/sys/class/net`` was readable (a disk image has an empty ``/sys``).
    interfaces_known: bool
    interfaces: tuple[NetInterface, ...]
    bin_dirs: tuple[str, ...]


def _dirs() -> list[tuple[str, tuple[str, ...]]]:
    out: dict[str, list[str]] = {}
    for d in (KUBEADM, *DEPLOYERS):
        out.setdefault(d.cni_conf_dir, [])
        if d.title not in out[d.cni_conf_dir]:
            out[d.cni_conf_dir].append(d.title)
    return [(path, tuple(readers)) for path, readers in out.items()]


def _bin_dirs() -> tuple[str, ...]:
    return tuple(dict.fromkeys((*(d.cni_bin_dir for d in DEPLOYERS), *EXTRA_BIN_DIRS)))


def _configs(facts: Facts) -> tuple[list[CniConfDir], list[CniConfigFile]]:
    dirs: list[CniConfDir] = []
    configs: list[CniConfigFile] = []
    bins = _bin_dirs()
    for path, readers in _dirs():
        names = facts.root.listdir(path)
        if names is None:
            continue
        files = [n for n in names if n.endswith(CNI_CONFIG_SUFFIXES)][:MAX_CONFIGS]
        dirs.append(CniConfDir(path, readers, tuple(f"{path}/{n}" for n in files)))
        for position, name in enumerate(files):
            file_path = f"{path}/{name}"
            if facts.root.is_dir(file_path):
                continue
            config = facts.parse(file_path, parse_cni_config)
            if config is None:
                continue
            owners = [CNI_TYPES[t] for t in config.types if t in CNI_TYPES]
            if not owners:
                continue
            missing = tuple(
                t for t in config.types if not any(facts.root.exists(f"{b}/{t}") for b in bins)
            )
            configs.append(CniConfigFile(file_path, position, config, owners[0], missing))
    return dirs, configs


#: The networks of the cluster CNIs' own configurations (the ``name`` in Flannel's
#: kube-flannel.yml and MicroK8s's flannel.conflist, Calico's calico.yaml, Cilium's cni.go):
#: their host-local reservations are ``/var/lib/cni/networks/<name>`` and libcni's cached
#: results ``/var/lib/cni/results/<name>-<container>-<ifname>``.
CNI_NETWORKS = ("cbr0", "microk8s-flannel-network", "k8s-pod-network", "cilium")


def _state_owner(path: str) -> str:
    name = path.rstrip("/").rsplit("/", 1)[-1]
    if name == "cni":
        return "host-local IPAM's reservations and libcni's cache"
    if name == "calico":
        return "Calico (calico-node)"
    if name == "flannel":
        return "Flannel (flanneld's subnet file)"
    return "a CNI"


def _cni_lib_entries(facts: Facts, path: str, networks: set[str]) -> tuple[list[str], bool]:
    """The entries of a ``/var/lib/cni`` that belong to cluster networks (podman and nerdctl
    keep theirs there too): ``networks/<name>`` and ``results/<name>-...`` of those networks,
    and the flannel plugin's ``flannel`` cache, as paths relative to ``path``; and whether
    nothing else is in it."""
    found: list[str] = []
    whole = True
    for entry in facts.root.listdir(path) or []:
        if entry == "flannel":
            found.append(entry)
            continue
        if entry not in ("networks", "results"):
            whole = False
            continue
        for name in facts.root.listdir(f"{path}/{entry}") or []:
            ours = (
                name in networks
                if entry == "networks"
                else name.startswith(tuple(f"{net}-" for net in networks))
            )
            if ours:
                found.append(f"{entry}/{name}")
            else:
                whole = False
    return found, whole


def _mounted_below(facts: Facts, path: str) -> list[str]:
    """The first component below ``path`` of the mounts the mount table shows there (Calico's
    ``/run/calico/cgroup``): such a directory exists on the node, also in a copy that holds
    only files."""
    prefix = path.rstrip("/") + "/"
    return [
        m.mount_point[len(prefix) :].split("/", 1)[0]
        for m in facts.get(mount_table).mounts
        if m.mount_point.startswith(prefix)
    ]


def _state(facts: Facts, networks: set[str]) -> list[CniState]:
    out: list[CniState] = []
    seen: set[str] = set()
    for d in (KUBEADM, *DEPLOYERS):
        for path in d.cni_state_dirs:
            if path in seen:
                continue
            seen.add(path)
            mounted = _mounted_below(facts, path)
            if not mounted and not facts.root.is_dir(path):
                continue
            if path.endswith("/cni"):
                entries, whole = _cni_lib_entries(facts, path, networks)
                if entries:
                    out.append(CniState(path, _state_owner(path), tuple(entries), whole))
            else:
                listed = facts.root.listdir(path) or []
                entries_here = tuple(dict.fromkeys([*listed, *mounted]))
                out.append(CniState(path, _state_owner(path), entries_here))
    return out


def interface_owner(name: str) -> str | None:
    """Who makes an interface of that name, when it is on the allowlist.

    >>> interface_owner("flannel.1"), interface_owner("cali1a2b3c4d5e6"), interface_owner("eth0")
    ('Flannel', "Calico (a pod's host-side veth)", None)
    """
    for pattern, owner in IFACES:
        if pattern.fullmatch(name):
            return owner
    return None


def _uevent_type(facts: Facts, name: str) -> str:
    for line in (facts.read(f"/sys/class/net/{name}/uevent") or "").splitlines():
        if line.startswith("DEVTYPE="):
            return line.split("=", 1)[1].strip()
    return ""


def _master(facts: Facts, name: str) -> str:
    """The bridge ``name`` is enslaved to: the name its ``master`` link leads to."""
    try:
        device = facts.root.resolve(f"/sys/class/net/{name}")
        target = os.readlink(os.path.join(device, "master"))
    except (OSError, UnsafePathError):
        return ""
    return target.rstrip("/").rsplit("/", 1)[-1]


def _interfaces(facts: Facts) -> tuple[bool, list[NetInterface]]:
    names = facts.root.listdir("/sys/class/net")
    if not names:
        return False, []
    found: list[NetInterface] = []
    present = set(names)
    bridges = [b for b in CNI_BRIDGES if b in present]
    for name in names[:MAX_INTERFACES]:
        owner = interface_owner(name)
        master = ""
        if owner is None and bridges and name.startswith("veth"):
            master = _master(facts, name)
            if master not in bridges:
                continue
            owner = f"a pod's veth on {master}"
        if owner is None:
            continue
        kind = _uevent_type(facts, name) or ("veth" if name.startswith(("veth", "cali")) else "")
        found.append(NetInterface(name, owner, kind, master, name not in MODULE_DEVICES))
    return True, found


def cni_facts(facts: Facts) -> CniFacts:
    dirs, configs = _configs(facts)
    known, interfaces = _interfaces(facts)
    return CniFacts(
        dirs=tuple(dirs),
        configs=tuple(configs),
        state=tuple(_state(facts, {*CNI_NETWORKS, *(c.config.name for c in configs)})),
        interfaces_known=known,
        interfaces=tuple(interfaces),
        bin_dirs=_bin_dirs(),
    )


@record
class BridgeConflict:
    """A CNI bridge whose address is not the one the running cluster's Flannel gives it: the
    bridge plugin refuses it for every new pod (``ensureAddr``: ``"cni0" already has an IP
    address different from <gateway>``)."""

    bridge: str
    #: The addresses it has (``10.244.1.1/24``).
    addresses: tuple[str, ...]
    #: The gateway address the plugin wants, from Flannel's subnet file.
    wanted: str
    evidence: tuple[Evidence, ...]


def _subnet_env(text: str) -> dict[str, str]:
    """``KEY=VALUE`` lines of flanneld's subnet file.

    >>> env = _subnet_env("FLANNEL_NETWORK=10.244.0.0/16\\nFLANNEL_SUBNET=10.244.1.1/24\\n")
    >>> env["FLANNEL_SUBNET"]
    '10.244.1.1/24'
    """
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _inet_addresses(text: str, device: str) -> list[tuple[str, int]]:
    """(``address/prefix``, line) of the IPv4 addresses of ``device`` in ``ip -o addr show``.

    >>> _inet_addresses("5: cni0    inet 10.244.0.1/24 brd 10.244.0.255 scope global cni0\\\\"
    ...                 "       valid_lft forever preferred_lft forever\\n", "cni0")
    [('10.244.0.1/24', 1)]
    """
    found: list[tuple[str, int]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if len(words) >= 4 and words[1] == device and words[2] == "inet":
            found.append((words[3], lineno))
    return found


def bridge_conflict(facts: Facts) -> BridgeConflict | None:
    """Where the running kubelet's runtime loads Flannel's configuration first, cni0 carries
    an IPv4 address other than the gateway of the subnet Flannel assigned this node."""
    from nodedoctor.facts.profile import deployer_profile

    deployer = facts.get(deployer_profile).deployer or KUBEADM
    cni = facts.get(cni_facts)
    conf_dir = next((d for d in cni.dirs if d.path == deployer.cni_conf_dir), None)
    if conf_dir is None or not conf_dir.files:
        return None
    loaded = next((c for c in cni.configs if c.path == conf_dir.files[0]), None)
    bridge = CNI_BRIDGES[0]
    if loaded is None or loaded.owner != "Flannel" or loaded.config.force_address:
        return None  # another CNI's, or the bridge plugin replaces the address itself (k3s)
    if not facts.root.exists(f"/sys/class/net/{bridge}"):
        return None
    subnet_file = next(
        (
            f"{d}/subnet.env"
            for d in deployer.cni_state_dirs
            if d.endswith("/flannel") and facts.root.exists(f"{d}/subnet.env")
        ),
        None,
    )
    if subnet_file is None:
        return None
    wanted = _subnet_env(facts.read(subnet_file) or "").get("FLANNEL_SUBNET")
    result = facts.root.run("ip-addr")
    if not wanted or result is None or not result.ok:
        return None
    addresses = _inet_addresses(result.stdout, bridge)
    # ensureAddr walks the addresses in this order: the wanted one first is accepted, any
    # other IPv4 address before it is refused.
    other = [(a, line) for a, line in addresses if a != wanted]
    if not addresses or addresses[0][0] == wanted:
        return None
    evidence = (
        *(Evidence(result.display, f"{bridge}: inet {a}", line) for a, line in other),
        Evidence(subnet_file, f"FLANNEL_SUBNET={wanted}"),
        loaded.evidence,
    )
    return BridgeConflict(bridge, tuple(a for a, _ in addresses), wanted, evidence)
