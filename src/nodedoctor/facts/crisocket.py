"""Whether the container runtime's CRI socket answers, asked on the live node.

The endpoint is the kubelet's (``containerRuntimeEndpoint`` / ``--container-runtime-endpoint``,
``facts/kubelet``); without a kubelet, the deployer's own runtime for k3s, RKE2 and MicroK8s
(``facts/deployers.py``) while it runs, else the sockets kubeadm looks for when it is not told
one (cmd/kubeadm/app/util/runtime ``detectCRISocketImpl`` over
``constants.DefaultCRISocket`` and the other known endpoints), those that exist.

The probe connects to the unix socket and opens an HTTP/2 connection (gRPC's transport): a
runtime answers the client preface with its SETTINGS frame. Nothing else is sent, so nothing
changes on the runtime's side.

A root that shows its running state without being this machine (a host seen from a pod, a
bundle, a root with recorded ``/proc/<pid>/comm``) is not probed; there the socket cannot answer
when the kubelet runs and the runtime it talks to is installed but has no process
(:class:`RuntimeDown`).
"""

from __future__ import annotations

import os
import stat

from nodedoctor._record import record
from nodedoctor.facts import Facts
from nodedoctor.facts.kubelet import kubelet_facts
from nodedoctor.facts.processes import Process, processes
from nodedoctor.facts.profile import deployer_profile
from nodedoctor.i18n import _
from nodedoctor.model import Evidence
from nodedoctor.sources.root import UnsafePathError

#: The endpoints kubeadm finds on its own, in its order (containerd, CRI-O, cri-dockerd).
KUBEADM_KNOWN = (
    "unix:///var/run/containerd/containerd.sock",
    "unix:///var/run/crio/crio.sock",
    "unix:///var/run/cri-dockerd.sock",
)
TIMEOUT = 1.0
_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
_SETTINGS = 0x04

ANSWERS = "answers"
ABSENT = "absent"
NOT_A_SOCKET = "not a socket"
REFUSED = "refused"
DENIED = "denied"
SILENT = "silent"


def probe_socket(path: str, timeout: float = TIMEOUT) -> tuple[str, str]:
    """The state of the unix socket at host path ``path`` and what showed it."""
    import socket  # live only: an offline check never imports it

    try:
        st = os.stat(path)
    except FileNotFoundError:
        return ABSENT, "no such file"
    except OSError as exc:
        return DENIED, exc.strerror or str(exc)
    if not stat.S_ISSOCK(st.st_mode):
        return NOT_A_SOCKET, "a file that is not a socket"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(path)
        except ConnectionRefusedError:
            return REFUSED, "connect: connection refused (no process listens on it)"
        except PermissionError:
            return DENIED, "connect: permission denied"
        except OSError as exc:
            return REFUSED, f"connect: {exc.strerror or exc}"
        try:
            sock.sendall(_PREFACE)
            head = sock.recv(9)
        except OSError as exc:
            return SILENT, f"accepts connections but does not answer HTTP/2 ({exc})"
        if len(head) >= 4 and head[3] == _SETTINGS:
            return ANSWERS, "answers HTTP/2 (gRPC)"
        return SILENT, "accepts connections but does not answer HTTP/2"
    finally:
        sock.close()


@record
class ProbedSocket:
    endpoint: str
    #: Where the endpoint comes from.
    evidence: Evidence
    state: str
    detail: str


@record
class RuntimeDown:
    """The kubelet runs, its runtime is installed, and no process of the runtime runs."""

    runtime: str
    endpoint: str
    endpoint_evidence: Evidence
    kubelet: Process
    installed: Evidence
    #: How the root shows what runs (facts/processes.py).
    source: str


@record
class CriSocket:
    #: The sockets asked (one, or every kubeadm endpoint that exists); ``None``: not asked.
    probed: tuple[ProbedSocket, ...] | None
    #: How the endpoint was chosen: "kubelet", "deployer", "kubeadm".
    origin: str | None = None
    unknown: str | None = None
    #: A root not probed but showing its running state: the runtime does not run.
    down: RuntimeDown | None = None
    #: A root not probed but showing its running state: the runtime's process runs.
    runs: bool = False


#: The runtime's process (``comm``) for each runtime ``facts/runtime.py`` names.
RUNTIME_PROCESS = {"containerd": "containerd", "cri-o": "crio", "cri-dockerd": "cri-dockerd"}


