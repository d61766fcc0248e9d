"""The kubelet's argument list on MicroK8s (``args/kubelet``, read as kubelite reads it) and on
k3s and RKE2 (the flags k3s's agent code itself passes, then ``kubelet-arg`` from the
deployer's config files or its own command line; docs.k3s.io "Configuration File"). The paths
and the flags passed are the deployer models' (facts/deployers.py)."""

from __future__ import annotations

from nodedoctor.facts import Facts, file_evidence
from nodedoctor.facts.cgroups import cgroup_facts
from nodedoctor.facts.deployers import K3S, MICROK8S, Deployer
from nodedoctor.facts.kubelet.model import PlacedWord
from nodedoctor.facts.kubelet.units import UNIT_DIRS
from nodedoctor.model import Evidence
from nodedoctor.parsers.kubelet import ArgWord, parse_k3s_config

MICROK8S_ARGS = MICROK8S.kubelet_flags[0]
MICROK8S_UNIT = MICROK8S.kubelet_units[0]
K3S_CONFIG = K3S.agent_config
K3S_CONFIG_DROPINS = f"{K3S_CONFIG}.d"
K3S_CONFIG_DIR = K3S.kubelet_config_dir
K3S_SOCKET = K3S.containerd_socket

#: MicroK8s' args files use snap variables; kubelite expands them from its environment.
_SNAP_ENV = {
    "SNAP": "/snap/microk8s/current",
    "SNAP_DATA": "/var/snap/microk8s/current",
    "SNAP_COMMON": "/var/snap/microk8s/common",
}


def _expand_snap(word: str) -> str:
    for name, value in _SNAP_ENV.items():
        word = word.replace("${" + name + "}", value).replace("$" + name, value)
    return word


def placed_args(path: str, args: list[ArgWord]) -> list[PlacedWord]:
    return [PlacedWord(_expand_snap(a.word), file_evidence(path, a.text, a.line)) for a in args]


def k3s_words(facts: Facts, unit: str | None, deployer: Deployer = K3S) -> list[PlacedWord]:
    """The flags k3s's agent code passes to the kubelet on a k3s or RKE2 node, each with the
    deployer's name as its evidence source."""
    words: list[PlacedWord] = []
    name, title = deployer.name, deployer.title
    # k3s (pkg/daemons/agent/agent_linux.go, pkg/agent/containerd/config_linux.go) runs the
    # kubelet with the systemd driver when it runs as a systemd unit and cpuset is available.
    cg = facts.get(cgroup_facts)
    available = cg.available()
    cpuset = available.get("cpuset") if available else None
    if unit is not None and cpuset is not None:
        driver = "systemd" if cpuset[0] else "cgroupfs"
        why = (
            f"{title} runs as {unit} and the kernel gives cpuset"
            if cpuset[0]
            else "cpuset is not available"
        )
        words.append(
            PlacedWord(
                f"--cgroup-driver={driver}", Evidence(name, f"{title} chooses {driver}: {why}")
            )
        )
    socket = deployer.containerd_socket
    words.append(
        PlacedWord(
            f"--container-runtime-endpoint={socket}",
            Evidence(name, f"{title} runs its own containerd at {socket.split('://', 1)[-1]}"),
        )
    )
    config_dir = deployer.kubelet_config_dir
    if config_dir and facts.root.is_dir(config_dir):
        words.append(
            PlacedWord(
                f"--config-dir={config_dir}",
                Evidence(name, f"{title} (v1.32+) passes --config-dir={config_dir}"),
            )
        )
    words.extend(PlacedWord(d.flag, Evidence(name, d.why)) for d in deployer.kubelet_defaults)
    return words


def k3s_config_args(facts: Facts, deployer: Deployer = K3S) -> list[PlacedWord]:
    """``kubelet-arg`` from ``config.yaml`` then ``config.yaml.d/*.yaml`` in name order: the
    last plain ``kubelet-arg`` replaces the list, ``kubelet-arg+`` appends to it."""
    args: list[PlacedWord] = []
    config = deployer.agent_config
    if not config:
        return args
    for path in (config, *facts.drop_ins(f"{config}.d", "*.yaml")):
        parsed = facts.parse(path, parse_k3s_config)
        if parsed is None:
            continue
        placed = placed_args(path, list(parsed.kubelet_args))
        args = placed if parsed.kubelet_args_replace else args + placed
    return args


def k3s_exec_kubelet_args(k3s_words: tuple[PlacedWord, ...]) -> list[PlacedWord]:
    """``--kubelet-arg`` on k3s's own command line (the install script's ``INSTALL_K3S_EXEC``
    ends up in ``ExecStart=``). When there are any, they replace the config files' whole
    ``kubelet-arg`` list: k3s's command line takes precedence over its config files, and for a
    repeatable argument the command line's values overwrite the list (docs.k3s.io,
    "Configuration File").

    >>> ev = Evidence("/etc/systemd/system/k3s.service", "server --kubelet-arg=max-pods=200")
    >>> [w.word for w in k3s_exec_kubelet_args((PlacedWord("server", ev),
    ...     PlacedWord("--kubelet-arg=max-pods=200", ev), PlacedWord("--kubelet-arg", ev),
    ...     PlacedWord("--cgroup-driver=cgroupfs", ev)))]
    ['--max-pods=200', '--cgroup-driver=cgroupfs']
    """
    out: list[PlacedWord] = []
    i = 0
    while i < len(k3s_words):
        word = k3s_words[i].word
        value: str | None = None
        if word.startswith("--kubelet-arg="):
            value = word.split("=", 1)[1]
        elif word == "--kubelet-arg" and i + 1 < len(k3s_words):
            i += 1
            value = k3s_words[i].word
        if value:
            text = value if value.startswith("-") else "--" + value
            out.append(PlacedWord(text, k3s_words[i].evidence))
        i += 1
    return out


def k3s_unit(facts: Facts, deployer: Deployer = K3S) -> str | None:
    """The deployer's unit that runs the kubelet (``k3s.service``, ``rke2-agent.service`` ...)."""
    for unit in deployer.kubelet_units:
        for directory in UNIT_DIRS:
            if facts.root.exists(f"{directory}/{unit}"):
                return unit
    return None
