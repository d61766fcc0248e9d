"""ip-forwarding-disabled: the node does not forward IPv4 packets (``net.ipv4.ip_forward`` is 0), or
IPv6 packets on a cluster configured for IPv6, while the deployer leaves it to the node
(kubeadm preflight's ``FileContent--proc-sys-net-ipv4-ip_forward``; issue 13)."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.network import ipv6_configured
from nodedoctor.facts.sysctl import (
    IP_FORWARD,
    IPV6_DEFAULT_FORWARDING,
    RunningValue,
    sysctl_config,
    sysctl_facts,
)
from nodedoctor.facts.target import target_facts
from nodedoctor.i18n import N_, _
from nodedoctor.model import Evidence, FixHint, Issue, Severity
from nodedoctor.rules._target_common import deployer_takes_care, deployer_title
from nodedoctor.rules.base import Rule, SkipRuleError

DROP_IN = "/etc/sysctl.d/99-kubernetes-nodedoctor.conf"


def _kubeadm_error(key: str) -> str:
    """kubeadm's preflight line for ``key`` (checks.go FileContentCheck)."""
    path = "/proc/sys/" + key.replace(".", "/")
    label = "FileContent-" + path.replace("/", "-")
    return f"[ERROR {label}]: {path} contents are not set to 1"


def _check_forwarding(facts: Facts) -> Iterator[Issue]:
    sc = facts.get(sysctl_facts)  # read first: a bundle records what a check read
    v4 = sc.value(IP_FORWARD)
    v6 = sc.value(IPV6_DEFAULT_FORWARDING)
    if v4.present is None:
        raise SkipRuleError(v4.unknown)
    if not v4.present:
        raise SkipRuleError(
            _("{path} is absent").format(path=v4.evidence.source if v4.evidence else IP_FORWARD)
        )
    t = facts.get(target_facts)
    if deployer_takes_care(facts, t, "ip_forward", _("IP forwarding")) is not None:
        return
    before = t.before_install or t.before_kubeadm_join
    context = tuple(e for e in (t.deployer_evidence,) if e is not None)
    if v4.value != "1" and v4.evidence is not None:
        yield _issue(facts, v4, IP_FORWARD, (before, deployer_title(t)), context, ipv6=False)
    if not v6.present or v6.value == "1" or v6.evidence is None:
        return
    v6_config = ipv6_configured(facts)  # read only where IPv6 forwarding is off
    if v6_config is not None:
        yield _issue(
            facts,
            v6,
            IPV6_DEFAULT_FORWARDING,
            (before, deployer_title(t)),
            (*context, v6_config),
            ipv6=True,
        )


def _and(paths: tuple[str, ...]) -> str:
    """``paths`` in a sentence: ``a and b``."""
    text = paths[0]
    for path in paths[1:]:
        text = _("{paths} and {path}").format(paths=text, path=path)
    return text


def _issue(
    facts: Facts,
    value: RunningValue,
    key: str,
    when: tuple[bool, str],
    context: tuple[Evidence, ...],
    *,
    ipv6: bool,
) -> Issue:
    """``when``: (before the install, the deployer's name)."""
    before, deployer = when
    configured = facts.get(sysctl_config).configured_value(key)
    family = "IPv6" if ipv6 else "IPv4"
    kubeadm = _kubeadm_error(key)
    if before:
        what = _(
            "{key} is {value} and {deployer} does not set it: `kubeadm init` and "
            "`kubeadm join` stop with `{kubeadm}`"
        ).format(key=key, value=value.value, deployer=deployer, kubeadm=kubeadm)
    else:
        what = _(
            "{key} is {value}: the node does not route {family} packets between its "
            "pods and the network"
        ).format(key=key, value=value.value, family=family)
    evidence = [value.evidence] if value.evidence is not None else []
    if configured is not None and configured.value == "1":
        what = _(
            "{message}; the sysctl files set it to 1 ({path}), but the running kernel has "
            "not applied them (they take effect at boot or with `sysctl --system`)"
        ).format(message=what, path=configured.path)
        evidence.append(configured.evidence)
    elif configured is not None:
        what = _("{message}; {path} sets it to {value}").format(
            message=what, path=configured.path, value=configured.value
        )
        evidence.append(configured.evidence)
    if ipv6:
        from nodedoctor.remedies.steps import ByHand, Remedy  # only for a finding

        remedy = Remedy(
            (
                ByHand(
                    _(
                        "IPv6 forwarding makes Linux ignore router advertisements on interfaces "
                        "with accept_ra = 1, which can remove the node's IPv6 default route: the "
                        "interfaces to keep are yours to choose"
                    )
                ),
            )
        )
        fix = FixHint(
            summary=_(
                "set net.ipv6.conf.all.forwarding = 1 (it sets every interface's and the "
                "default) in a drop-in such as {path} and run `sysctl --system`; with "
                "forwarding on, an interface configured by router advertisements needs "
                "accept_ra = 2 to keep its IPv6 route"
            ).format(path=DROP_IN),
            files=(DROP_IN,),
            commands=("sysctl --system",),
            reboot=not facts.running,
        )
    else:
        from nodedoctor.remedies.sysctl import edited_files, sysctl_remedy  # only for a finding

        remedy = sysctl_remedy(facts, ((IP_FORWARD, "1"),), RULE.id)
        files = edited_files(remedy) or (DROP_IN,)
        fix = FixHint(
            summary=_(
                "set net.ipv4.ip_forward = 1 in {paths} (the Kubernetes "
                "documentation's /etc/sysctl.d/k8s.conf is such a drop-in) and apply it with "
                "`sysctl --system`"
            ).format(paths=_and(files)),
            files=files,
            commands=("sysctl --system",),
            reboot=not facts.running,
        )
    return Issue(
        title=_("{family} forwarding is off ({key} = {value})").format(
            family=family, key=key, value=value.value
        ),
        message=what,
        evidence=(*evidence, *context),
        severity=Severity.ERROR,
        fix=fix,
        impact=_(
            "kubeadm preflight stops (`{kubeadm}`); once running, the node drops what its "
            "pods send to other nodes and outside the cluster (cross-node pod traffic, "
            "Services whose endpoints are elsewhere, DNS to CoreDNS on another node)"
        ).format(kubeadm=kubeadm),
        remedy=remedy,
    )


RULE = Rule(
    id="ip-forwarding-disabled",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    title=N_("IPv4 forwarding is off, so the node routes no pod traffic"),
    check=_check_forwarding,
    tags=("network", "sysctl", "kubeadm", "preflight"),
    applies_to=N_(
        "every version; judged before the install only for deployers that leave it to the "
        "node (kubeadm); IPv6 where the cluster's files configure IPv6"
    ),
)
