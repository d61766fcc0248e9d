"""foreign-cgroup-mount: a cgroup filesystem mounted outside /sys/fs/cgroup (Calico, Cilium),
which teardown leaves behind."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.model import FixHint, Issue, Severity
from nodedoctor.rules._teardown_common import mounts_or_skip
from nodedoctor.rules.base import Rule

_OWNER_TEXT = {
    "calico": "Calico (v3.24+, calico-node's init container) mounts the host's root cgroup2 here",
    "cilium": "Cilium (cgroup.autoMount) mounts the host's root cgroup2 here",
}


def _check_foreign(facts: Facts) -> Iterator[Issue]:
    td = mounts_or_skip(facts)
    leftovers = [m for m in td.foreign_cgroup if m.removable]
    if not leftovers:
        return
    kubelet = td.kubelet
    for m in leftovers:
        owner = _OWNER_TEXT.get(m.owner or "", "a process mounted a cgroup hierarchy here")
        fstype = m.mount.fstype
        parent = m.mount_point.rsplit("/", 1)[0] or "/"
        danger = (
            f"'rm -rf' of {parent} fails with 'Operation not permitted' on the cgroup "
            "interface files and, worse, removes every empty host cgroup it reaches "
            "(rmdir deletes a cgroup without processes)"
        )
        if kubelet.removed:
            severity = Severity.WARNING
            message = (
                f"{m.mount_point} is a {fstype} mount outside /sys/fs/cgroup and "
                f"{kubelet.describe()}: {owner}, and teardown left it behind; {danger}. "
                f"Unmount it before removing {parent}"
            )
        else:
            severity = Severity.INFO
            state = kubelet.describe()
            if kubelet.running is True:
                state += ", so this is expected"
            message = (
                f"{m.mount_point} is a {fstype} mount outside /sys/fs/cgroup ({owner}); "
                f"{state}. When this node is torn down, unmount it before deleting "
                f"{parent}: {danger}"
            )
        yield Issue(
            title=f"{fstype} mounted at {m.mount_point}, outside /sys/fs/cgroup",
            message=message,
            evidence=(m.evidence, *kubelet.evidence[:2]),
            severity=severity,
            fix=FixHint(
                summary=f"unmount {m.mount_point} before removing its directory "
                "(never rm -rf through a cgroup filesystem)",
                available=False,
                commands=(f"umount {m.mount_point}", f"rm -rf --one-file-system {parent}"),
            ),
            impact="teardown (kk delete cluster, kubespray reset) fails or deletes host cgroups",
        )


RULE = Rule(
    id="foreign-cgroup-mount",
    severity=Severity.WARNING,
    highest=Severity.WARNING,
    clean_removes=True,
    title="cgroup filesystem mounted outside /sys/fs/cgroup (Calico, Cilium)",
    check=_check_foreign,
    tags=("teardown", "calico", "cilium", "kubekey", "kubespray"),
    applies_to="all versions; info while the kubelet runs, warning once it is gone",
)
