#!/usr/bin/python3
"""A kubelet stand-in for the VM (tests/vm): what kubelet 1.29 with the cgroupfs driver and
``cgroupRoot: /`` does to the cgroup v2 tree when it starts, and how it fails.

Installed in the guest as the program the real units run: MicroK8s's
``/snap/microk8s/6532/kubelite`` and kubeadm's ``/usr/bin/kubelet``; the kernel names the
process after the file (``comm`` is ``kubelite`` or ``kubelet``), as it names the real ones.
``--version`` prints what kubelet 1.29.15 prints (``Kubernetes v1.29.15``; 1.29.15 is the
version of the MicroK8s snap in tests/roots/microk8s-1.29-power-cut) and exits, as the real
one does: nodedoctor runs ``kubelet --version`` on a live node. Its other arguments are
ignored. At every start it:

1. makes ``/sys/fs/cgroup/kubepods`` when it is missing, as libcontainer's fs2 manager does
   (``CreateCgroupPath``): every controller of the root's ``cgroup.controllers`` is enabled in
   the root's ``cgroup.subtree_control`` (all at once, else one by one), then ``mkdir``;
2. spends a few seconds starting up, as the kubelet does before its container manager starts
   (the window in which a ``systemctl daemon-reload``, snapd's at boot, re-realises the root);
3. validates kubepods as ``cgroupV2impl.Validate`` does: each of cpu, cpuset, memory, hugetlb,
   pids that the root has must be in ``kubepods/cgroup.controllers``; when one is missing it
   logs kubelet 1.29's error and exits 1 (``klog.ErrorS(err, "Failed to start
   ContainerManager"); os.Exit(1)`` in pkg/kubelet/kubelet.go), and systemd restarts it;
4. otherwise makes the QoS cgroups ``kubepods/burstable`` and ``kubepods/besteffort`` (the
   same ``CreateCgroupPath``, which enables the controllers in kubepods' subtree_control too)
   and runs until SIGTERM.

Step 1 runs only when kubepods is missing: the loop in the MicroK8s reports lasts until
``Delegate=yes`` or another kernel (canonical/microk8s#4378, #4361), and a stand-in that
re-enabled the root's controllers at every start would end it by itself.

Its other log lines say they come from the stand-in (``standin]``). The error line is the one
kubelite 1.29 printed in canonical/microk8s#4378:
``E0124 19:02:35.011772    2373 kubelet.go:1542] "Failed to start ContainerManager"
err="failed to initialize top level QOS containers: root container [kubepods] doesn't exist"``.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
import time
from types import FrameType

CGROUP = "/sys/fs/cgroup"
KUBEPODS = f"{CGROUP}/kubepods"
QOS = ("burstable", "besteffort")
#: cgroup_v2_manager_linux.go: the controllers Validate requires, where the root has them.
REQUIRED = ("cpu", "cpuset", "memory", "hugetlb", "pids")
STARTUP_SECONDS = 8.0
VERSION = "Kubernetes v1.29.15"
ERROR = (
    '"Failed to start ContainerManager" err="failed to initialize top level QOS containers: '
    "root container [kubepods] doesn't exist\""
)


def klog(severity: str, where: str, message: str) -> None:
    """A line in klog's header format: ``Lmmdd hh:mm:ss.uuuuuu threadid file:line] msg``.

    >>> import io, contextlib
    >>> out = io.StringIO()
    >>> with contextlib.redirect_stderr(out):
    ...     klog("E", "kubelet.go:1542", ERROR)
    >>> out.getvalue().split("] ", 1)[1].startswith('"Failed to start ContainerManager"')
    True
    """
    now = dt.datetime.now()
    header = f"{severity}{now:%m%d %H:%M:%S.%f} {os.getpid():7d} {where}]"
    sys.stderr.write(f"{header} {message}\n")
    sys.stderr.flush()


def read_words(path: str) -> list[str]:
    try:
        with open(path, encoding="ascii") as f:
            return f.read().split()
    except OSError:
        return []


def enable_all(parent: str) -> None:
    """Enable in ``parent`` every controller the root has (libcontainer's ``CreateCgroupPath``:
    one write of all, and one by one when that fails)."""
    wanted = read_words(f"{CGROUP}/cgroup.controllers")
    control = f"{parent}/cgroup.subtree_control"
    try:
        with open(control, "w", encoding="ascii") as f:
            f.write(" ".join(f"+{c}" for c in wanted))
    except OSError:
        for controller in wanted:
            try:
                with open(control, "w", encoding="ascii") as f:
                    f.write(f"+{controller}")
            except OSError:
                continue


def create(path: str) -> None:
    """``CreateCgroupPath`` for a cgroup directly under the root or under kubepods."""
    enable_all(CGROUP)
    if os.path.dirname(path) != CGROUP:
        enable_all(os.path.dirname(path))
    os.makedirs(path, exist_ok=True)


def missing_controllers() -> list[str]:
    root = read_words(f"{CGROUP}/cgroup.controllers")
    have = read_words(f"{KUBEPODS}/cgroup.controllers") if os.path.isdir(KUBEPODS) else []
    return [c for c in REQUIRED if c in root and c not in have]


def _stop(signum: int, frame: FrameType | None) -> None:
    klog("I", "standin", '"Shutting down kubelet stand-in"')
    sys.exit(0)


def main(argv: list[str]) -> int:
    if "--version" in argv[1:]:
        sys.stdout.write(f"{VERSION}\n")
        return 0
    signal.signal(signal.SIGTERM, _stop)
    klog("I", "standin", '"Kubelet stand-in starting" cgroupDriver="cgroupfs"')
    if not os.path.isdir(KUBEPODS):
        create(KUBEPODS)
        klog("I", "standin", '"Created cgroup" cgroupName=["kubepods"]')
    time.sleep(STARTUP_SECONDS)
    missing = missing_controllers()
    if missing:
        klog("E", "kubelet.go:1542", ERROR)
        return 1
    for qos in QOS:
        create(f"{KUBEPODS}/{qos}")
    klog("I", "standin", '"Created the QoS cgroups" cgroups=["burstable" "besteffort"]')
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
