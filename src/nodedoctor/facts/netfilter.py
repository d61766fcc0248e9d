"""The packet filter rules kube-proxy, the kubelet and CNIs leave, read from the node's own
tools: ``iptables-save``/``ip6tables-save`` of each backend in use (nf_tables and legacy; the
dump's header says which) and ``nft list ruleset``. Only a running node's rules can be read
(a live check, or a bundle that recorded the commands); any other root says why not.

Only allowlisted names count, so a node's own firewall, Docker's chains and anything else are
never taken for leftovers:

- iptables chains by prefix (:data:`CHAIN_PREFIXES`): ``KUBE-`` (kube-proxy, the kubelet,
  kube-router), ``cali-`` (Calico, felix's ``ChainNamePrefix``), ``CILIUM_`` (Cilium),
  ``FLANNEL-`` (flanneld's ``FLANNEL-POSTRTG`` and ``FLANNEL-FWD``), and the rules in any
  other chain that jump to one of them (``-A PREROUTING ... -j KUBE-SERVICES``);
- whole nftables tables by name (:data:`NFT_TABLES`): kube-proxy's nftables mode
  (``kube-proxy``), Calico's nftables data plane (``calico``), Flannel's (``flannel-ipv4``,
  ``flannel-ipv6``).

k3s's ``k3s-killall.sh`` removes its rules by the same kind of match (``iptables-save | grep
-v KUBE- | grep -v CNI- | grep -iv flannel | iptables-restore``); ``CNI-`` chains are left
out here because podman's and nerdctl's CNI plugins make them too.
"""

from __future__ import annotations

from nodedoctor._record import record
from nodedoctor.facts import Facts
from nodedoctor.i18n import _
from nodedoctor.model import Evidence
from nodedoctor.parsers import ParseError
from nodedoctor.parsers.netfilter import (
    IptablesDump,
    parse_iptables_save,
    parse_nft_ruleset,
)

#: Chain name prefix -> who makes such chains.
CHAIN_PREFIXES = {
    "KUBE-": "kube-proxy and the kubelet",
    "cali-": "Calico",
    "CILIUM_": "Cilium",
    "FLANNEL-": "Flannel",
}
#: (family, table) -> who makes it.
NFT_TABLES = {
    ("ip", "kube-proxy"): "kube-proxy (nftables mode)",
    ("ip6", "kube-proxy"): "kube-proxy (nftables mode)",
    ("ip", "calico"): "Calico (nftables data plane)",
    ("ip6", "calico"): "Calico (nftables data plane)",
    ("ip", "flannel-ipv4"): "Flannel (nftables mode)",
    ("ip6", "flannel-ipv6"): "Flannel (nftables mode)",
}
#: The save tools, per IP version: the system's default, then the two backends by name.
SAVE_TOOLS = {
    4: ("iptables-save", "iptables-legacy-save", "iptables-nft-save"),
    6: ("ip6tables-save", "ip6tables-legacy-save", "ip6tables-nft-save"),
}
#: The file that lists the legacy backend's tables in use (no module is loaded by reading it).
LEGACY_TABLES = {4: "/proc/net/ip_tables_names", 6: "/proc/net/ip6_tables_names"}


def chain_owner(name: str) -> str | None:
    """Who makes an iptables chain of that name, when it is on the allowlist.

    >>> chain_owner("KUBE-SERVICES"), chain_owner("cali-FORWARD"), chain_owner("DOCKER")
    ('kube-proxy and the kubelet', 'Calico', None)
    """
    for prefix, owner in CHAIN_PREFIXES.items():
        if name.startswith(prefix):
            return owner
    return None


@record
class RuleSet:
    """One backend's dump of one IP version: what ``clean`` restores with the matching
    ``*-restore`` tool."""

    #: The command whose output it is (``iptables-save``, ``ip6tables-legacy-save``, ...).
    command: str
    #: ``nf_tables`` or ``legacy``.
    backend: str
    #: 4 or 6.
    version: int
    dump: IptablesDump


