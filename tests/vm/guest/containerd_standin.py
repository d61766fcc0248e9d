#!/usr/bin/python3
"""A containerd stand-in for the VM (tests/vm): installed in the guest as
``/usr/local/bin/containerd``, the program upstream's ``containerd.service`` runs, so the
process's ``comm`` is ``containerd`` and it runs in ``system.slice/containerd.service``.

The unit is ``Type=notify``: the stand-in tells systemd it is ready (``READY=1`` on
``$NOTIFY_SOCKET``, sd_notify(3)), then runs until SIGTERM. It serves nothing.
``--version`` prints what Debian 12's containerd package prints (``containerd --version`` of
1.6.20~ds1-1+deb12u3, the package tests/roots/kubeadm-ubuntu22-containerd-default was made
with) and exits, as the real one does: nodedoctor runs ``containerd --version`` on a live node.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from types import FrameType

VERSION = "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3"


def notify_ready() -> None:
    """``sd_notify(0, "READY=1")``; an address starting with ``@`` is abstract."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"READY=1", address)


def _stop(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)


def main(argv: list[str]) -> int:
    if "--version" in argv[1:] or "-v" in argv[1:]:
        sys.stdout.write(f"{VERSION}\n")
        return 0
    signal.signal(signal.SIGTERM, _stop)
    notify_ready()
    sys.stderr.write("containerd stand-in: ready\n")
    sys.stderr.flush()
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
