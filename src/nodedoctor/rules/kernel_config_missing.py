"""kernel-config-missing: the running kernel was built without an option (or its module is not
installed) that the container runtime, the kubelet, kube-proxy, the CNI or kubeadm's preflight
needs.

Which options, and how bad each one's absence is, comes from three peers (runbook References):
k8s.io/system-validators' ``DefaultSysSpec`` (kubeadm's SystemVerification: its ``Required``
options stop ``kubeadm init``/``join``, its ``Optional`` ones only warn), and the
``check-config.sh`` scripts of moby and k3s ("Generally Necessary" and "Optional Features").
Each option is listed once with the component that needs it; the cgroup controllers' own
options (``CGROUP_SCHED``, ``CPUSETS``, ``MEMCG``, ``CGROUP_PIDS``, ``CGROUP_CPUACCT``,
``CGROUP_HUGETLB``) are ``cgroup-controller-disabled``'s, which sees the controllers themselves.
Options the peers list that nothing in a Kubernetes node uses (``AUFS_FS``, ``BLK_DEV_DM``,
the encryption and storage-driver options of Docker's check) are left out.
"""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor._record import record
from nodedoctor.facts import Facts
from nodedoctor.facts.cgroups import CgroupMode, cgroup_facts
from nodedoctor.facts.kernelconfig import KernelConfigFacts, kernel_config, kernel_modules
from nodedoctor.facts.kubeproxy import kube_proxy_mode
from nodedoctor.facts.profile import deployer_profile
from nodedoctor.i18n import N_, _
from nodedoctor.model import Evidence, FixHint, Issue, Severity
from nodedoctor.rules.base import Rule, SkipRuleError

#: Deployers whose install runs kubeadm's preflight (KubeKey and Kubespray drive kubeadm).
KUBEADM_PREFLIGHT = frozenset({"kubeadm", "kubekey", "kubespray"})
#: Deployers whose default CNI is flannel (a Linux bridge ``cni0`` and a VXLAN ``flannel.1``):
#: k3s's embedded flannel, RKE2's default canal (Calico policy over flannel).
FLANNEL_DEFAULT = frozenset({"k3s", "rke2"})


@record
class Need:
    """A component's need for a kernel option. ``names`` are the option and its older names
    (without ``CONFIG_``), checked in order as the validators do; ``modules`` the modules that
    provide it when it is built as ``=m`` (checked against ``modules.dep``)."""

    names: tuple[str, ...]
    component: str
    modules: tuple[str, ...] = ()


#: Who needs the options, and what happens without them (texts for people, translated where
#: they are used): key -> (who in a title, who in full, impact).
COMPONENTS: dict[str, tuple[str, str, str]] = {
    "runc": (
        N_("runc"),
        N_("runc (every container's namespaces, cgroups and mounts)"),
        N_(
            "no container can start: runc fails to create the container's namespaces, cgroup or "
            "/dev/mqueue mount, and every pod stays ContainerCreating"
        ),
    ),
    "kubeadm": (
        N_("kubeadm's preflight"),
        N_("kubeadm's preflight (SystemVerification: a required option)"),
        N_(
            'kubeadm init and join stop with "[ERROR SystemVerification]: unexpected kernel '
            'config: ..." until the option is enabled or the check is ignored'
        ),
    ),
    "kube-proxy": (
        N_("kube-proxy's iptables rules"),
        N_("kube-proxy's iptables rules (iptables and ipvs modes)"),
        N_(
            'kube-proxy cannot install its rules ("Failed to execute iptables-restore" ... '
            '"Couldn\'t load match"): Services and NodePorts do not work'
        ),
    ),
    "ipvs": (
        N_("kube-proxy in IPVS mode"),
        N_("kube-proxy in IPVS mode"),
        N_("kube-proxy cannot program IPVS: Services do not work"),
    ),
    "veth": (
        N_("the CNI plugin"),
        N_("the CNI plugin (every common one gives a pod its interface as a veth pair)"),
        N_("pod sandboxes fail to get a network interface; pods stay ContainerCreating"),
    ),
    "bridge": (
        N_("bridge-based CNIs"),
        N_("bridge-based CNIs (flannel's cni0, the bridge plugin) and kube-proxy on them"),
        N_(
            "pods of a bridge-based CNI get no network, and Service traffic between pods on the "
            "same bridge bypasses kube-proxy's rules"
        ),
    ),
    "vxlan": (
        N_(
            "overlay CNIs: flannel's default VXLAN backend, Calico's VXLAN mode, Cilium's default "
            "tunnel"
        ),
        N_(
            "overlay CNIs: flannel's default VXLAN backend, Calico's VXLAN mode, Cilium's default "
            "tunnel"
        ),
        N_("an overlay network cannot be created: pods on different nodes cannot reach each other"),
    ),
    "overlayfs": (
        N_("the container runtime's default image storage"),
        N_(
            "the container runtime's default image storage (containerd's overlayfs snapshotter, "
            "CRI-O's overlay storage driver)"
        ),
        N_(
            "the runtime cannot unpack images with its default snapshotter; containerd's CRI "
            "plugin fails unless another snapshotter is configured"
        ),
    ),
    "cfs-bandwidth": (
        N_("CPU limits"),
        N_("CPU limits (CFS bandwidth control: cpu.max, cpu.cfs_quota_us)"),
        N_("containers with a CPU limit fail to start, or run without the limit"),
    ),
    "seccomp": (
        N_("seccomp profiles"),
        N_("seccomp profiles (RuntimeDefault, the kubelet's seccompDefault)"),
        N_("pods that ask for a seccomp profile fail to start; none can be confined"),
    ),
    "keys": (
        N_("runc's per-container session keyring"),
        N_("runc's per-container session keyring"),
        N_("containers share the host's session keyring (check-config of moby and k3s fails)"),
    ),
}

