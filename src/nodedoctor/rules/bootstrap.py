"""Bootstrap on GCE: the ``user-data`` metadata is run only by cloud-init (kops#16697)."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.cloudinit import CloudInitFacts, cloudinit_facts
from nodedoctor.facts.profile import deployer_profile
from nodedoctor.model import Evidence, FixHint, Issue, Severity
from nodedoctor.rules.base import Rule, SkipRuleError

_KOPS_FLAG = "spec.cloudProvider.gce.useStartupScript: true"


def _kops(facts: Facts) -> bool:
    return facts.get(deployer_profile).name == "kops"


def _severity(facts: Facts) -> Severity:
    return Severity.ERROR if _kops(facts) else Severity.WARNING


def _bootstrap_ran(ci: CloudInitFacts) -> bool:
    """nodeup's files are there: the kOps bootstrap ran (through either metadata key)."""
    return bool(ci.kops_bootstrap)


def _runner_note(ci: CloudInitFacts) -> str:
    if ci.gce_startup_runner:
        return (
            "; Google's startup-script runner is installed, so only the 'startup-script' "
            "metadata key runs"
        )
    return ""


def _check_missing(facts: Facts) -> Iterator[Issue]:
    ci = facts.get(cloudinit_facts)
    if not ci.on_gce or ci.installed or _bootstrap_ran(ci):
        return
    if not ci.can_tell_installed:
        raise SkipRuleError(
            "the root holds neither /usr/bin nor a package database: cannot tell whether "
            "cloud-init is installed"
        )
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
            summary=f"kOps >= 1.31: set {_KOPS_FLAG} so the bootstrap goes to 'startup-script';"
            " or build the image with cloud-init installed",
            available=False,
            commands=(
                f"kops edit cluster   # {_KOPS_FLAG}",
                "dnf install -y cloud-init   # when building the image (RHEL family)",
            ),
        ),
        severity=_severity(facts),
        impact="instances boot but never run the bootstrap: no kubelet, the node never joins",
    )


def _check_disabled(facts: Facts) -> Iterator[Issue]:
    ci = facts.get(cloudinit_facts)
    if not ci.on_gce or not ci.installed or _bootstrap_ran(ci):
        return
    reasons: list[Evidence] = list(ci.disabled)
    ds = ci.datasource_evidence
    if ci.datasource_excludes_gce and ds is not None:
        reasons.append(ds)
    if not reasons:
        return
    what = []
    if ci.disabled:
        what.append("cloud-init is disabled")
    if ci.datasource_excludes_gce and ci.datasource_list is not None:
        listed = ", ".join(ci.datasource_list[1].value) or "nothing"
        what.append(f"its datasource_list ({listed}) excludes GCE")
    files = tuple(sorted({e.source for e in reasons if e.source.startswith("/etc/")}))
    yield Issue(
        title="cloud-init is installed but will not run on this GCE instance",
        message=(
            f"{' and '.join(what)}, so the 'user-data' metadata (where kOps >= 1.28 puts "
            "the node bootstrap) is never executed"
        ),
        evidence=(*ci.gce[:1], *reasons),
        fix=FixHint(
            summary="remove what disables cloud-init (the marker file, the cmdline flag, or "
            "the datasource_list that excludes GCE), or with kOps >= 1.31 set "
            f"{_KOPS_FLAG}",
            available=False,
            files=files,
        ),
        severity=_severity(facts),
        impact="instances boot but never run the bootstrap: no kubelet, the node never joins",
    )


CLOUD_INIT_MISSING = Rule(
    id="cloud-init-missing",
    severity=Severity.WARNING,
    title="GCE instance or image without cloud-init: user-data is never run",
    check=_check_missing,
    tags=("bootstrap", "gce", "kops", "cloud-init"),
    applies_to="GCE instances and images; error with --profile kops (kOps >= 1.28)",
    family="BootstrapBroken",
)

CLOUD_INIT_DISABLED = Rule(
    id="cloud-init-disabled",
    severity=Severity.WARNING,
    title="cloud-init is installed but disabled, or excludes the GCE data source",
    check=_check_disabled,
    tags=("bootstrap", "gce", "kops", "cloud-init"),
    applies_to="GCE instances and images; error with --profile kops (kOps >= 1.28)",
    family="BootstrapBroken",
)

#: This module's rules, in registry order (``rules.registered``).
RULES = (CLOUD_INIT_MISSING, CLOUD_INIT_DISABLED)
