"""cloud-init-disabled: cloud-init is installed but disabled, or excludes the GCE data source,
so the ``user-data`` metadata never runs (kops#16697)."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.cloudinit import cloudinit_facts
from nodedoctor.model import Evidence, FixHint, Issue, Severity
from nodedoctor.rules._cloud_init_common import KOPS_FLAG, bootstrap_ran, bootstrap_severity
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
    what = []
    if ci.disabled:
        what.append("cloud-init is disabled")
    if ci.datasource_excludes_gce and ci.datasource_list is not None:
        listed = ", ".join(ci.datasource_list[1].value) or "nothing"
        what.append(f"its datasource_list ({listed}) excludes GCE")
    files = tuple(sorted({e.source for e in reasons if e.source.startswith("/etc/")}))
    from nodedoctor.remedies.by_hand import IMAGE_BUILDERS_CALL  # only for a finding

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
            f"{KOPS_FLAG}",
            available=False,
            files=files,
        ),
        severity=bootstrap_severity(facts),
        impact="instances boot but never run the bootstrap: no kubelet, the node never joins",
        remedy=IMAGE_BUILDERS_CALL,
    )


RULE = Rule(
    id="cloud-init-disabled",
    severity=Severity.WARNING,
    highest=Severity.ERROR,
    title="cloud-init is installed but disabled, or excludes the GCE data source",
    check=_check_disabled,
    tags=("bootstrap", "gce", "kops", "cloud-init"),
    applies_to="GCE instances and images; error with --profile kops (kOps >= 1.28)",
)