#: Needed whatever the node runs (system-validators ``Required``; k3s and moby
#: check-config "Generally Necessary").
ALWAYS: tuple[Need, ...] = (
    Need(("NAMESPACES",), "runc"),
    Need(("NET_NS",), "runc"),
    Need(("PID_NS",), "runc"),
    Need(("IPC_NS",), "runc"),
    Need(("UTS_NS",), "runc"),
    Need(("CGROUPS",), "runc"),
    Need(("FAIR_GROUP_SCHED",), "runc"),
    Need(("POSIX_MQUEUE",), "runc"),
    Need(("VETH",), "veth", ("veth",)),
    Need(("OVERLAY_FS", "OVERLAYFS_FS"), "overlayfs", ("overlay",)),
    Need(("CFS_BANDWIDTH",), "cfs-bandwidth"),
    Need(("SECCOMP",), "seccomp"),
    Need(("SECCOMP_FILTER",), "seccomp"),
    Need(("KEYS",), "keys"),
)
#: The device and freezer controllers: cgroup v1 files, a BPF program on cgroup v2
#: (system-validators v1.11+ ``RequiredCgroupsV1`` / ``RequiredCgroupsV2``).
CGROUP_V1: tuple[Need, ...] = (
    Need(("CGROUP_DEVICE",), "runc"),
    Need(("CGROUP_FREEZER",), "runc"),
)
CGROUP_V2: tuple[Need, ...] = (Need(("CGROUP_BPF",), "runc"),)
#: Required by the validators and nothing else here checks them.
KUBEADM_ONLY: tuple[Need, ...] = (
    Need(("INET",), "kubeadm"),
    Need(("EXT4_FS",), "kubeadm", ("ext4",)),
    Need(("PROC_FS",), "kubeadm"),
    Need(("NETFILTER_XT_TARGET_REDIRECT", "IP_NF_TARGET_REDIRECT"), "kubeadm", ("xt_REDIRECT",)),
)
#: kube-proxy's iptables rules (k3s check-config's netfilter list; the validators require
#: the comment match).
KUBE_PROXY: tuple[Need, ...] = (
    Need(("NF_NAT",), "kube-proxy", ("nf_nat",)),
    Need(("IP_NF_NAT",), "kube-proxy", ("iptable_nat",)),
    Need(("IP_NF_FILTER",), "kube-proxy", ("iptable_filter",)),
    Need(("IP_NF_TARGET_MASQUERADE",), "kube-proxy", ("xt_MASQUERADE", "ipt_MASQUERADE")),
    Need(("IP_NF_TARGET_REJECT",), "kube-proxy", ("ipt_REJECT",)),
    Need(("NETFILTER_XT_MATCH_ADDRTYPE",), "kube-proxy", ("xt_addrtype",)),
    Need(("NETFILTER_XT_MATCH_CONNTRACK",), "kube-proxy", ("xt_conntrack",)),
    Need(("NETFILTER_XT_MATCH_COMMENT",), "kube-proxy", ("xt_comment",)),
    Need(("NETFILTER_XT_MATCH_MULTIPORT",), "kube-proxy", ("xt_multiport",)),
    Need(("NETFILTER_XT_MATCH_STATISTIC",), "kube-proxy", ("xt_statistic",)),
)
#: kube-proxy in IPVS mode, beside the above (k3s check-config's IPVS options).
IPVS: tuple[Need, ...] = (
    Need(("IP_VS",), "ipvs", ("ip_vs",)),
    Need(("IP_VS_NFCT",), "ipvs"),
    Need(("IP_VS_PROTO_TCP",), "ipvs"),
    Need(("IP_VS_PROTO_UDP",), "ipvs"),
    Need(("NETFILTER_XT_MATCH_IPVS",), "ipvs", ("xt_ipvs",)),
    Need(("IP_SET",), "ipvs", ("ip_set",)),
)
#: The IPVS scheduler kube-proxy asks for: its option and module.
IPVS_SCHEDULERS = ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh")
BRIDGE: tuple[Need, ...] = (
    Need(("BRIDGE",), "bridge", ("bridge",)),
    Need(("BRIDGE_NETFILTER",), "bridge", ("br_netfilter",)),
)
VXLAN: tuple[Need, ...] = (Need(("VXLAN",), "vxlan", ("vxlan",)),)


