"""The name the kubelet will register the node under, and where it comes from.

The kubelet names its Node object ``strings.ToLower(strings.TrimSpace(name))`` of
``--hostname-override`` when set, else of the hostname (``os.Hostname()``, which reads
``/proc/sys/kernel/hostname``): ``nodeutil.GetHostname`` in every release since 1.2; it sets
the ``kubernetes.io/hostname`` label to the same value. kubeadm defaults
``nodeRegistration.name`` the same way and writes ``--hostname-override`` into
``kubeadm-flags.env`` when the name differs from the hostname. The override is a flag only:
the kubelet's configuration file has no field for it.

k3s and RKE2 take ``node-name`` (``--node-name``, the config file's ``node-name:``, or
``K3S_NODE_NAME`` / ``RKE2_NODE_NAME`` in the unit's environment file, in that order), else the
hostname, lower-cased the same way (k3s ``pkg/util/net.go`` ``GetHostnameAndIPs``), and pass it
to their kubelet as ``--hostname-override``.

Kubespray names each node after its inventory name (``kube_override_hostname``, default
``inventory_hostname``, written as ``--hostname-override`` into ``/etc/kubernetes/kubelet.env``)
and renames the host to it first (``override_system_hostname``, default true): before Kubespray
has run, the machine's hostname is not the node's name.
"""

from __future__ import annotations

from nodedoctor._record import record
from nodedoctor.facts import Facts, file_evidence
from nodedoctor.facts.deployers import K3S_AGENT, Deployer
from nodedoctor.facts.profile import deployer_profile
from nodedoctor.facts.system import hostname_source
from nodedoctor.i18n import _
from nodedoctor.model import Evidence


@record
class NodeName:
    #: The name as the kubelet registers it (trimmed, lower case); ``None`` when unknown.
    name: str | None
    #: The name as written where it was found (before lower-casing).
    written: str | None = None
    #: Where the name was found: ``hostname``, ``--hostname-override`` or ``node-name``.
    origin: str | None = None
    evidence: tuple[Evidence, ...] = ()
    #: Why the name cannot be told from this node (shown as the rule's skip reason).
    unknown_reason: str = ""


def _named(value: str, origin: str, evidence: Evidence) -> NodeName:
    return NodeName(value.strip().lower(), value, origin, (evidence,))


def _k3s_node_name(facts: Facts, deployer: Deployer) -> NodeName | None:
    # Only on k3s and RKE2 nodes: these modules read units and YAML (start-up cost).
    from nodedoctor.facts.kubelet.deployers import k3s_unit
    from nodedoctor.facts.kubelet.units import service
    from nodedoctor.parsers.kubelet import parse_k3s_config
    from nodedoctor.parsers.systemd_unit import parse_environment_file

    unit = k3s_unit(facts, deployer)
    svc = service(facts, unit) if unit is not None else None
    words = svc.words if svc is not None else ()
    for i, placed in enumerate(words):
        if placed.word.startswith("--node-name="):
            return _named(placed.word.split("=", 1)[1], "node-name", placed.evidence)
        if placed.word == "--node-name" and i + 1 < len(words):
            return _named(words[i + 1].word, "node-name", placed.evidence)
    found: NodeName | None = None
    config = deployer.agent_config
    for path in (config, *facts.root.glob(f"{config}.d", "*.yaml")):
        parsed = facts.parse(path, parse_k3s_config)
        entry = parsed.entries.get("node-name") if parsed is not None else None
        if entry is not None and isinstance(entry.value, str) and entry.value.strip():
            found = _named(entry.value, "node-name", file_evidence(path, entry.text, entry.line))
    if found is not None:
        return found
    variable = f"{deployer.name.upper()}_NODE_NAME"
    if unit is not None:
        path = f"/etc/systemd/system/{unit}.env"
        env = facts.parse(path, parse_environment_file)
        assignment = env.get(variable) if env is not None else None
        if assignment is not None and assignment.value.strip():
            return _named(
                assignment.value,
                "node-name",
                file_evidence(path, f"{variable}={assignment.value}", assignment.line),
            )
    return None


def node_name(facts: Facts) -> NodeName:
    deployer = facts.get(deployer_profile).deployer
    if deployer is not None and deployer.launcher == K3S_AGENT:
        named = _k3s_node_name(facts, deployer)
        if named is not None:
            return named
    else:
        from nodedoctor.facts.kubelet import kubelet_facts  # the kubelet's flags

        kubelet = facts.get(kubelet_facts)
        override = kubelet.flags.last("hostname-override") if kubelet.installed else None
        if override is not None and override.value.strip():
            return _named(override.value, "--hostname-override", kubelet.flag_evidence(override))
        if deployer is not None and deployer.name == "kubespray":
            return NodeName(
                None,
                unknown_reason=_(
                    "Kubespray names the node after its inventory name (kube_override_hostname) "
                    "and sets the hostname to it; its preinstall checks that name ('Stop if bad "
                    "hostname')"
                ),
            )
    host = facts.get(hostname_source)
    if host is None:
        why = _("this root has no {path}").format(path="/etc/hostname")
        return NodeName(None, unknown_reason=why)
    return _named(host.value, "hostname", host.evidence)
