"""apparmor-blocks-runc-signal: AppArmor 4 confines runc, and containerd's container profile
refuses its signals."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.apparmor import AppArmorFacts, apparmor_facts
from nodedoctor.facts.kubelet import kubelet_facts
from nodedoctor.facts.packages import Installed, packages
from nodedoctor.i18n import N_, _
from nodedoctor.model import Evidence, FixHint, Issue, Severity
from nodedoctor.rules.base import Rule

#: containerd releases whose generated profile accepts ``signal (receive) peer=runc``
#: (containerd PR #10123: v1.7.16, v1.6.32, v2.0.0).
FIXED_IN = {(1, 6): (1, 6, 32), (1, 7): (1, 7, 16)}

#: The fix's commands, with the comment shown after each (translated where used).
_FIX_COMMANDS = (
    ("kubectl drain <node> --ignore-daemonsets --delete-emptydir-data", ""),
    (
        "apt-get install --only-upgrade containerd",
        N_("or containerd.io: any >= 1.7.16, 1.6.32, 2.0"),
    ),
    ("aa-remove-unknown", N_("unloads the stale cri-containerd.apparmor.d; or reboot")),
    ("systemctl restart containerd", ""),
    ("kubectl uncordon <node>", ""),
)
#: What runc's failed stop prints (StopContainer's error, verbatim).
STOP_ERROR = "unable to signal init: permission denied"
IMPACT = N_("pods stay Terminating; graceful stop (SIGTERM) never reaches containers")


def containerd_has_fix(version: tuple[int, int, int]) -> bool:
    """Whether a containerd release generates a profile that accepts confined runc's signals.

    >>> [containerd_has_fix(v) for v in [(1, 7, 12), (1, 7, 16), (2, 0, 0)]]
    [False, True, True]
    >>> [containerd_has_fix(v) for v in [(1, 6, 31), (1, 6, 32), (1, 5, 9)]]
    [False, True, False]
    """
    if version >= (2, 0, 0):
        return True
    fixed = FIXED_IN.get((version[0], version[1]))
    return fixed is not None and version >= fixed


def _kubelet_may_use_containerd(facts: Facts) -> bool:
    """False when the kubelet is configured for another runtime (CRI-O, cri-dockerd), whose
    container profile is not containerd's."""
    endpoint = facts.get(kubelet_facts).runtime_endpoint
    value = str(endpoint.value or "") if endpoint is not None else ""
    return not value or "containerd" in value or not ("crio" in value or "dockerd" in value)


def _fix(reboot: bool) -> FixHint:
    return FixHint(
        summary=_(
            "upgrade containerd to 1.7.16+, 1.6.32+ or 2.x, then unload the stale "
            "cri-containerd.apparmor.d profile (aa-remove-unknown) or reboot; drain the node "
            "first"
        ),
        available=False,
        reboot=reboot,
        restart=("containerd",),
        commands=tuple(f"{c}   # {_(note)}" if note else c for c, note in _FIX_COMMANDS),
    )


def _version_evidence(containerd: Installed | None) -> tuple[Evidence, ...]:
    return (containerd.evidence,) if containerd is not None else ()