@record
class Missing:
    need: Need
    severity: Severity
    #: The option as the configuration names it (the first name it knows), and its value.
    name: str
    value: str
    #: Built as a module whose file is not installed.
    module_missing: bool = False


def _needs(facts: Facts) -> Iterator[tuple[Need, Severity]]:
    profile = facts.get(deployer_profile).name
    yield from ((n, Severity.ERROR if n.component == "runc" else _severity(n)) for n in ALWAYS)
    mode = facts.get(cgroup_facts).mode
    if mode is CgroupMode.V2:
        yield from ((n, Severity.ERROR) for n in CGROUP_V2)
    elif mode is not None:
        yield from ((n, Severity.ERROR) for n in CGROUP_V1)
    if profile in KUBEADM_PREFLIGHT:
        yield from ((n, Severity.ERROR) for n in KUBEADM_ONLY)
    proxy = facts.get(kube_proxy_mode)
    if proxy.mode in ("iptables", "ipvs"):
        yield from ((n, Severity.ERROR) for n in KUBE_PROXY)
    elif proxy.mode is None:
        # Every deployer runs kube-proxy by default (iptables mode; Kubespray's and KubeKey's
        # ipvs mode uses these too); on a node of unknown deployer it may run another mode, or
        # none (Cilium's kube-proxy replacement).
        severity = Severity.ERROR if profile is not None else Severity.WARNING
        yield from ((n, severity) for n in KUBE_PROXY)
    if proxy.mode == "ipvs":
        yield from ((n, Severity.ERROR) for n in IPVS)
        scheduler = proxy.scheduler if proxy.scheduler in IPVS_SCHEDULERS else "rr"
        yield Need((f"IP_VS_{scheduler.upper()}",), "ipvs", (f"ip_vs_{scheduler}",)), Severity.ERROR
    overlay = Severity.ERROR if profile in FLANNEL_DEFAULT else Severity.INFO
    yield from ((n, overlay) for n in (*BRIDGE, *VXLAN))


def _severity(need: Need) -> Severity:
    """The validators' ``Optional`` options only warn; so do the ones a node can run without."""
    return Severity.ERROR if need.component == "veth" else Severity.WARNING


def _missing(facts: Facts, config: KernelConfigFacts) -> list[Missing]:
    modules = facts.get(kernel_modules)
    found: dict[str, Missing] = {}
    for need, severity in _needs(facts):
        values = [(name, config.value(f"CONFIG_{name}")) for name in need.names]
        known = [(name, value) for name, value in values if value is not None]
        if not known:
            continue  # a configuration without its banner (a defconfig) does not say
        name, value = next(((n, v) for n, v in known if v != "n"), known[0])
        if value == "n":
            miss = Missing(need, severity, name, value)
        elif value == "m" and need.modules and modules.has(*need.modules) is False:
            miss = Missing(need, severity, name, value, module_missing=True)
        else:
            continue
        before = found.get(name)
        if before is None or severity.rank > before.severity.rank:
            found[name] = miss
    return list(found.values())


