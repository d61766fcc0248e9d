"""cni-config-left: a torn-down cluster's CNI configuration, which the next cluster's runtime
would load before its own."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.cni import CniConfigFile, cni_facts
from nodedoctor.facts.teardown import teardown_facts
from nodedoctor.i18n import N_, _
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
        _("{cni}'s {name}").format(cni=cni, name=name)
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
        message = _(
            "{n} CNI configuration(s) of {owners} remain in {dir} and {kubelet}. "
            "'kubeadm reset' leaves this directory (kubernetes#83950), and the container "
            "runtime loads the lexically first file in it"
        ).format(
            n=len(configs), owners=", ".join(owners), dir=directory, kubelet=kubelet.describe()
        )
        if shadowed:
            names = shadowed[0]
            for other in shadowed[1:]:
                names = _("{shadowed} and {other}").format(shadowed=names, other=other)
            message = _(
                "{message}: {first} sorts before {shadowed}, so a next cluster "
                "with that CNI gets its pods wired by the old configuration"
            ).format(message=message, first=first_name, shadowed=names)
        if missing:
            plugins = sorted({p for c in missing for p in c.missing_plugins})
            message = _(
                "{message}; its plugin(s) {plugins} are gone from {bin_dirs}, so pod "
                "sandboxes fail with 'failed to find plugin'"
            ).format(
                message=message,
                plugins=", ".join(plugins),
                bin_dirs=", ".join(cni.bin_dirs[:2]),
            )
        yield Issue(
            title=_("CNI configuration of a torn-down cluster left in {dir}").format(dir=directory),
            message=message,
            evidence=(*(c.evidence for c in configs), *kubelet.evidence[:1]),
            fix=FixHint(
                summary=_(
                    "move the old CNI configuration out of {dir} before the next "
                    "install (nodedoctor clean --apply keeps it in its journal)"
                ).format(dir=directory),
                available=False,
                commands=tuple(f"mv {c.path} /root/" for c in configs),
            ),
            impact=_(
                "the next cluster's pods get the old CNI's network, or none: pod sandboxes "
                "fail to be created"
            ),
        )


RULE = Rule(
    id="cni-config-left",
    severity=Severity.WARNING,
    highest=Severity.WARNING,
    clean_removes=True,
    title=N_("CNI configuration of a torn-down cluster is left for the next one"),
    check=_check_cni_config_left,
    tags=("teardown", "cni", "kubeadm", "k3s", "microk8s"),
    applies_to=N_("all versions; only where the cluster is gone"),
)