@record
class ChainLeft:
    ruleset: RuleSet
    table: str
    chain: str
    owner: str
    rules: int
    evidence: Evidence


@record
class NftTableLeft:
    family: str
    name: str
    owner: str
    chains: int
    evidence: Evidence


@record
class NetfilterFacts:
    #: The rules could be read.
    known: bool
    unknown_reason: str
    rulesets: tuple[RuleSet, ...]
    chains: tuple[ChainLeft, ...]
    nft_tables: tuple[NftTableLeft, ...]

    @property
    def any(self) -> bool:
        return bool(self.chains or self.nft_tables)


def _backend(dump: IptablesDump, command: str) -> str:
    """``nf_tables`` when the header says so; iptables 1.8's legacy tools and every older
    iptables print no backend."""
    if dump.backend:
        return dump.backend
    return "nf_tables" if "-nft-" in command else "legacy"


def _legacy_in_use(facts: Facts, version: int) -> bool:
    text = facts.read(LEGACY_TABLES[version])
    return bool(text and text.strip())


def netfilter_facts(facts: Facts) -> NetfilterFacts:
    if not facts.running:
        return NetfilterFacts(
            False,
            _(
                "the packet filter rules are read from the running kernel (iptables-save, nft "
                "list ruleset): a live check or a bundle collected on the node"
            ),
            (),
            (),
            (),
        )
    if facts.root.commands is not None:
        # Side by side: each is a process start of its own.
        facts.root.commands.start(SAVE_TOOLS[4][0], SAVE_TOOLS[6][0], "nft-list-ruleset")
    rulesets: list[RuleSet] = []
    ran_any = False
    for version, (default, legacy, nft) in SAVE_TOOLS.items():
        seen: set[str] = set()
        for command in (default, legacy, nft):
            if command == legacy and ("legacy" in seen or not _legacy_in_use(facts, version)):
                continue
            if command == nft and "nf_tables" in seen:
                continue
            result = facts.root.run(command)
            if result is None or not result.ok:
                continue
            ran_any = True
            try:
                dump = parse_iptables_save(result.stdout)
            except ParseError as exc:
                facts.record_problem(result.display, exc.line, exc.message)
                continue
            backend = _backend(dump, command)
            if backend in seen:
                continue
            seen.add(backend)
            if dump.tables:
                rulesets.append(RuleSet(result.display, backend, version, dump))
    chains: list[ChainLeft] = []
    for rs in rulesets:
        for table in rs.dump.tables:
            counts: dict[str, int] = {}
            for rule in table.rules:
                counts[rule.chain] = counts.get(rule.chain, 0) + 1
            for decl in table.chains:
                owner = chain_owner(decl.name)
                if owner is None or decl.builtin:
                    continue
                ev = Evidence(f"{rs.command} (table {table.name})", decl.text, decl.line)
                chains.append(
                    ChainLeft(rs, table.name, decl.name, owner, counts.get(decl.name, 0), ev)
                )
    tables: list[NftTableLeft] = []
    listed = facts.root.run("nft-list-ruleset")
    if listed is not None and listed.ok:
        ran_any = True
        try:
            for t in parse_nft_ruleset(listed.stdout):
                owner = NFT_TABLES.get((t.family, t.name))
                if owner is not None and not t.iptables_nft:
                    ev = Evidence(listed.display, f"table {t.family} {t.name}", t.line)
                    tables.append(NftTableLeft(t.family, t.name, owner, len(t.chains), ev))
        except ParseError as exc:
            facts.record_problem(listed.display, exc.line, exc.message)
    if not ran_any:
        return NetfilterFacts(
            False,
            _(
                "neither iptables-save nor nft ran here (not installed, or not recorded in this "
                "bundle)"
            ),
            (),
            (),
            (),
        )
    return NetfilterFacts(True, "", tuple(rulesets), tuple(chains), tuple(tables))
