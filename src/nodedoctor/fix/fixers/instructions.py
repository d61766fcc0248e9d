"""Findings whose fix the tool will not do itself: it prints what to do and why not.

Upgrading software is the package manager's job (and needs a drained node); a kOps
cluster spec lives in the state store, not on the node.
"""

from __future__ import annotations

from nodedoctor.fix.fixers.base import FixerEntry
from nodedoctor.fix.plan import Workspace
from nodedoctor.model import Finding

#: rule -> why the tool leaves it to the user.
WHY_NOT: dict[str, str] = {
    "apparmor-blocks-runc-signal": (
        "upgrading containerd is the package manager's job and needs a drained node; "
        "nodedoctor does not install software"
    ),
    "runtime-version-unsupported": (
        "upgrading the container runtime is the package manager's job and needs a drained "
        "node; nodedoctor does not install software"
    ),
    "cloud-init-missing": (
        "the fix is in the kOps cluster spec (spec.cloudProvider.gce.useStartupScript: true, "
        "kOps >= 1.31) or in the image build, neither of which is on this node"
    ),
    "cloud-init-disabled": (
        "whether cloud-init should run is a decision of whoever built the image; with kOps "
        ">= 1.31 the cluster spec can route the bootstrap to the startup-script instead"
    ),
}


def _instruct(ws: Workspace, finding: Finding) -> None:
    text = finding.fix.summary if finding.fix else finding.title
    if finding.fix and finding.fix.commands:
        text += "\n" + "\n".join(f"  {c}" for c in finding.fix.commands)
    ws.instruct(finding.rule, text, WHY_NOT[finding.rule])


FIXERS = tuple(FixerEntry(rule, _instruct) for rule in WHY_NOT)
