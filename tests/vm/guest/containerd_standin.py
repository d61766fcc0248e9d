#!/usr/bin/python3
"""A containerd stand-in for the VM (tests/vm), installed in the guest as the programs the real
units run: upstream's ``containerd.service`` runs ``/usr/local/bin/containerd``, MicroK8s's
``snap.microk8s.daemon-containerd.service`` runs ``/snap/microk8s/6532/bin/containerd`` (through
``run-containerd-with-args``). The process's ``comm`` is ``containerd`` and it runs in its unit's
cgroup, as the real one does.

- ``--version`` prints what Debian 12's containerd package prints (``containerd --version`` of
  1.6.20~ds1-1+deb12u3, the package tests/roots/kubeadm-ubuntu22-containerd-default was made
  with) and exits, as the real one does: nodedoctor runs ``containerd --version`` live.
- It listens on ``--address`` (containerd's default ``/run/containerd/containerd.sock``) and
  answers each connection as a gRPC server opens one: with HTTP/2's server connection preface,
  an empty SETTINGS frame (RFC 9113 §3.4). It serves nothing after it.
- The units are ``Type=notify``: it tells systemd it is ready (``READY=1`` on
  ``$NOTIFY_SOCKET``, sd_notify(3)) once it listens, then runs until SIGTERM (exit 0). Its
  other arguments are ignored.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading

VERSION = "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3"
DEFAULT_ADDRESS = "/run/containerd/containerd.sock"
#: Length 0, type SETTINGS (0x4), no flags, stream 0.
SETTINGS_FRAME = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def address(argv: list[str]) -> str:
    """The ``--address``/``-a`` argument, as containerd takes it.

    >>> address(["containerd", "--config", "c.toml", "--address", "/x.sock"])
    '/x.sock'
    >>> address(["containerd", "--address=/y.sock"]), address(["containerd"])
    ('/y.sock', '/run/containerd/containerd.sock')
    """
    for i, arg in enumerate(argv):
        if arg in ("--address", "-a") and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--address="):
            return arg.split("=", 1)[1]
    return DEFAULT_ADDRESS


def notify_ready() -> None:
    """``sd_notify(0, "READY=1")``; an address starting with ``@`` is abstract."""
    target = os.environ.get("NOTIFY_SOCKET", "")
    if not target:
        return
    if target.startswith("@"):
        target = "\0" + target[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"READY=1", target)


def answer(conn: socket.socket) -> None:
    with conn:
        conn.settimeout(5)
        try:
            conn.sendall(SETTINGS_FRAME)
            while conn.recv(4096):
                pass
        except OSError:
            return


def serve(listener: socket.socket) -> None:
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=answer, args=(conn,), daemon=True).start()


def listen(path: str) -> socket.socket:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.exists(path):
        os.unlink(path)  # left by a run that was killed
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    return listener


def main(argv: list[str]) -> int:
    if "--version" in argv[1:] or "-v" in argv[1:]:
        sys.stdout.write(f"{VERSION}\n")
        return 0
    # SIGTERM blocked in every thread (they inherit the mask) and taken by sigwait, whichever
    # thread the kernel picks: with a handler and signal.pause(), systemd-shutdown's SIGTERM
    # was once left unhandled and the stand-in lived until its SIGKILL, 90 s later.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    path = address(argv)
    listener = listen(path)
    threading.Thread(target=serve, args=(listener,), daemon=True).start()
    notify_ready()
    sys.stderr.write(f"containerd stand-in: serving on {path}\n")
    sys.stderr.flush()
    signal.sigwait({signal.SIGTERM})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
