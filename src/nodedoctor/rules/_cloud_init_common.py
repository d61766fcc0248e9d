"""What the cloud-init rules share: kOps' way out, whether the bootstrap already ran, and how
severe a missed bootstrap is (kops#16697)."""

from __future__ import annotations

from nodedoctor.facts import Facts
from nodedoctor.facts.cloudinit import CloudInitFacts
from nodedoctor.facts.profile import deployer_profile
from nodedoctor.i18n import N_
from nodedoctor.model import Severity

KOPS_FLAG = "spec.cloudProvider.gce.useStartupScript: true"
#: What a missed bootstrap does (translated where used: ``_(IMPACT)``).
IMPACT = N_("instances boot but never run the bootstrap: no kubelet, the node never joins")
#: Where both rules apply (their ``applies_to``).
APPLIES_TO = N_("GCE instances and images; error with --profile kops (kOps >= 1.28)")


def bootstrap_severity(facts: Facts) -> Severity:
    """An error for a kOps node (its bootstrap is in user-data), a warning otherwise."""
    return Severity.ERROR if facts.get(deployer_profile).name == "kops" else Severity.WARNING


def bootstrap_ran(ci: CloudInitFacts) -> bool:
    """nodeup's files are there: the kOps bootstrap ran (through either metadata key)."""
    return bool(ci.kops_bootstrap)
