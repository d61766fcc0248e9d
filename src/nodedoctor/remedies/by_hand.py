"""Remedies nodedoctor leaves to the user: the finding's own advice, done by hand, and why
the tool does not do it. Upgrading software is the package manager's job (and needs a drained
node); a kOps cluster spec lives in the state store, not on the node."""

from __future__ import annotations

from nodedoctor.i18n import N_
from nodedoctor.remedies.steps import ByHand, Remedy

#: ``apparmor-blocks-runc-signal``.
UPGRADE_CONTAINERD = Remedy(
    (
        ByHand(
            N_(
                "upgrading containerd is the package manager's job and needs a drained node; "
                "nodedoctor does not install software"
            )
        ),
    )
)
#: ``runtime-version-unsupported``.
UPGRADE_RUNTIME = Remedy(
    (
        ByHand(
            N_(
                "upgrading the container runtime is the package manager's job and needs a drained "
                "node; nodedoctor does not install software"
            )
        ),
    )
)
#: ``cloud-init-missing``.
KOPS_SPEC_OR_IMAGE = Remedy(
    (
        ByHand(
            N_(
                "the fix is in the kOps cluster spec (spec.cloudProvider.gce.useStartupScript: "
                "true, kOps >= 1.31) or in the image build, neither of which is on this node"
            )
        ),
    )
)
#: ``cloud-init-disabled``.
IMAGE_BUILDERS_CALL = Remedy(
    (
        ByHand(
            N_(
                "whether cloud-init should run is a decision of whoever built the image; with kOps "
                ">= 1.31 the cluster spec can route the bootstrap to the startup-script instead"
            )
        ),
    )
)
