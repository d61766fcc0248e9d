"""required-command-missing: a program the deployer's install or the node's components need is
not on ``PATH``, or ``iptables`` runs a backend the kernel lacks.

kubeadm's preflight (``addExecChecks`` in cmd/kubeadm/app/preflight/checks_linux.go) looks up a
list that changed with its releases (runbook References); KubeKey's precheck stops without
conntrack and socat and then runs kubeadm. Kubespray and kOps install the packages they need,
k3s and RKE2 bundle their own programs, and MicroK8s is a snap carrying its own: nothing is
asked of those nodes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from nodedoctor._record import record
from nodedoctor.facts import Facts
from nodedoctor.facts.commands import NFT_BACKEND, find_program, iptables_backend, node_programs
from nodedoctor.facts.kernelconfig import kernel_config, kernel_modules
from nodedoctor.facts.kubelet import kubelet_facts
from nodedoctor.facts.packages import packages
from nodedoctor.facts.profile import deployer_profile
from nodedoctor.facts.versions import Version
from nodedoctor.i18n import N_, _
from nodedoctor.model import Evidence, FixHint, Issue, Severity
from nodedoctor.rules.base import Rule, SkipRuleError

#: Deployers that run kubeadm on a node the user prepared.
KUBEADM_DRIVEN = frozenset({"kubeadm", "kubekey"})
#: Deployers that bring their programs (installed by the deployer, bundled, or a snap).
SELF_SUFFICIENT = {
    "kubespray": N_("Kubespray installs the packages it needs (roles/kubernetes/preinstall)"),
    "kops": N_("kOps's nodeup installs the packages it needs"),
    "k3s": N_("k3s bundles its own iptables, conntrack, ip and the other programs it runs"),
    "rke2": N_("RKE2 bundles its own iptables, conntrack, ip and the other programs it runs"),
    "microk8s": N_("MicroK8s is a snap that carries its own programs"),
}
#: Who needs a program (translated where the finding is built).
KUBEADM_PREFLIGHT = N_("kubeadm's preflight")
KUBEKEY_PRECHECK = N_("KubeKey's precheck")
HOST_SIDE = N_(
    "host-side CNI plugins (portmap for hostPort, bridge or ptp with ipMasq) and the "
    "kubelet's KUBE-IPTABLES-HINT chain; kubeadm stopped checking it in 1.33"
)
HOST_SIDE_SHORT = N_("host-side CNI plugins")
#: The Debian and RHEL packages that carry each program.
PACKAGES: dict[str, str] = {
    "crictl": "cri-tools",
    "conntrack": "conntrack (RHEL: conntrack-tools)",
    "ip": "iproute2 (RHEL: iproute)",
    "iptables": "iptables",
    "mount": "mount (RHEL: util-linux)",
    "nsenter": "util-linux",
    "losetup": "mount (RHEL: util-linux)",
    "cp": "coreutils",
    "ethtool": "ethtool",
    "tc": "iproute2 (RHEL: iproute-tc)",
    "touch": "coreutils",
    "socat": "socat",
}


@record
class Need:
    program: str
    severity: Severity
    #: Who needs it, and what they print without it.
    who: str
    symptom: str
    #: ``who`` in the finding's title.
    named: str = ""


def _kubeadm_version(facts: Facts) -> tuple[Version | None, Evidence | None]:
    pkgs = facts.get(packages)
    item = pkgs.get("kubeadm")
    if item is not None and item.version is not None:
        return item.version, item.evidence
    k = facts.get(kubelet_facts)
    if k.version is not None:
        return k.version.value, k.version.evidence
    return None, None


def _kubeadm_needs(v: Version | None) -> Iterator[Need]:
    """kubeadm's own lookups for version ``v`` (``None``: the newest's)."""

    def before(minor: int) -> bool:
        return v is not None and v < (1, minor)

    def error(program: str) -> Need:
        return Need(
            program,
            Severity.ERROR,
            KUBEADM_PREFLIGHT,
            f"[ERROR FileExisting-{program}]: {program} not found in system path",
        )

    def warning(program: str) -> Need:
        return Need(
            program,
            Severity.WARNING,
            KUBEADM_PREFLIGHT,
            f"[WARNING FileExisting-{program}]: {program} not found in system path",
        )

    if before(31):
        yield error("crictl")
    elif v is not None and v.minor == (1, 31):
        yield warning("crictl")
    if before(32):
        yield error("conntrack")
    if before(33):
        yield from (error(p) for p in ("ip", "iptables", "mount", "nsenter"))
        yield from (warning(p) for p in ("ethtool", "tc", "touch"))
    else:
        yield from (error(p) for p in ("mount", "losetup", "cp"))
        yield Need(
            "iptables",
            Severity.WARNING,
            HOST_SIDE,
            "neither iptables nor ip6tables usable",
            HOST_SIDE_SHORT,
        )


def _needs(facts: Facts, profile: str) -> Iterator[Need]:
    v, _unused = _kubeadm_version(facts)
    yield from _kubeadm_needs(v)
    if profile == "kubekey":
        for program in ("conntrack", "socat"):
            yield Need(program, Severity.ERROR, KUBEKEY_PRECHECK, f"…: {program} is required.")


def _join(whos: Iterable[str]) -> str:
    """Who needs a program, translated, each once, in order."""
    names = [_(w) for w in dict.fromkeys(whos)]
    joined = names[0]
    for name in names[1:]:
        joined = _("{first}; {then}").format(first=joined, then=name)
    return joined


def _missing_programs(facts: Facts, profile: str) -> Iterator[Issue]:
    programs = facts.get(node_programs)
    if not programs.complete:
        raise SkipRuleError(programs.incomplete_reason or _("this root does not hold programs"))
    wanted: dict[str, list[Need]] = {}
    for need in _needs(facts, profile):
        wanted.setdefault(need.program, []).append(need)
    version, version_evidence = _kubeadm_version(facts)
    vtext = (
        _("kubeadm {version}").format(version=version.raw)
        if version
        else _("the newest kubeadm's list: none is installed")
    )
    for program, needs in wanted.items():
        if find_program(facts, program) is not None:
            continue
        severity = max((n.severity for n in needs), key=lambda s: s.rank)
        who = _join(n.who for n in needs)
        named = _join(n.named or n.who for n in needs)
        symptoms = "; ".join(f'"{n.symptom}"' for n in needs)
        evidence = [programs.evidence_missing(program)]
        if version_evidence is not None:
            evidence.append(version_evidence)
        impact = (
            _("the install stops until {program} is installed")
            if severity is Severity.ERROR
            else _("it warns until {program} is installed")
        )
        yield Issue(
            title=_("{program} is not on PATH; {who} needs it").format(program=program, who=named),
            message=_(
                "{program} is in none of the PATH directories; needed by {who} ({version}): "
                "{symptoms}"
            ).format(program=program, who=who, version=vtext, symptoms=symptoms),
            evidence=tuple(evidence),
            severity=severity,
            impact=impact.format(program=program),
            fix=FixHint(
                summary=_(
                    "install the package that carries {program}: {package} "
                    "(apt-get install / dnf install)"
                ).format(program=program, package=PACKAGES[program])
            ),
        )


def _nft_without_kernel(facts: Facts, severity: Severity) -> Iterator[Issue]:
    backend = facts.get(iptables_backend)
    if backend is None or backend.backend != NFT_BACKEND:
        return
    config = facts.get(kernel_config)
    if config.config is None:
        return
    modules = facts.get(kernel_modules)
    lacking: list[Evidence] = []
    for option, module in (("CONFIG_NF_TABLES", "nf_tables"), ("CONFIG_NFT_COMPAT", "nft_compat")):
        value = config.value(option)
        ev = config.option_evidence(option)
        if value == "n" and ev is not None:
            lacking.append(ev)
        elif value == "m" and modules.has(module) is False and ev is not None:
            lacking += [ev, Evidence(modules.source or "modules.dep", f"no module {module}")]
    if not lacking:
        return
    yield Issue(
        title=_("iptables uses the nf_tables backend, which this kernel lacks"),
        message=_(
            "{path} runs {program} (iptables-nft), but the kernel has no nf_tables (or its "
            "xtables compatibility): every iptables call fails with "
            '"Could not fetch rule set generation id: Invalid argument"'
        ).format(path=backend.path, program=backend.program),
        evidence=(backend.evidence, *lacking),
        severity=severity,
        impact=_(
            "the kubelet, CNI plugins and kube-proxy that use the node's iptables cannot "
            "install their rules"
        ),
        fix=FixHint(
            summary=_(
                "switch iptables to the legacy backend (Debian/Ubuntu: update-alternatives "
                "--set iptables /usr/sbin/iptables-legacy, and the same for ip6tables), or boot "
                "a kernel with CONFIG_NF_TABLES and CONFIG_NFT_COMPAT"
            )
        ),
    )


def _check(facts: Facts) -> Iterator[Issue]:
    profile = facts.get(deployer_profile).name
    nft_severity = Severity.ERROR if profile in ("k3s", "rke2") else Severity.WARNING
    found = list(_nft_without_kernel(facts, nft_severity))
    skip: str | None = None
    if profile is None:
        skip = _(
            "no deployer is known (nothing installed and no --profile): which programs the "
            "install needs depends on it"
        )
    elif profile in SELF_SUFFICIENT:
        skip = _(SELF_SUFFICIENT[profile])
    elif profile in KUBEADM_DRIVEN:
        try:
            found += _missing_programs(facts, profile)
        except SkipRuleError as exc:
            skip = exc.reason
    if skip is not None and not found:
        raise SkipRuleError(skip)
    yield from found


RULE = Rule(
    id="required-command-missing",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    title=N_("a program the deployer or the node's components need is missing or cannot work"),
    check=_check,
    tags=("preflight", "kubeadm"),
)
