"""Where the kubelet's argument list comes from, per deployer model (facts/deployers.py
``launcher``): the systemd unit (kubeadm, KubeKey, Kubespray, kOps) or, without one, kubeadm's
files; MicroK8s's ``args/kubelet``; k3s's agent flags and ``kubelet-arg`` (k3s, RKE2); when
nothing names a flag and the root shows what runs, the running kubelet's
``/proc/<pid>/cmdline``."""

from __future__ import annotations

from nodedoctor._record import record, replace
from nodedoctor.facts import Facts, Sourced
from nodedoctor.facts.deployers import K3S_AGENT, SNAP_ARGS, Deployer
from nodedoctor.facts.kubelet.deployers import (
    MICROK8S_ARGS,
    MICROK8S_UNIT,
    k3s_config_args,
    k3s_exec_kubelet_args,
    k3s_unit,
    k3s_words,
    placed_args,
)
from nodedoctor.facts.kubelet.model import PlacedWord
from nodedoctor.facts.kubelet.units import (
    KUBEADM_CONFIG,
    KUBEADM_FLAGS,
    kubeadm_without_unit,
    service,
)
from nodedoctor.facts.processes import processes
from nodedoctor.facts.profile import Profile
from nodedoctor.model import Evidence
from nodedoctor.parsers.kubelet import parse_microk8s_args


@record
class Arguments:
    """The kubelet's argument list, each word at its file and line, and the unit that runs it."""

    unit: str | None = None
    unit_files: tuple[str, ...] = ()
    delegate: Sourced[str] | None = None
    words: tuple[PlacedWord, ...] = ()
    #: Why the unit cannot be trusted (a required EnvironmentFile= missing ...).
    problems: tuple[str, ...] = ()
    #: The config file kubeadm's unit would name, when the unit is not in the root.
    assumed_config: Sourced[str] | None = None


def _microk8s(facts: Facts) -> Arguments:
    text = facts.read(MICROK8S_ARGS)
    words = placed_args(MICROK8S_ARGS, parse_microk8s_args(text)) if text is not None else []
    svc = service(facts, MICROK8S_UNIT)
    if svc is None:
        return Arguments(unit=MICROK8S_UNIT, words=tuple(words))
    return Arguments(
        unit=MICROK8S_UNIT, unit_files=svc.files, delegate=svc.delegate, words=tuple(words)
    )


def _k3s(facts: Facts, deployer: Deployer) -> Arguments:
    unit = k3s_unit(facts, deployer)
    words = k3s_words(facts, unit, deployer)
    svc = service(facts, unit) if unit is not None else None
    exec_args = k3s_exec_kubelet_args(svc.words) if svc is not None else []
    # The command line's --kubelet-arg replaces the config files' list, not adds to it.
    words.extend(exec_args or k3s_config_args(facts, deployer))
    if svc is None:
        return Arguments(unit=unit, words=tuple(words))
    return Arguments(unit=unit, unit_files=svc.files, delegate=svc.delegate, words=tuple(words))


def _systemd(facts: Facts, profile: Profile) -> Arguments:
    svc = service(facts, "kubelet.service")
    if svc is not None:
        return Arguments(
            unit=svc.unit,
            unit_files=svc.files,
            delegate=svc.delegate,
            words=svc.words,
            problems=svc.problems,
        )
    if profile.name in (None, "kubeadm", "kubekey") and (
        facts.root.exists(KUBEADM_FLAGS) or facts.root.exists(KUBEADM_CONFIG)
    ):
        why = (
            "no kubelet unit file in this root; kubeadm's 10-kubeadm.conf passes "
            f"--config={KUBEADM_CONFIG}"
        )
        return Arguments(
            unit="kubelet.service",
            words=tuple(kubeadm_without_unit(facts)),
            assumed_config=Sourced(KUBEADM_CONFIG, Evidence("kubeadm", why)),
        )
    return Arguments()


def kubelet_arguments(facts: Facts, profile: Profile) -> Arguments:
    """The kubelet's arguments as the deployer ``profile`` passes them."""
    deployer = profile.deployer
    launcher = deployer.launcher if deployer is not None else None
    if launcher == SNAP_ARGS:
        args = _microk8s(facts)
    elif launcher == K3S_AGENT and deployer is not None:
        args = _k3s(facts, deployer)
    else:
        args = _systemd(facts, profile)
    if not args.words:
        proc = facts.get(processes).kubelet()
        if proc is not None and proc.comm == "kubelet":
            return replace(args, words=tuple(PlacedWord(w, proc.evidence) for w in proc.argv[1:]))
    return args
