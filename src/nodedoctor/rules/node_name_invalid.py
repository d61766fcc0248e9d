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
from nodedoctor.i18n import N_, _
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


def _bad_characters(name: str) -> str:
    """The characters of ``name`` no Node name may hold (none: ``""``).

    >>> _bad_characters("my_host"), _bad_characters("Node 1")
    ("'_'", "' '")
    """
    bad = sorted({c for c in name if not (c.isascii() and (c.isalnum() or c in "-."))})
    return ", ".join(repr(c) for c in bad)


def _what_is_wrong(name: str) -> str:
    """The characters or places that make ``name`` invalid, for the message.

    >>> _what_is_wrong("my_host"), _what_is_wrong("node-"), _what_is_wrong("a..b")
    ("'_'", 'it ends with "-"', 'an empty part between dots')
    """
    bad = _bad_characters(name)
    if bad:
        return bad
    if ".." in name:
        return _("an empty part between dots")
    for label in name.split("."):
        if label.startswith("-"):
            if label == name:
                return _('it starts with "-"')
            return _("the part {label!r} starts with '-'").format(label=label)
        if label.endswith("-"):
            if label == name:
                return _('it ends with "-"')
            return _("the part {label!r} ends with '-'").format(label=label)
    if name.startswith(".") or name.endswith("."):
        return _("it starts or ends with a dot")
    return _("it is longer than {n} characters").format(n=SUBDOMAIN_MAX)


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


#: Where else a deployer takes the node's name from, for the fix.
_DEPLOYER_NAME = {
    "k3s": N_('set "node-name:" in /etc/rancher/k3s/config.yaml'),
    "rke2": N_('set "node-name:" in /etc/rancher/rke2/config.yaml'),
    "kubeadm": N_("give kubeadm init/join --node-name (nodeRegistration.name)"),
    "kubekey": N_("rename the host in KubeKey's config (spec.hosts[].name)"),
}


def _where(named: NodeName, profile: str | None) -> str:
    if named.origin == "hostname":
        rename = _("rename the host (hostnamectl set-hostname NAME, which writes /etc/hostname)")
        how = _DEPLOYER_NAME.get(profile or "")
        return _("{rename}, or {how}").format(rename=rename, how=_(how)) if how else rename
    source = named.evidence[0].source if named.evidence else _("the kubelet's flags")
    if named.origin == "node-name":
        return _("change node-name in {source}").format(source=source)
    return _("change --hostname-override in {source}").format(source=source)


def _check(facts: Facts) -> Iterator[Issue]:
    named = facts.get(node_name)
    if named.name is None:
        raise SkipRuleError(named.unknown_reason)
    name = named.name
    written = named.written if named.written is not None else name
    from_text = (
        _("the hostname {name!r}").format(name=written)
        if named.origin == "hostname"
        else f"{named.origin} {written!r}"
    )
    profile = facts.get(deployer_profile).name
    better = suggest(name)
    fix_summary = _where(named, profile)
    if better:
        fix_summary = _("{fix}, e.g. to {name!r}").format(fix=fix_summary, name=better)
    if not valid_subdomain(name):
        bad = _bad_characters(name)
        problem = (
            _(
                "{characters} is not allowed in a Node name, which must be a lowercase RFC "
                "1123 subdomain"
            ).format(characters=bad)
            if bad
            else _(
                "{what} is not allowed in a Node name, which must be a lowercase RFC 1123 subdomain"
            ).format(what=_what_is_wrong(name))
        )
        message = (
            _(
                "the kubelet registers the node as {name!r}, from {origin} (the kubelet "
                'lower-cases it): {problem}; the API server rejects it ("{name}": {error})'
            )
            if written.strip() != name
            else _(
                "the kubelet registers the node as {name!r}, from {origin}: {problem}; the API "
                'server rejects it ("{name}": {error})'
            )
        )
        yield Issue(
            title=_("the node name {name!r} is not a valid Kubernetes Node name").format(name=name),
            message=message.format(
                name=name, origin=from_text, problem=problem, error=SUBDOMAIN_ERROR
            ),
            evidence=named.evidence,
            severity=Severity.ERROR,
            fix=FixHint(summary=fix_summary),
            impact=_(
                "kubeadm init and join refuse the name (nodeRegistration.name: Invalid value); "
                "the kubelet cannot register the Node nor run its static pods; k3s and RKE2 "
                "start but the node never becomes Ready"
            ),
        )
        return
    if len(name) > LABEL_MAX:
        yield Issue(
            title=_("the node name is {n} characters, longer than the 63 of a label value").format(
                n=len(name)
            ),
            message=_(
                "the kubelet registers the node as {name!r}, from {origin}, and labels it "
                "kubernetes.io/hostname={name}; a label value must be no more than 63 "
                "characters, so the API server rejects the Node"
            ).format(name=name, origin=from_text),
            evidence=named.evidence,
            severity=Severity.ERROR,
            fix=FixHint(summary=fix_summary),
            impact=_(
                'the kubelet logs "Unable to register node with API server" and the node never '
                "joins; kubeadm warns [WARNING Hostname] and then times out"
            ),
        )


RULE = Rule(
    id="node-name-invalid",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    title=N_("the node's name is not one the API server accepts for a Node"),
    check=_check,
    tags=("preflight", "hostname", "kubelet"),
    applies_to=N_(
        "every kubelet version (kubeadm, k3s, RKE2, MicroK8s, kOps; Kubespray once set up)"
    ),
)