def _installed(facts: Facts, runtime: str) -> Evidence | None:
    """Evidence that ``runtime`` is installed on the node, or ``None``."""
    from nodedoctor.facts.containerd import containerd_facts
    from nodedoctor.facts.crio import crio_facts
    from nodedoctor.facts.docker import docker_facts

    deployer = facts.get(deployer_profile).deployer
    if runtime == "containerd":
        if deployer is not None and deployer.bundles_containerd:
            return Evidence(
                f"--profile {deployer.name}" if facts.profile else deployer.name,
                f"{deployer.title} runs its own containerd",
            )
        c = facts.get(containerd_facts)
        if c.present and c.version is not None:
            return c.version.evidence
        return None
    if runtime == "cri-o":
        cr = facts.get(crio_facts)
        return cr.version.evidence if cr.present and cr.version is not None else None
    d = facts.get(docker_facts)
    return d.cri_dockerd.evidence if d.cri_dockerd is not None else None


def _down(facts: Facts) -> CriSocket:
    """Not live: what the root's running state says."""
    from nodedoctor.facts.runtime import runtime_facts

    shown = facts.get(processes)
    if not shown.known:
        return CriSocket(None, unknown=shown.unknown_reason)
    kubelet = shown.kubelet()
    if kubelet is None:
        return CriSocket(
            None, unknown=_("the kubelet is not running: nothing connects to the runtime")
        )
    rt = facts.get(runtime_facts)
    if rt.name not in RUNTIME_PROCESS or rt.endpoint is None:
        return CriSocket(None, unknown=_("the kubelet's container runtime cannot be told"))
    installed = _installed(facts, rt.name)
    if installed is None:
        why = _("{runtime} is not known to be installed on this node").format(runtime=rt.name)
        return CriSocket(None, unknown=why)
    if shown.named(RUNTIME_PROCESS[rt.name]):
        return CriSocket(None, runs=True)
    down = RuntimeDown(
        rt.name, rt.endpoint.value, rt.endpoint.evidence, kubelet, installed, shown.source or ""
    )
    return CriSocket(None, down=down)


def _probe(facts: Facts, endpoint: str, evidence: Evidence) -> ProbedSocket:
    node_path = endpoint.removeprefix("unix://")
    try:
        host = facts.root.resolve(node_path)
    except UnsafePathError:
        return ProbedSocket(endpoint, evidence, ABSENT, "not a path on this node")
    state, detail = probe_socket(host)
    return ProbedSocket(endpoint, evidence, state, detail)


def cri_socket(facts: Facts) -> CriSocket:
    if not facts.live:
        return _down(facts)
    k = facts.get(kubelet_facts)
    if k.installed and k.readable and k.runtime_endpoint is not None:
        value = k.runtime_endpoint.value
        if isinstance(value, str) and value:
            if not value.startswith(("unix://", "/")):
                why = _("the kubelet's endpoint {endpoint} is not a unix socket")
                return CriSocket(None, unknown=why.format(endpoint=value))
            endpoint = value if value.startswith("unix://") else f"unix://{value}"
            return CriSocket((_probe(facts, endpoint, k.runtime_endpoint.evidence),), "kubelet")
    deployer = facts.get(deployer_profile).deployer
    if deployer is not None and deployer.bundles_containerd:
        running = facts.get(processes).named(*deployer.kubelet_processes)
        if not running:
            return CriSocket(
                None,
                unknown=_("{deployer} starts its own containerd, and it is not running").format(
                    deployer=deployer.title
                ),
            )
        evidence = Evidence(running[0].evidence.source, f"{deployer.title} runs its containerd")
        return CriSocket((_probe(facts, deployer.containerd_socket, evidence),), "deployer")
    found = []
    for endpoint in KUBEADM_KNOWN:
        path = endpoint.removeprefix("unix://")
        if facts.root.exists(path):
            found.append(_probe(facts, endpoint, Evidence(path, "present")))
    if not found:
        first = KUBEADM_KNOWN[0]
        none = Evidence(", ".join(e.removeprefix("unix://") for e in KUBEADM_KNOWN), "absent")
        return CriSocket((ProbedSocket(first, none, ABSENT, "no such file"),), "kubeadm")
    return CriSocket(tuple(found), "kubeadm")