def _option_evidence(config: KernelConfigFacts, name: str) -> Evidence:
    ev = config.option_evidence(f"CONFIG_{name}")
    if ev is None or ev.line is None:
        text = f"CONFIG_{name} is not set (the configuration does not name it)"
        return Evidence(config.source or "kernel configuration", text)
    return ev


def _check(facts: Facts) -> Iterator[Issue]:
    config = facts.get(kernel_config)
    if config.config is None:
        if config.other_kernel:
            raise SkipRuleError(config.other_kernel)
        release = config.release or "<release>"
        raise SkipRuleError(
            _(
                "the kernel's build configuration is not in this root (no /proc/config.gz, "
                "/boot/config-{release} or /lib/modules/{release}/config)"
            ).format(release=release)
        )
    missing = _missing(facts, config)
    modules = facts.get(kernel_modules)
    by_component: dict[tuple[str, Severity], list[Missing]] = {}
    for miss in missing:
        by_component.setdefault((miss.need.component, miss.severity), []).append(miss)
    for (component, severity), misses in sorted(
        by_component.items(), key=lambda kv: (-kv[0][1].rank, kv[0][0])
    ):
        short, who, impact = (_(text) for text in COMPONENTS[component])
        built_out = [m for m in misses if not m.module_missing]
        no_module = [m for m in misses if m.module_missing]
        evidence: list[Evidence] = [_option_evidence(config, m.name) for m in misses]
        names = ", ".join(f"CONFIG_{m.name}" for m in built_out)
        module_names = ", ".join(f"CONFIG_{m.name}" for m in no_module)
        mods = ", ".join(m.need.modules[0] for m in no_module)
        if no_module:
            evidence.append(Evidence(modules.source or "modules.dep", f"no module {mods}"))
        proxy = facts.get(kube_proxy_mode)
        if component in ("kube-proxy", "ipvs") and proxy.evidence is not None:
            evidence.append(proxy.evidence)
        title_names = ", ".join(f"CONFIG_{m.name}" for m in misses)
        if not no_module:
            message = _(
                "the kernel was built without {options} (configuration {source}); needed by {who}"
            )
        elif not built_out:
            message = _(
                "{module_options} is built as a module ({modules}) that is not installed for "
                "{release} (configuration {source}); needed by {who}"
            )
        else:
            message = _(
                "the kernel was built without {options}; {module_options} is built as a module "
                "({modules}) that is not installed for {release} (configuration {source}); "
                "needed by {who}"
            )
        yield Issue(
            title=_("the kernel lacks {options}, needed by {who}").format(
                options=title_names, who=short
            ),
            message=message.format(
                options=names,
                module_options=module_names,
                modules=mods,
                release=config.release,
                source=config.source,
                who=who,
            ),
            evidence=tuple(evidence),
            severity=severity,
            impact=impact,
            fix=FixHint(
                summary=_fix_summary(built_out, no_module, config.release),
                reboot=bool(built_out),
            ),
        )


def _fix_summary(built_out: list[Missing], no_module: list[Missing], release: str | None) -> str:
    install = _(
        "install the package with this kernel's remaining modules (Ubuntu: "
        "linux-modules-extra-{release}; the distribution's full kernel "
        "package elsewhere), then load them with modprobe"
    ).format(release=release or "$(uname -r)")
    if not built_out:
        return install
    boot = _(
        "boot a kernel built with {options} (=y, or =m with its module installed): the "
        "distribution's generic kernel has them (Debian linux-image-amd64 or -arm64, Ubuntu "
        "linux-generic); or rebuild this one with them; then reboot"
    ).format(options=", ".join(f"CONFIG_{m.name}" for m in built_out))
    if not no_module:
        return boot
    return _("{install_modules}; {boot_kernel}").format(install_modules=install, boot_kernel=boot)


RULE = Rule(
    id="kernel-config-missing",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    title=N_("the kernel lacks an option the runtime, kubelet, kube-proxy, CNI or kubeadm needs"),
    check=_check,
    tags=("kernel", "preflight"),
)
