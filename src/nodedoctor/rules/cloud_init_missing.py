"""cloud-init-missing: a GCE instance or image without cloud-init, so the ``user-data``
metadata (where kOps puts the node bootstrap) never runs (kops#16697)."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.cloudinit import CloudInitFacts, cloudinit_facts
from nodedoctor.model import FixHint, Issue, Severity
from nodedoctor.rules._cloud_init_common import KOPS_FLAG, bootstrap_ran, bootstrap_severity
from nodedoctor.rules.base import Rule, SkipRuleError


def _runner_note(ci: CloudInitFacts) -> str:
    if ci.gce_startup_runner:
        return (
            "; Google's startup-script runner is installed, so only the 'startup-script' "
            "metadata key runs"
        )
    return ""


def _check_missing(facts: Facts) -> Iterator[Issue]:
    ci = facts.get(cloudinit_facts)
    if not ci.on_gce or ci.installed or bootstrap_ran(ci):
        return
    if not ci.can_tell_installed:
        raise SkipRuleError(
            "the root holds neither /usr/bin nor a package database: cannot tell whether "
            "cloud-init is installed"
        )
    from nodedoctor.remedies.by_hand import KOPS_SPEC_OR_IMAGE  # only for a finding

    yield Issue(
        title="GCE instance or image without cloud-init: the user-data metadata never runs",
        message=(
            "this is a Google Compute Engine instance or image, and cloud-init is not installed"
            f"{_runner_note(ci)}. kOps >= 1.28 writes its node bootstrap (nodeup) to "
            "'user-data', which only cloud-init executes, so the node never joins; RHEL, "
            "Rocky, AlmaLinux, CentOS and Debian GCE images ship without cloud-init"
        ),
        evidence=ci.gce,
        fix=FixHint(
            summary=f"kOps >= 1.31: set {KOPS_FLAG} so the bootstrap goes to 'startup-script';"
            " or build the image with cloud-init installed",
            available=False,
            commands=(
                f"kops edit cluster   # {KOPS_FLAG}",
                "dnf install -y cloud-init   # when building the image (RHEL family)",
            ),
        ),
        severity=bootstrap_severity(facts),
        impact="instances boot but never run the bootstrap: no kubelet, the node never joins",
        remedy=KOPS_SPEC_OR_IMAGE,
    )


RULE = Rule(
    id="cloud-init-missing",
    severity=Severity.WARNING,
    highest=Severity.ERROR,
    title="GCE instance or image without cloud-init: user-data is never run",
    check=_check_missing,
    tags=("bootstrap", "gce", "kops", "cloud-init"),
    applies_to="GCE instances and images; error with --profile kops (kOps >= 1.28)",
)
