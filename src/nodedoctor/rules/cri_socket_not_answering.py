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
from nodedoctor.i18n import N_, _
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


#: The unit named in the fix when the socket's is not known.
_SOME_RUNTIME = N_("the container runtime")
#: What is wrong with the socket, by its state (``{path}``: the socket file).
_WHAT = {
    ABSENT: N_(
        "{path} does not exist: the runtime is not installed, not running, or listens elsewhere"
    ),
    REFUSED: N_(
        "{path} refuses connections: the socket file is left from a runtime that is no longer "
        "running"
    ),
    NOT_A_SOCKET: N_("{path} is not a socket"),
    SILENT: N_("{path} accepts connections but does not answer as a gRPC server"),
}

#: Whose endpoint the socket is: the finding's message (``{what}``: the socket's state,
#: ``{detail}``: the probe's error) and impact (``{deployer}``: the deployer).
_WHO = {
    "kubelet": (
        N_("{what}; it is the endpoint of the kubelet ({detail})"),
        N_("the kubelet cannot reach the container runtime: no pod can start"),
    ),
    "deployer": (
        N_("{what}; it is the endpoint of {deployer}'s kubelet ({detail})"),
        N_("{deployer}'s kubelet cannot reach the container runtime: no pod can start"),
    ),
    "kubeadm": (
        N_("{what}; it is the endpoint of kubeadm init and join, then the kubelet ({detail})"),
        N_(
            "kubeadm init and join, then the kubelet cannot reach the container runtime: no "
            "pod can start"
        ),
    ),
    "other": (
        N_("{what}; it is the endpoint of whatever deploys Kubernetes here ({detail})"),
        N_("whatever deploys Kubernetes here cannot reach the container runtime: no pod can start"),
    ),
}


def _service(endpoint: str) -> str | None:
    return _SERVICE.get(endpoint.rsplit("/", 1)[-1])


def _issue(probe: ProbedSocket, severity: Severity, who: str, deployer: str) -> Issue:
    path = probe.endpoint.removeprefix("unix://")
    service = _service(probe.endpoint)
    unit = service or _(_SOME_RUNTIME)
    return Issue(
        title=_("the CRI socket {endpoint} does not answer").format(endpoint=probe.endpoint),
        message=_(_WHO[who][0]).format(
            what=_(_WHAT[probe.state]).format(path=path), deployer=deployer, detail=probe.detail
        ),
        evidence=(probe.evidence, Evidence(path, probe.detail)),
        severity=severity,
        impact=_(_WHO[who][1]).format(deployer=deployer),
        fix=FixHint(
            summary=_(
                "install and start the runtime (systemctl enable --now {service}; "
                "journalctl -u {service} says why it stopped), or point the kubelet and "
                "kubeadm's criSocket at the socket it really listens on"
            ).format(service=unit),
            commands=(
                (f"systemctl enable --now {service}",)
                if service is not None and service.isidentifier()
                else ()
            ),
        ),
    )


def _down_issue(down: RuntimeDown) -> Issue:
    path = down.endpoint.removeprefix("unix://")
    service = _service(down.endpoint) or _(_SOME_RUNTIME)
    return Issue(
        title=_("the kubelet runs but {runtime} does not: its CRI socket cannot answer").format(
            runtime=down.runtime
        ),
        message=_(
            "{comm} (pid {pid}) talks to {endpoint}, and {runtime} is installed, but no "
            "{runtime} process runs ({source} process list): nothing listens on {path}"
        ).format(
            comm=down.kubelet.comm,
            pid=down.kubelet.pid,
            endpoint=down.endpoint,
            runtime=down.runtime,
            source=down.source,
            path=path,
        ),
        evidence=(down.endpoint_evidence, down.kubelet.evidence, down.installed),
        severity=Severity.ERROR,
        impact=_(
            "the kubelet cannot reach the container runtime: no pod can start or be "
            "stopped, and the node goes NotReady"
        ),
        fix=FixHint(
            summary=_(
                "start the runtime (systemctl enable --now {service}; journalctl -u {service} "
                "says why it stopped)"
            ).format(service=service),
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
        raise SkipRuleError(sock.unknown or _("the runtime's socket was not asked"))
    profile = facts.get(deployer_profile).name
    kubelet = facts.get(kubelet_facts).installed
    several = sock.origin == "kubeadm" and len(sock.probed) > 1 and profile == "kubeadm"
    if several and all(p.state == ANSWERS for p in sock.probed):
        names = ", ".join(p.endpoint for p in sock.probed)
        yield Issue(
            title=_("several CRI sockets answer: kubeadm will not choose one"),
            message=_(
                "no criSocket is configured and {names} all exist: kubeadm stops with "
                '"Found multiple CRI endpoints on the host. Please define which one do you '
                "wish to use by setting the 'criSocket' field in the kubeadm configuration "
                'file: {names}"'
            ).format(names=names),
            evidence=tuple(p.evidence for p in sock.probed),
            severity=Severity.WARNING,
            impact=_("kubeadm init and join stop until one is named"),
            fix=FixHint(
                summary=_(
                    "pass --cri-socket (or nodeRegistration.criSocket) naming the "
                    "runtime the kubelet is to use, or stop and disable the other runtimes"
                )
            ),
        )
        return
    bad = [p for p in sock.probed if p.state not in (ANSWERS, DENIED)]
    if not bad:
        denied = [p for p in sock.probed if p.state == DENIED]
        if denied:
            raise SkipRuleError(
                _("{endpoint}: {detail} (run as root)").format(
                    endpoint=denied[0].endpoint, detail=denied[0].detail
                )
            )
        return
    if sock.origin == "kubelet":
        who, severity = "kubelet", Severity.ERROR
    elif sock.origin == "deployer":
        who, severity = "deployer", Severity.ERROR
    elif profile == "kubeadm":
        who, severity = "kubeadm", Severity.ERROR
    elif profile in INSTALL_THE_RUNTIME and bad[0].state == ABSENT:
        raise SkipRuleError(
            _("{deployer} installs and starts the container runtime itself").format(
                deployer=profile
            )
        )
    elif bad[0].state == ABSENT:
        raise SkipRuleError(
            _("no container runtime socket, and no kubelet or deployer to say which is wanted")
        )
    else:
        who, severity = "other", Severity.WARNING
    if not kubelet and sock.origin == "kubeadm":
        bad = bad[:1]
    for probe in bad:
        yield _issue(probe, severity, who, str(profile))


RULE = Rule(
    id="cri-socket-not-answering",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    title=N_("the container runtime's CRI socket does not answer"),
    check=_check,
    tags=("runtime", "preflight"),
    applies_to=N_("live checks"),
)
