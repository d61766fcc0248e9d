"""foreign-cgroup-mount: a cgroup filesystem mounted outside /sys/fs/cgroup (Calico, Cilium),
which teardown leaves behind."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.i18n import N_, _
from nodedoctor.model import FixHint, Issue, Severity
from nodedoctor.rules._teardown_common import mounts_or_skip
from nodedoctor.rules.base import Rule

_OWNER_TEXT = {
    "calico": N_(
        "Calico (v3.24+, calico-node's init container) mounts the host's root cgroup2 here"
    ),
    "cilium": N_("Cilium (cgroup.autoMount) mounts the host's root cgroup2 here"),
}
_UNKNOWN_OWNER = N_("a process mounted a cgroup hierarchy here")


def _check_foreign(facts: Facts) -> Iterator[Issue]:
    td = mounts_or_skip(facts)
    leftovers = [m for m in td.foreign_cgroup if m.removable]
    if not leftovers:
        return
    kubelet = td.kubelet
    for m in leftovers:
        owner = _(_OWNER_TEXT.get(m.owner or "", _UNKNOWN_OWNER))
        fstype = m.mount.fstype
        parent = m.mount_point.rsplit("/", 1)[0] or "/"
        danger = _(
            "'rm -rf' of {parent} fails with 'Operation not permitted' on the cgroup "
            "interface files and, worse, removes every empty host cgroup it reaches "
            "(rmdir deletes a cgroup without processes)"
        ).format(parent=parent)
        if kubelet.removed:
            severity = Severity.WARNING
            message = _(
                "{mount_point} is a {fstype} mount outside /sys/fs/cgroup and "
                "{kubelet}: {owner}, and teardown left it behind; {danger}. "
                "Unmount it before removing {parent}"
            ).format(
                mount_point=m.mount_point,
                fstype=fstype,
                kubelet=kubelet.describe(),
                owner=owner,
                danger=danger,
                parent=parent,
            )
        else:
            severity = Severity.INFO
            state = kubelet.describe()
            if kubelet.running is True:
                state = _("{kubelet}, so this is expected").format(kubelet=state)
            message = _(
                "{mount_point} is a {fstype} mount outside /sys/fs/cgroup ({owner}); "
                "{state}. When this node is torn down, unmount it before deleting "
                "{parent}: {danger}"
            ).format(
                mount_point=m.mount_point,
                fstype=fstype,
                owner=owner,
                state=state,
                parent=parent,
                danger=danger,
            )
        yield Issue(
            title=_("{fstype} mounted at {mount_point}, outside /sys/fs/cgroup").format(
                fstype=fstype, mount_point=m.mount_point
            ),
            message=message,
            evidence=(m.evidence, *kubelet.evidence[:2]),
            severity=severity,
            fix=FixHint(
                summary=_(
                    "unmount {mount_point} before removing its directory "
                    "(never rm -rf through a cgroup filesystem)"
                ).format(mount_point=m.mount_point),
                available=False,
                commands=(f"umount {m.mount_point}", f"rm -rf --one-file-system {parent}"),
            ),
            impact=_("teardown (kk delete cluster, kubespray reset) fails or deletes host cgroups"),
        )


RULE = Rule(
    id="foreign-cgroup-mount",
    severity=Severity.WARNING,
    highest=Severity.WARNING,
    clean_removes=True,
    title=N_("cgroup filesystem mounted outside /sys/fs/cgroup (Calico, Cilium)"),
    check=_check_foreign,
    tags=("teardown", "calico", "cilium", "kubekey", "kubespray"),
    applies_to=N_("all versions; info while the kubelet runs, warning once it is gone"),
)
