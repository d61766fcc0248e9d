"""cni-config-left: a torn-down cluster's CNI configuration, which the next cluster's runtime
would load before its own."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.cni import CniConfigFile, cni_facts
from nodedoctor.facts.teardown import teardown_facts
from nodedoctor.model import FixHint, Issue, Severity
from nodedoctor.rules.base import Rule

#: The file each CNI writes (Flannel's kube-flannel.yml install-cni, Calico's
#: ``CNI_CONF_NAME``, Cilium's agent): which a file left in the directory would shadow.
WRITTEN_NAMES = {
    "Flannel": "10-flannel.conflist",
    "Calico": "10-calico.conflist",
    "Cilium": "05-cilium.conflist",
}


def _shadowed(first: str, owners: set[str]) -> list[str]:
    """The other CNIs whose file name sorts after ``first``, the file the runtime loads."""
    return [
        f"{cni}'s {name}"
        for cni, name in sorted(WRITTEN_NAMES.items())
        if cni not in owners and name > first
    ]


def _check_cni_config_left(facts: Facts) -> Iterator[Issue]:
    cni = facts.get(cni_facts)
    if not cni.configs:
        return
    kubelet = facts.get(teardown_facts).kubelet
    if not kubelet.removed:
        return  # the running (or stopped) cluster's own network configuration
    by_dir: dict[str, list[CniConfigFile]] = {}
    for c in cni.configs:
        by_dir.setdefault(c.path.rsplit("/", 1)[0], []).append(c)
    for directory, configs in by_dir.items():
        owners = sorted({c.owner for c in configs})
        first = configs[0]
        first_name = first.path.rsplit("/", 1)[1]
        shadowed = _shadowed(first_name, set(owners))
        missing = [c for c in configs if c.missing_plugins]
        message = (
            f"{len(configs)} CNI configuration(s) of {', '.join(owners)} remain in "
            f"{directory} and {kubelet.describe()}. 'kubeadm reset' leaves this directory "
            "(kubernetes#83950), and the container runtime loads the lexically first file in it"
        )
        if shadowed:
            message += (
                f": {first_name} sorts before {' and '.join(shadowed)}, so a next cluster "
                "with that CNI gets its pods wired by the old configuration"
            )
        if missing:
            plugins = sorted({p for c in missing for p in c.missing_plugins})
            message += (
                f"; its plugin(s) {', '.join(plugins)} are gone from "
                f"{', '.join(cni.bin_dirs[:2])}, so pod sandboxes fail with 'failed to find plugin'"
            )
        yield Issue(
            title=f"CNI configuration of a torn-down cluster left in {directory}",
            message=message,
            evidence=(*(c.evidence for c in configs), *kubelet.evidence[:1]),
            fix=FixHint(
                summary=f"move the old CNI configuration out of {directory} before the next "
                "install (nodedoctor clean --apply keeps it in its journal)",
                available=False,
                commands=tuple(f"mv {c.path} /root/" for c in configs),
            ),
            impact="the next cluster's pods get the old CNI's network, or none: pod sandboxes "
            "fail to be created",
        )


RULE = Rule(
    id="cni-config-left",
    severity=Severity.WARNING,
    highest=Severity.WARNING,
    clean_removes=True,
    title="CNI configuration of a torn-down cluster is left for the next one",
    check=_check_cni_config_left,
    tags=("teardown", "cni", "kubeadm", "k3s", "microk8s"),
    applies_to="all versions; only where the cluster is gone",
)
