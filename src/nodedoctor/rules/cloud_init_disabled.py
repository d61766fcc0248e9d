"""cloud-init-disabled: cloud-init is installed but disabled, or excludes the GCE data source,
so the ``user-data`` metadata never runs (kops#16697)."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.cloudinit import cloudinit_facts
from nodedoctor.i18n import N_, _
from nodedoctor.model import Evidence, FixHint, Issue, Severity
from nodedoctor.rules._cloud_init_common import (
    APPLIES_TO,
    IMPACT,
    KOPS_FLAG,
    bootstrap_ran,
    bootstrap_severity,
)
from nodedoctor.rules.base import Rule


def _check_disabled(facts: Facts) -> Iterator[Issue]:
    ci = facts.get(cloudinit_facts)
    if not ci.on_gce or not ci.installed or bootstrap_ran(ci):
        return
    reasons: list[Evidence] = list(ci.disabled)
    ds = ci.datasource_evidence
    if ci.datasource_excludes_gce and ds is not None:
        reasons.append(ds)
    if not reasons:
        return
    listed = ""
    if ci.datasource_excludes_gce and ci.datasource_list is not None:
        listed = ", ".join(ci.datasource_list[1].value) or _("nothing")
    # reasons is not empty: cloud-init is disabled, or its datasource_list excludes GCE
    if ci.disabled and listed:
        message = _(
            "cloud-init is disabled and its datasource_list ({listed}) excludes GCE, so the "
            "'user-data' metadata (where kOps >= 1.28 puts the node bootstrap) is never executed"
        )
    elif ci.disabled:
        message = _(
            "cloud-init is disabled, so the 'user-data' metadata (where kOps >= 1.28 puts the "
            "node bootstrap) is never executed"
        )
    else:
        message = _(
            "its datasource_list ({listed}) excludes GCE, so the 'user-data' metadata (where "
            "kOps >= 1.28 puts the node bootstrap) is never executed"
        )
    files = tuple(sorted({e.source for e in reasons if e.source.startswith("/etc/")}))
    from nodedoctor.remedies.by_hand import IMAGE_BUILDERS_CALL  # only for a finding

    yield Issue(
        title=_("cloud-init is installed but will not run on this GCE instance"),
        message=message.format(listed=listed),
        evidence=(*ci.gce[:1], *reasons),
        fix=FixHint(
            summary=_(
                "remove what disables cloud-init (the marker file, the cmdline flag, or "
                "the datasource_list that excludes GCE), or with kOps >= 1.31 set {flag}"
            ).format(flag=KOPS_FLAG),
            available=False,
            files=files,
        ),
        severity=bootstrap_severity(facts),
        impact=_(IMPACT),
        remedy=IMAGE_BUILDERS_CALL,
    )


RULE = Rule(
    id="cloud-init-disabled",
    severity=Severity.WARNING,
    highest=Severity.ERROR,
    title=N_("cloud-init is installed but disabled, or excludes the GCE data source"),
    check=_check_disabled,
    tags=("bootstrap", "gce", "kops", "cloud-init"),
    applies_to=APPLIES_TO,
)
