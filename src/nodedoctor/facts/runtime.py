"""The container runtime the kubelet talks to, its version, its effective cgroup driver (with
evidence), whether it implements the CRI ``RuntimeConfig`` call (containerd >= 2.0, CRI-O >=
1.28, cri-dockerd >= 0.3.17; research runtimes.md §1.2) and, live, whether its socket answers.

The endpoint is the kubelet's ``containerRuntimeEndpoint`` / ``--container-runtime-endpoint``
(``facts/kubelet``; default ``unix:///run/containerd/containerd.sock``; MicroK8s and k3s run
their own containerd on their own sockets). Without a kubelet, the runtime installed is taken.
"""

from __future__ import annotations

from nodedoctor._record import record
from nodedoctor.facts import Facts, Sourced
from nodedoctor.facts.containerd import containerd_facts
from nodedoctor.facts.crio import SOCKET as CRIO_SOCKET
from nodedoctor.facts.crio import crio_facts
from nodedoctor.facts.docker import CRI_DOCKERD_SOCKET, docker_facts
from nodedoctor.facts.kubelet import kubelet_facts
from nodedoctor.facts.versions import Version
from nodedoctor.i18n import _
from nodedoctor.model import Evidence

SOCKET_TIMEOUT = 0.5


@record
class RuntimeFacts:
    #: "containerd", "cri-o", "cri-dockerd", or None when no runtime can be told.
    name: str | None
    endpoint: Sourced[str] | None
    version: Sourced[Version] | None
    #: The driver the runtime gives containers (what RuntimeConfig reports, where it does).
    cgroup_driver: Sourced[str] | None
    implements_runtime_config: bool | None
    #: Live only: the socket accepted a connection (None offline or without a socket path).
    socket_answers: bool | None
    unknown: str | None = None


def runtime_name(endpoint: str) -> str | None:
    """Which runtime an endpoint belongs to, by its socket's name.

    >>> runtime_name("unix:///var/run/crio/crio.sock"), runtime_name("/run/cri-dockerd.sock")
    ('cri-o', 'cri-dockerd')
    >>> runtime_name("unix:///run/k3s/containerd/containerd.sock")
    'containerd'
    """
    base = endpoint.rsplit("/", 1)[-1]
    if base.startswith("containerd"):
        return "containerd"
    if base.startswith("crio"):
        return "cri-o"
    if base.startswith("cri-dockerd"):
        return "cri-dockerd"
    return None


def socket_answers(path: str, timeout: float = SOCKET_TIMEOUT) -> bool:
    """Whether a unix socket accepts a connection (no gRPC spoken)."""
    import socket  # live only: offline checks skip its import

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except OSError:
        return False
    finally:
        sock.close()
    return True


def _endpoint(facts: Facts) -> Sourced[str] | None:
    k = facts.get(kubelet_facts)
    if k.installed and k.readable:
        s = k.runtime_endpoint
        if s is not None and isinstance(s.value, str) and s.value:
            return Sourced(s.value, s.evidence)
    return None


def runtime_facts(facts: Facts) -> RuntimeFacts:
    # Read every runtime's files, so a malformed one is a parse-error finding whichever
    # runtime the kubelet uses.
    facts.get(crio_facts)
    facts.get(docker_facts)
    endpoint = _endpoint(facts)
    name = runtime_name(endpoint.value) if endpoint else None
    if endpoint is None:
        # No kubelet to ask: the runtime installed, if exactly one can be told.
        if facts.get(containerd_facts).present:
            name = "containerd"
        elif facts.get(crio_facts).present:
            name = "cri-o"
    answers: bool | None = None
    if endpoint is not None and facts.live and endpoint.value.startswith(("unix://", "/")):
        answers = socket_answers(endpoint.value.removeprefix("unix://"))
    if name == "containerd":
        c = facts.get(containerd_facts)
        driver = c.reported_driver if c.implements_runtime_config else c.cgroup_driver
        if endpoint is None:
            endpoint = Sourced(
                c.endpoint, Evidence("default", f"containerd listens on {c.endpoint}")
            )
        return RuntimeFacts(
            name,
            endpoint,
            c.version,
            driver or c.cgroup_driver,
            c.implements_runtime_config,
            answers,
            c.unknown,
        )
    if name == "cri-o":
        cr = facts.get(crio_facts)
        if endpoint is None:
            endpoint = Sourced(CRIO_SOCKET, Evidence("default", f"CRI-O listens on {CRIO_SOCKET}"))
        return RuntimeFacts(
            name,
            endpoint,
            cr.version,
            cr.cgroup_manager,
            cr.implements_runtime_config,
            answers,
            cr.unknown,
        )
    if name == "cri-dockerd":
        d = facts.get(docker_facts)
        if endpoint is None:
            endpoint = Sourced(CRI_DOCKERD_SOCKET, Evidence("default", CRI_DOCKERD_SOCKET))
        return RuntimeFacts(
            name,
            endpoint,
            d.cri_dockerd,
            d.cgroup_driver,
            d.implements_runtime_config,
            answers,
            d.unknown,
        )
    why = (
        _("the kubelet's endpoint {endpoint} is not a runtime nodedoctor knows").format(
            endpoint=endpoint.value
        )
        if endpoint
        else _("no container runtime was found")
    )
    return RuntimeFacts(None, endpoint, None, None, None, answers, why)


def runtime_summary(facts: Facts) -> dict[str, object]:
    """The report's ``node.runtime`` block."""
    r = facts.get(runtime_facts)
    return {
        "name": r.name,
        "version": str(r.version.value) if r.version else None,
        "cgroup_driver": r.cgroup_driver.value if r.cgroup_driver else None,
        "endpoint": r.endpoint.value if r.endpoint else None,
    }