def _check(facts: Facts) -> Iterator[Issue]:
    aa: AppArmorFacts = facts.get(apparmor_facts)
    containerd = facts.get(packages).get("containerd")
    if aa.denials:
        recent = aa.denials[-3:]
        profiles = sorted({d.denial.profile for d in aa.denials})
        peers = sorted({d.denial.peer or "?" for d in aa.denials})
        confining_evidence = [p.evidence for p in aa.confining()]
        from nodedoctor.remedies.by_hand import UPGRADE_CONTAINERD  # only for a finding

        yield Issue(
            title=_("AppArmor denies the runtime's signals to containers: pods stay Terminating"),
            message=_(
                "the kernel log shows {n} AppArmor signal denial(s) from {peers} to containers "
                "confined by {profiles}; StopContainer fails with '{error}'. The container "
                "profile predates containerd 1.7.16/1.6.32 and accepts signals only from "
                "unconfined senders, but AppArmor 4 labels runc 'runc'"
            ).format(
                n=len(aa.denials),
                peers=", ".join(peers),
                profiles=", ".join(profiles),
                error=STOP_ERROR,
            ),
            evidence=tuple(d.evidence for d in recent)
            + tuple(confining_evidence)
            + _version_evidence(containerd),
            fix=_fix(reboot=True),
            remedy=UPGRADE_CONTAINERD,
            impact=_(IMPACT),
        )
        return
    if aa.enabled is False:
        return
    confining = aa.confining()
    if not confining:
        return
    earlier = tuple(d.evidence for d in aa.earlier_boot_denials[-2:])
    if containerd is None or containerd.version is None:
        if aa.earlier_boot_denials:
            profile = confining[0]
            from nodedoctor.remedies.by_hand import UPGRADE_CONTAINERD  # only for a finding

            yield Issue(
                title=_("AppArmor denied the runtime's signals before the last boot"),
                message=_(
                    "{n} AppArmor signal denial(s) from a confined runtime helper were logged "
                    "before the last boot and none since; {path} still confines {helpers} and "
                    "the containerd version is unknown, so whether the fix is in place cannot "
                    "be told: stop a test pod and watch the kernel log"
                ).format(
                    n=len(aa.earlier_boot_denials),
                    path=profile.path,
                    helpers=", ".join(profile.confines),
                ),
                evidence=(*earlier, profile.evidence),
                fix=_fix(reboot=True),
                remedy=UPGRADE_CONTAINERD,
                severity=Severity.WARNING,
                impact=_(IMPACT),
            )
        return
    version = containerd.version
    if containerd_has_fix(version.release) or not _kubelet_may_use_containerd(facts):
        return
    profile = confining[0]
    attach = profile.header.attach if profile.header else "?"
    rollback = "really" in version.raw
    if aa.loaded is not None and "cri-containerd.apparmor.d" in aa.loaded:
        message = _(
            "{path} confines {helpers} (attach path {attach}) under the profile '{profile}', "
            "and containerd {version} carries upstream {upstream}, whose "
            "cri-containerd.apparmor.d accepts signals only from unconfined peers "
            "(cri-containerd.apparmor.d is loaded): stopping a container will fail with "
            "'{error}'"
        )
    else:
        message = _(
            "{path} confines {helpers} (attach path {attach}) under the profile '{profile}', "
            "and containerd {version} carries upstream {upstream}, whose "
            "cri-containerd.apparmor.d accepts signals only from unconfined peers: stopping a "
            "container will fail with '{error}'"
        )
    message = message.format(
        path=profile.path,
        helpers=", ".join(profile.confines),
        attach=attach,
        profile=profile.header.name if profile.header else profile.helper,
        version=version.raw,
        upstream=".".join(map(str, version.release)),
        error=STOP_ERROR,
    )
    severity = Severity.ERROR
    if rollback:
        # Ubuntu's "NEW+reallyOLD" packages: the version no longer tells whether the fix
        # was carried, so only the log can confirm it (research/runtimes.md §4).
        severity = Severity.WARNING
        if aa.logs_read:
            message += _(
                "; {version} is a rollback package, so whether it carries the fix is unknown: "
                "no denial was found in {logs}"
            ).format(version=version.raw, logs=", ".join(aa.logs_read))
        else:
            message += _(
                "; {version} is a rollback package, so whether it carries the fix is unknown: "
                "no denial was found in any log"
            ).format(version=version.raw)
    if earlier:
        message += _("; the log shows {n} such denial(s) before the last boot").format(
            n=len(aa.earlier_boot_denials)
        )
    from nodedoctor.remedies.by_hand import UPGRADE_CONTAINERD  # only for a finding

    yield Issue(
        title=_("AppArmor 4 confines runc and containerd's container profile refuses its signals"),
        message=message,
        evidence=(
            profile.evidence,
            *((aa.version.evidence,) if aa.version is not None else ()),
            *_version_evidence(containerd),
            *earlier,
        ),
        fix=_fix(reboot=True),
        remedy=UPGRADE_CONTAINERD,
        severity=severity,
        impact=_(IMPACT),
    )


RULE = Rule(
    id="apparmor-blocks-runc-signal",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    title=N_("AppArmor denies runc's signals to containers (pods stuck Terminating)"),
    check=_check,
    tags=("apparmor", "containerd", "runc", "ubuntu"),
    applies_to=N_("AppArmor >= 4.0 (Ubuntu 23.10+) with containerd < 1.7.16 / < 1.6.32"),
)
