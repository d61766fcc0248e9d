"""cri-socket-not-answering: the container runtime's CRI socket, which the kubelet (or kubeadm)
will use, is missing, refuses connections or does not speak gRPC (live only)."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.crisocket import (
    ABSENT,
    ANSWERS,
    DENIED,
    NOT_A_SOCKET,
    REFUSED,
    SILENT,
    ProbedSocket,
    RuntimeDown,
    cri_socket,
)
from nodedoctor.facts.kubelet import kubelet_facts
from nodedoctor.facts.profile import deployer_profile
from nodedoctor.model import Evidence, FixHint, Issue, Severity
from nodedoctor.rules.base import Rule, SkipRuleError

#: Deployers that install and start the runtime themselves (its absence before they run is
#: expected).
INSTALL_THE_RUNTIME = frozenset({"kubespray", "kubekey", "kops"})
_SERVICE = {
    "containerd.sock": "containerd",
    "crio.sock": "crio",
    "cri-dockerd.sock": "cri-docker.socket",
}


def _service(endpoint: str) -> str:
    return _SERVICE.get(endpoint.rsplit("/", 1)[-1], "the container runtime")


def _issue(probe: ProbedSocket, severity: Severity, who: str) -> Issue:
    path = probe.endpoint.removeprefix("unix://")
    service = _service(probe.endpoint)
    what = {
        ABSENT: f"{path} does not exist: the runtime is not installed, not running, or "
        "listens elsewhere",
        REFUSED: f"{path} refuses connections: the socket file is left from a runtime that "
        "is no longer running",
        NOT_A_SOCKET: f"{path} is not a socket",
        SILENT: f"{path} accepts connections but does not answer as a gRPC server",
    }[probe.state]
    return Issue(
        title=f"the CRI socket {probe.endpoint} does not answer",
        message=f"{what}; it is the endpoint of {who} ({probe.detail})",
        evidence=(probe.evidence, Evidence(path, probe.detail)),
        severity=severity,
        impact=f"{who} cannot reach the container runtime: no pod can start",
        fix=FixHint(
            summary=(
                f"install and start the runtime (systemctl enable --now {service}; "
                f"journalctl -u {service} says why it stopped), or point the kubelet and "
                "kubeadm's criSocket at the socket it really listens on"
            ),
            commands=(f"systemctl enable --now {service}",) if service.isidentifier() else (),
        ),
    )


def _down_issue(down: RuntimeDown) -> Issue:
    path = down.endpoint.removeprefix("unix://")
    service = _service(down.endpoint)
    return Issue(
        title=f"the kubelet runs but {down.runtime} does not: its CRI socket cannot answer",
        message=(
            f"{down.kubelet.comm} (pid {down.kubelet.pid}) talks to {down.endpoint}, and "
            f"{down.runtime} is installed, but no {down.runtime} process runs ({down.source} "
            f"process list): nothing listens on {path}"
        ),
        evidence=(down.endpoint_evidence, down.kubelet.evidence, down.installed),
        severity=Severity.ERROR,
        impact="the kubelet cannot reach the container runtime: no pod can start or be "
        "stopped, and the node goes NotReady",
        fix=FixHint(
            summary=(
                f"start the runtime (systemctl enable --now {service}; journalctl -u {service} "
                "says why it stopped)"
            ),
        ),
    )


def _check(facts: Facts) -> Iterator[Issue]:
    sock = facts.get(cri_socket)
    if sock.down is not None:
        yield _down_issue(sock.down)
        return
    if sock.runs:
        return
    if sock.probed is None:
        raise SkipRuleError(sock.unknown or "the runtime's socket was not asked")
    profile = facts.get(deployer_profile).name
    kubelet = facts.get(kubelet_facts).installed
    several = sock.origin == "kubeadm" and len(sock.probed) > 1 and profile == "kubeadm"
    if several and all(p.state == ANSWERS for p in sock.probed):
        names = ", ".join(p.endpoint for p in sock.probed)
        yield Issue(
            title="several CRI sockets answer: kubeadm will not choose one",
            message=(
                f"no criSocket is configured and {names} all exist: kubeadm stops with "
                '"Found multiple CRI endpoints on the host. Please define which one do you '
                "wish to use by setting the 'criSocket' field in the kubeadm configuration "
                f'file: {names}"'
            ),
            evidence=tuple(p.evidence for p in sock.probed),
            severity=Severity.WARNING,
            impact="kubeadm init and join stop until one is named",
            fix=FixHint(
                summary="pass --cri-socket (or nodeRegistration.criSocket) naming the "
                "runtime the kubelet is to use, or stop and disable the other runtimes"
            ),
        )
        return
    bad = [p for p in sock.probed if p.state not in (ANSWERS, DENIED)]
    if not bad:
        denied = [p for p in sock.probed if p.state == DENIED]
        if denied:
            raise SkipRuleError(f"{denied[0].endpoint}: {denied[0].detail} (run as root)")
        return
    if sock.origin == "kubelet":
        who, severity = "the kubelet", Severity.ERROR
    elif sock.origin == "deployer":
        who, severity = f"{profile}'s kubelet", Severity.ERROR
    elif profile == "kubeadm":
        who, severity = "kubeadm init and join, then the kubelet", Severity.ERROR
    elif profile in INSTALL_THE_RUNTIME and bad[0].state == ABSENT:
        raise SkipRuleError(f"{profile} installs and starts the container runtime itself")
    elif bad[0].state == ABSENT:
        raise SkipRuleError(
            "no container runtime socket, and no kubelet or deployer to say which is wanted"
        )
    else:
        who, severity = "whatever deploys Kubernetes here", Severity.WARNING
    if not kubelet and sock.origin == "kubeadm":
        bad = bad[:1]
    for probe in bad:
        yield _issue(probe, severity, who)


RULE = Rule(
    id="cri-socket-not-answering",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    title="the container runtime's CRI socket does not answer",
    check=_check,
    tags=("runtime", "preflight"),
    applies_to="live checks",
)
