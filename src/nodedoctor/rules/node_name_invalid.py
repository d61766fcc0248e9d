"""node-name-invalid: the name the kubelet will register the node under (its hostname, or
``--hostname-override`` / k3s's ``node-name``, lower-cased) is not a valid Node name (a
lowercase RFC 1123 subdomain: apimachinery ``IsDNS1123Subdomain``), or is longer than the 63
characters of the ``kubernetes.io/hostname`` label the kubelet gives it (``IsValidLabelValue``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.nodename import NodeName, node_name
from nodedoctor.facts.profile import deployer_profile
from nodedoctor.model import FixHint, Issue, Severity
from nodedoctor.rules.base import Rule, SkipRuleError

#: apimachinery pkg/util/validation: dns1123SubdomainFmt and DNS1123SubdomainMaxLength.
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
SUBDOMAIN_MAX = 253
#: LabelValueMaxLength: the kubernetes.io/hostname label holds the same name.
LABEL_MAX = 63
#: The text of apimachinery's RegexError for a subdomain (since Kubernetes 1.20; "a DNS-1123
#: subdomain must consist of ..." before).
SUBDOMAIN_ERROR = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def valid_subdomain(name: str) -> bool:
    """apimachinery ``IsDNS1123Subdomain`` finds no error.

    >>> [valid_subdomain(n) for n in ("node-1", "node-1.example.com", "node_1", "-node", "a..b")]
    [True, True, False, False, False]
    """
    return len(name) <= SUBDOMAIN_MAX and _SUBDOMAIN.fullmatch(name) is not None


def _what_is_wrong(name: str) -> str:
    """The characters or places that make ``name`` invalid, for the message.

    >>> _what_is_wrong("my_host"), _what_is_wrong("node-"), _what_is_wrong("a..b")
    ("'_'", 'it ends with "-"', 'an empty part between dots')
    """
    bad = sorted({c for c in name if not (c.isascii() and (c.isalnum() or c in "-."))})
    if bad:
        return ", ".join(repr(c) for c in bad)
    if ".." in name:
        return "an empty part between dots"
    for label in name.split("."):
        if label.startswith("-") or label.endswith("-"):
            edge = "starts" if label.startswith("-") else "ends"
            return f'it {edge} with "-"' if label == name else f"the part {label!r} {edge} with '-'"
    if name.startswith(".") or name.endswith("."):
        return "it starts or ends with a dot"
    return f"it is longer than {SUBDOMAIN_MAX} characters"


def suggest(name: str) -> str | None:
    """A valid name close to ``name``, for the fix (``None`` when none is obvious).

    >>> suggest("my_host"), suggest("node-.lan"), suggest("a" * 70 + ".example.com")
    ('my-host', 'node.lan', None)
    >>> suggest("worker-3." + "x" * 60 + ".internal")
    'worker-3'
    """
    if len(name) > LABEL_MAX:
        first = name.split(".", 1)[0]
        return first if valid_subdomain(first) and len(first) <= LABEL_MAX else None
    fixed = re.sub(r"[^a-z0-9.-]+", "-", name)
    fixed = ".".join(p.strip("-") for p in fixed.split(".") if p.strip("-"))
    return fixed if fixed and valid_subdomain(fixed) and len(fixed) <= LABEL_MAX else None


def _where(named: NodeName, profile: str | None) -> str:
    if named.origin == "hostname":
        how = {
            "k3s": 'set "node-name:" in /etc/rancher/k3s/config.yaml',
            "rke2": 'set "node-name:" in /etc/rancher/rke2/config.yaml',
            "kubeadm": "give kubeadm init/join --node-name (nodeRegistration.name)",
            "kubekey": "rename the host in KubeKey's config (spec.hosts[].name)",
        }.get(profile or "", "")
        return "rename the host (hostnamectl set-hostname NAME, which writes /etc/hostname)" + (
            f", or {how}" if how else ""
        )
    source = named.evidence[0].source if named.evidence else "the kubelet's flags"
    if named.origin == "node-name":
        return f"change node-name in {source}"
    return f"change --hostname-override in {source}"


def _check(facts: Facts) -> Iterator[Issue]:
    named = facts.get(node_name)
    if named.name is None:
        raise SkipRuleError(named.unknown_reason)
    name = named.name
    written = named.written if named.written is not None else name
    from_text = (
        f"the hostname {written!r}" if named.origin == "hostname" else f"{named.origin} {written!r}"
    )
    lowered = " (the kubelet lower-cases it)" if written.strip() != name else ""
    profile = facts.get(deployer_profile).name
    better = suggest(name)
    fix_summary = _where(named, profile) + (f", e.g. to {better!r}" if better else "")
    if not valid_subdomain(name):
        yield Issue(
            title=f"the node name {name!r} is not a valid Kubernetes Node name",
            message=(
                f"the kubelet registers the node as {name!r}, from {from_text}{lowered}: "
                f"{_what_is_wrong(name)} is not allowed in a Node name, which "
                f'must be a lowercase RFC 1123 subdomain; the API server rejects it ("{name}": '
                f"{SUBDOMAIN_ERROR})"
            ),
            evidence=named.evidence,
            severity=Severity.ERROR,
            fix=FixHint(summary=fix_summary),
            impact=(
                "kubeadm init and join refuse the name (nodeRegistration.name: Invalid value); "
                "the kubelet cannot register the Node nor run its static pods; k3s and RKE2 "
                "start but the node never becomes Ready"
            ),
        )
        return
    if len(name) > LABEL_MAX:
        yield Issue(
            title=f"the node name is {len(name)} characters, longer than the 63 of a label value",
            message=(
                f"the kubelet registers the node as {name!r}, from {from_text}, and labels it "
                f"kubernetes.io/hostname={name}; a label value must be no more than 63 "
                "characters, so the API server rejects the Node"
            ),
            evidence=named.evidence,
            severity=Severity.ERROR,
            fix=FixHint(summary=fix_summary),
            impact=(
                'the kubelet logs "Unable to register node with API server" and the node never '
                "joins; kubeadm warns [WARNING Hostname] and then times out"
            ),
        )


RULE = Rule(
    id="node-name-invalid",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    title="the node's name is not one the API server accepts for a Node",
    check=_check,
    tags=("preflight", "hostname", "kubelet"),
    applies_to="every kubelet version (kubeadm, k3s, RKE2, MicroK8s, kOps; Kubespray once set up)",
)
