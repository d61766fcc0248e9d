"""netfilter-rules-left: packet filter chains and tables that kube-proxy and CNIs made, left
after the cluster is gone."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.netfilter import ChainLeft, netfilter_facts
from nodedoctor.facts.teardown import teardown_facts
from nodedoctor.i18n import N_, _
from nodedoctor.model import Evidence, FixHint, Issue, Severity
from nodedoctor.rules._teardown_common import MAX_EVIDENCE
from nodedoctor.rules.base import Rule, SkipRuleError


def _check_netfilter_rules_left(facts: Facts) -> Iterator[Issue]:
    kubelet = facts.get(teardown_facts).kubelet
    if not kubelet.removed:
        return  # the running (or stopped) cluster's own rules
    nf = facts.get(netfilter_facts)
    if not nf.known:
        raise SkipRuleError(nf.unknown_reason)
    if not nf.any:
        return
    owners = sorted({c.owner for c in nf.chains} | {t.owner for t in nf.nft_tables})
    rules = sum(c.rules for c in nf.chains)
    chain_text = table_text = ""
    if nf.chains:
        tools = sorted({c.ruleset.command for c in nf.chains})
        chain_text = _("{n} iptables chain(s) with {rules} rule(s) ({tools})").format(
            n=len(nf.chains), rules=rules, tools=", ".join(tools)
        )
    if nf.nft_tables:
        table_text = _("nftables table(s) {names}").format(
            names=", ".join(f"{t.family} {t.name}" for t in nf.nft_tables)
        )
    if chain_text and table_text:
        left = _("{chains} and {tables}").format(chains=chain_text, tables=table_text)
    else:
        left = chain_text or table_text
    by_table: dict[tuple[str, str], list[ChainLeft]] = {}
    for c in nf.chains:
        by_table.setdefault((c.ruleset.command, c.table), []).append(c)
    per_table = [
        Evidence(
            f"{command} (table {table})",
            f"{len(chains)} chain(s): "
            + ", ".join(c.chain for c in chains[:12])
            + (", ..." if len(chains) > 12 else ""),
            chains[0].evidence.line,
        )
        for (command, table), chains in by_table.items()
    ]
    evidence: tuple[Evidence, ...] = (
        *(t.evidence for t in nf.nft_tables),
        *per_table[:MAX_EVIDENCE],
        *kubelet.evidence[:1],
    )
    yield Issue(
        title=_("packet filter rules of a torn-down cluster left ({owners})").format(
            owners=", ".join(owners)
        ),
        message=_(
            "{left} of {owners} remain and {kubelet}. "
            "'kubeadm reset' does not remove them ('The reset process does not reset or clean "
            "up iptables rules or IPVS tables'): the old Services' NAT rules and the old "
            "CNI's policy chains keep matching the next cluster's traffic"
        ).format(left=left, owners=", ".join(owners), kubelet=kubelet.describe()),
        evidence=evidence,
        fix=FixHint(
            summary=_(
                "remove the chains and tables (nodedoctor clean --apply saves them as "
                "iptables-restore and nft input in its journal first), or reboot if nothing "
                "restores them at boot"
            ),
            available=False,
            commands=(
                "iptables-save | grep -v -e KUBE- -e cali- -e CILIUM_ -e FLANNEL- | "
                "iptables-restore",
                *(f"nft delete table {t.family} {t.name}" for t in nf.nft_tables),
            ),
        ),
        impact=_(
            "Service addresses of the old cluster still redirect; the next cluster's "
            "traffic can be dropped or rewritten by the old CNI's chains"
        ),
    )


RULE = Rule(
    id="netfilter-rules-left",
    severity=Severity.WARNING,
    highest=Severity.WARNING,
    clean_removes=True,
    title=N_("iptables chains and nftables tables of a torn-down cluster are left"),
    check=_check_netfilter_rules_left,
    tags=("teardown", "kube-proxy", "cni", "iptables", "nftables"),
    applies_to=N_("all versions; read from the running kernel (live, or a bundle)"),
)
