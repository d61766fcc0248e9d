"""cloud-init-missing: a GCE instance or image without cloud-init, so the ``user-data``
metadata (where kOps puts the node bootstrap) never runs (kops#16697)."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.cloudinit import cloudinit_facts
from nodedoctor.i18n import N_, _
from nodedoctor.model import FixHint, Issue, Severity
from nodedoctor.rules._cloud_init_common import (
    APPLIES_TO,
    IMPACT,
    KOPS_FLAG,
    bootstrap_ran,
    bootstrap_severity,
)
from nodedoctor.rules.base import Rule, SkipRuleError


def _check_missing(facts: Facts) -> Iterator[Issue]:
    ci = facts.get(cloudinit_facts)
    if not ci.on_gce or ci.installed or bootstrap_ran(ci):
        return
    if not ci.can_tell_installed:
        raise SkipRuleError(
            _(
                "the root holds neither /usr/bin nor a package database: cannot tell whether "
                "cloud-init is installed"
            )
        )
    from nodedoctor.remedies.by_hand import KOPS_SPEC_OR_IMAGE  # only for a finding

    if ci.gce_startup_runner:
        message = _(
            "this is a Google Compute Engine instance or image, and cloud-init is not "
            "installed; Google's startup-script runner is installed, so only the "
            "'startup-script' metadata key runs. kOps >= 1.28 writes its node bootstrap "
            "(nodeup) to 'user-data', which only cloud-init executes, so the node never joins; "
            "RHEL, Rocky, AlmaLinux, CentOS and Debian GCE images ship without cloud-init"
        )
    else:
        message = _(
            "this is a Google Compute Engine instance or image, and cloud-init is not "
            "installed. kOps >= 1.28 writes its node bootstrap (nodeup) to 'user-data', which "
            "only cloud-init executes, so the node never joins; RHEL, Rocky, AlmaLinux, CentOS "
            "and Debian GCE images ship without cloud-init"
        )
    yield Issue(
        title=_("GCE instance or image without cloud-init: the user-data metadata never runs"),
        message=message,
        evidence=ci.gce,
        fix=FixHint(
            summary=_(
                "kOps >= 1.31: set {flag} so the bootstrap goes to 'startup-script'; or build "
                "the image with cloud-init installed"
            ).format(flag=KOPS_FLAG),
            available=False,
            commands=(
                f"kops edit cluster   # {KOPS_FLAG}",
                "dnf install -y cloud-init   # " + _("when building the image (RHEL family)"),
            ),
        ),
        severity=bootstrap_severity(facts),
        impact=_(IMPACT),
        remedy=KOPS_SPEC_OR_IMAGE,
    )


RULE = Rule(
    id="cloud-init-missing",
    severity=Severity.WARNING,
    highest=Severity.ERROR,
    title=N_("GCE instance or image without cloud-init: user-data is never run"),
    check=_check_missing,
    tags=("bootstrap", "gce", "kops", "cloud-init"),
    applies_to=APPLIES_TO,
)
