"""kernel-version-unsupported: a kernel too old for any Kubernetes node, or one that the
kubeadm release to be installed refuses or warns about at preflight (SystemVerification:
k8s.io/system-validators ``KernelSpec.Versions``, validators/types_unix.go and
kernel_validator.go, by the validators release each kubeadm vendors)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.kubelet import kubelet_facts
from nodedoctor.facts.system import kernel
from nodedoctor.facts.target import target_facts
from nodedoctor.i18n import N_, _
from nodedoctor.model import FixHint, Issue, Severity
from nodedoctor.rules.base import Rule, SkipRuleError

_RELEASE = re.compile(r"^(\d+)\.(\d+)")

#: system-validators v1.4.0 to v1.8.x (kubeadm up to 1.31): ``Versions`` "Requires 3.10+",
#: an error with this text.
OLD_ERROR = "unsupported kernel release: {release}"
#: v1.9.x (kubeadm 1.32): 4.19 or newer, an error.
NOTE_4_19 = (
    "Recommended LTS version from the 4.x series is 4.19. Any 5.x or 6.x versions are also "
    "supported. For cgroups v2 support, the minimal version is 4.15 and the recommended "
    "version is 5.8+"
)
#: v1.10.0 and later (kubeadm 1.33 on): 5.4, 5.10, 5.15 or 6.x; an error in v1.10.0, a
#: warning from v1.10.1 ("change kernel version check to a warning", 2025-05-23), which
#: kubeadm 1.34 (v1.10.2) and 1.35 (v1.12.1) vendor.
NOTE_LTS = (
    "Supported LTS versions from the 5.x series are 5.4, 5.10 and 5.15. Any 6.x version is "
    "also supported. For cgroups v2 support, the recommended version is 5.10 or newer"
)
NEW_TEXT = "kernel release {release} is unsupported. {note}"


def _lts_supported(major: int, minor: int) -> bool:
    return major >= 6 or (major == 5 and minor in (4, 10, 15))


def _check(facts: Facts) -> Iterator[Issue]:
    k = facts.get(kernel)
    if k.release is None:
        raise SkipRuleError(_("the kernel release is not known (no /proc/sys/kernel/osrelease)"))
    release = k.release.value
    m = _RELEASE.match(release)
    if not m:
        raise SkipRuleError(
            _("the kernel release {release!r} is not major.minor").format(release=release)
        )
    major, minor = int(m.group(1)), int(m.group(2))
    evidence = [k.release.evidence]
    if (major, minor) < (3, 10):
        yield Issue(
            title=_(
                "kernel {release} is older than 3.10, which no Kubernetes release runs on"
            ).format(release=release),
            message=_(
                "the node runs kernel {release}: the kubelet and runc need the namespaces and "
                "cgroup features of 3.10 and later; kubeadm's preflight (system-validators "
                '"Requires 3.10+") stops with "{error}"'
            ).format(release=release, error=OLD_ERROR.format(release=release)),
            evidence=tuple(evidence),
            severity=Severity.ERROR,
            impact=_("kubeadm init and join stop; no container runtime runs pods on this kernel"),
            fix=FixHint(
                summary=_("boot a supported kernel (5.10 or newer for cgroup v2), then reboot"),
                reboot=True,
            ),
        )
        return
    target = facts.get(target_facts)
    installed = facts.get(kubelet_facts).installed
    if installed or not target.declared:
        return  # kubeadm's kernel check runs at init and join: judged only before them
    if target.deployer not in ("kubeadm", "kubespray") or target.kubernetes_version is None:
        return  # only kubeadm's preflight has a kernel version check
    evidence += target.evidence
    kminor = target.kubernetes_version.release[:2]
    who = "kubeadm" if target.deployer == "kubeadm" else _("Kubespray's kubeadm")
    if kminor == (1, 32) and (major, minor) < (4, 19):
        text = NEW_TEXT.format(release=release, note=NOTE_4_19)
        yield Issue(
            title=_("{who} 1.32 stops on kernel {release} (older than 4.19)").format(
                who=who, release=release
            ),
            message=_(
                "{who} {version}'s preflight (system-validators v1.9) requires kernel "
                '4.19 or newer and stops with "[ERROR SystemVerification]: {text}"; this '
                "node runs {release}"
            ).format(who=who, version=target.minor_text, text=text, release=release),
            evidence=tuple(evidence),
            severity=Severity.ERROR,
            impact=_("{who} init and join stop at preflight").format(who=who),
            fix=FixHint(
                summary=_(
                    "boot a 4.19 or newer kernel (the distribution's newer kernel series), or "
                    "install Kubernetes 1.33 or newer, whose kubeadm only warns"
                )
            ),
        )
    elif kminor >= (1, 33) and not _lts_supported(major, minor):
        text = NEW_TEXT.format(release=release, note=NOTE_LTS)
        yield Issue(
            title=_("{who} {version} warns that kernel {release} is not a listed LTS").format(
                who=who, version=target.minor_text, release=release
            ),
            message=_(
                "{who} {version}'s preflight (system-validators v1.10.1 and later) "
                'prints "[WARNING SystemVerification]: {text}" and goes on; distribution '
                "kernels (RHEL 8's 4.18, RHEL 9's 5.14) carry the features Kubernetes needs "
                "and run it (kubeadm 1.33.0, with v1.10.0, stopped here instead)"
            ).format(who=who, version=target.minor_text, text=text),
            evidence=tuple(evidence),
            severity=Severity.INFO,
            impact=_("a preflight warning only, on current kubeadm releases"),
            fix=FixHint(summary=_("nothing to do on a distribution's supported kernel")),
        )


RULE = Rule(
    id="kernel-version-unsupported",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    title=N_(
        "the kernel is older than Kubernetes (or the kubeadm release to be installed) accepts"
    ),
    check=_check,
    tags=("kernel", "preflight", "kubeadm"),
    applies_to=N_("every node (kernels older than 3.10); kubeadm and Kubespray before install"),
)
