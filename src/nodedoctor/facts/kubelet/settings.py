"""The settings the kubelet will really use: flags (the last occurrence wins; feature gates
merge gate by gate), then ``--config-dir`` drop-ins (later files win; nested fields merge,
lists are replaced), then the ``--config`` file, then the deployer's own choice (k3s), then
the kubelet's default for its version."""

from __future__ import annotations

from nodedoctor.facts import Facts, Sourced, file_evidence
from nodedoctor.facts.deployers import BY_NAME, K3S_AGENT
from nodedoctor.facts.kubelet.arguments import kubelet_arguments
from nodedoctor.facts.kubelet.defaults import default_setting, gate_default
from nodedoctor.facts.kubelet.model import (
    DRIVER_FROM_CRI_GATE,
    SETTINGS,
    KubeletFacts,
    Setting,
)
from nodedoctor.facts.packages import packages
from nodedoctor.facts.processes import processes
from nodedoctor.facts.profile import deployer_profile
from nodedoctor.facts.versions import Version
from nodedoctor.i18n import _
from nodedoctor.model import Evidence
from nodedoctor.parsers.kubeadm import parse_kubeadm_config
from nodedoctor.parsers.kubelet import (
    Flag,
    KubeletConfigFile,
    parse_bool,
    parse_feature_gates,
    parse_kubelet_config,
    parse_kubelet_flags,
    split_list,
)

#: String settings whose empty value the kubelet's defaulting replaces (SetDefaults_...).
_EMPTY_IS_UNSET = frozenset({"cgroupDriver", "containerRuntimeEndpoint"})


def _convert(kind: str, raw: object) -> object:
    """A config-file value as the kubelet would take it, ``None`` if it would refuse it."""
    if kind == "bool":
        return raw if isinstance(raw, bool) else None
    if kind == "list":
        if isinstance(raw, list) and all(isinstance(x, str) for x in raw):
            return list(raw)
        return None
    return raw if isinstance(raw, str) else None


def _convert_flag(kind: str, raw: str) -> object:
    if kind == "bool":
        return parse_bool(raw)
    if kind == "list":
        return split_list(raw)
    return raw


#: kubeadm's configuration as KubeKey keeps it (kubesphere/kubekey, ``kubeadm init --config``).
KUBEADM_CONFIG = "/etc/kubernetes/kubeadm-config.yaml"


def _version(facts: Facts, profile: str | None) -> Sourced[Version] | None:
    """The kubelet's version: its package (or snap), else, on a kubeadm-made node, the
    cluster's ``kubernetesVersion`` in kubeadm's config (weaker: a kubelet may lag the control
    plane; KubeKey installs bare binaries, which no package database knows)."""
    pk = facts.get(packages)
    candidates = []
    if profile == "microk8s":
        candidates.append(pk.snaps.get("microk8s"))
    if profile == "k3s":
        candidates.append(pk.get("k3s"))
    candidates.append(pk.get("kubelet"))
    for item in candidates:
        if item is not None and item.version is not None:
            return Sourced(item.version, item.evidence)
    if profile in ("microk8s", "k3s"):
        return None
    cluster = facts.parse(KUBEADM_CONFIG, parse_kubeadm_config)
    if cluster is None or cluster.kubernetes_version is None or cluster.text is None:
        return None
    version = Version.parse(cluster.kubernetes_version)
    if version is None:
        return None
    return Sourced(version, file_evidence(KUBEADM_CONFIG, cluster.text, cluster.line))


def _config_file(
    facts: Facts, path: str, problems: list[str], pending: list[str], why: str
) -> KubeletConfigFile | None:
    parsed = facts.parse(path, parse_kubelet_config)
    if parsed is None:
        if facts.parse_failed(path):
            problems.append(_("{path} cannot be parsed").format(path=path))
        else:
            pending.append(
                _("{path} ({why}) does not exist; the kubelet cannot start without it").format(
                    path=path, why=why
                )
            )
    return parsed


def _as_written(flag: Flag, line: str) -> str:
    """The flag as written on its line (``--enforce-node-allocatable=""`` rather than the
    unquoted word the kubelet receives), for an editor that must find it there.

    >>> f = Flag("enforce-node-allocatable", "", 0, 1, "--enforce-node-allocatable=")
    >>> _as_written(f, '--enforce-node-allocatable=""')
    '--enforce-node-allocatable=""'
    >>> _as_written(f, 'KUBELET_EXTRA_ARGS="--v=2 --enforce-node-allocatable="')
    '--enforce-node-allocatable='
    """
    if flag.end - flag.index != 1:
        return flag.text
    for token in line.split():
        if token == flag.text:
            return token
        balanced = token.count('"') % 2 == 0 and token.count("'") % 2 == 0
        if balanced and token.replace('"', "").replace("'", "") == flag.text:
            return token
    return flag.text


def kubelet_facts(facts: Facts) -> KubeletFacts:
    profile = facts.get(deployer_profile)
    args = kubelet_arguments(facts, profile)
    unit, unit_files, delegate = args.unit, args.unit_files, args.delegate
    problems: list[str] = list(args.problems)
    pending: list[str] = []
    placed = args.words
    flags = parse_kubelet_flags([w.word for w in placed])

    def flag_ev(flag: Flag) -> Evidence:
        return placed[flag.index].evidence

    def written(flag: Flag) -> str:
        return _as_written(flag, placed[flag.index].evidence.text)

    config_path: Sourced[str] | None = None
    config: KubeletConfigFile | None = None
    config_flag = flags.last("config")
    if config_flag is not None and config_flag.value:
        config_path = Sourced(config_flag.value, flag_ev(config_flag))
        config = _config_file(
            facts,
            config_flag.value,
            problems,
            pending,
            _("named by {flag}").format(flag=config_flag.text),
        )
    elif args.assumed_config is not None and facts.root.exists(args.assumed_config.value):
        config_path = args.assumed_config
        config = _config_file(
            facts, config_path.value, problems, pending, _("kubeadm's config file")
        )

    config_dir: Sourced[str] | None = None
    drop_ins: list[tuple[str, KubeletConfigFile]] = []
    dir_flag = flags.last("config-dir")
    if dir_flag is not None and dir_flag.value:
        config_dir = Sourced(dir_flag.value, flag_ev(dir_flag))
        for path in facts.drop_ins(dir_flag.value, "*.conf"):
            parsed = facts.parse(path, parse_kubelet_config)
            if parsed is None:
                problems.append(_("{path} cannot be parsed").format(path=path))
            else:
                drop_ins.append((path, parsed))
        if facts.parse_failed(dir_flag.value):
            problems.append(_("{path} cannot be read").format(path=dir_flag.value))

    version = _version(facts, profile.name)
    ver = version.value if version else None

    settings: dict[str, Setting] = {}
    for name, (flag_name, kind) in SETTINGS.items():
        chosen: Setting | None = None
        flag = flags.last(flag_name) if flag_name else None
        if flag is not None:
            ev = flag_ev(flag)
            # A flag the deployer passes itself: its evidence names the deployer, not a file.
            origin = "deployer" if ev.source in BY_NAME else "flag"
            chosen = Setting(
                name=name,
                value=_convert_flag(kind, flag.value),
                evidence=ev,
                origin=origin,
                flag=flag.name,
                flag_text=written(flag),
            )
        if chosen is None:
            for path, dropin in reversed(drop_ins):
                entry = dropin.get(name)
                if entry is not None and not (name in _EMPTY_IS_UNSET and entry.value == ""):
                    chosen = Setting(
                        name=name,
                        value=_convert(kind, entry.value),
                        evidence=file_evidence(path, entry.text, entry.line),
                        origin="config-dir",
                    )
                    break
        if chosen is None and config is not None and config_path is not None:
            entry = config.get(name)
            # kubeadm writes `containerRuntimeEndpoint: ""`; the kubelet defaults empty strings.
            if entry is not None and not (name in _EMPTY_IS_UNSET and entry.value == ""):
                chosen = Setting(
                    name=name,
                    value=_convert(kind, entry.value),
                    evidence=file_evidence(config_path.value, entry.text, entry.line),
                    origin="config",
                )
        if chosen is None:
            chosen = default_setting(name, ver, profile.name)
        if chosen is not None:
            settings[name] = chosen

    gates: dict[str, Setting] = {}
    sources: list[tuple[str, KubeletConfigFile]] = []
    if config is not None and config_path is not None:
        sources.append((config_path.value, config))
    sources.extend(drop_ins)
    for path, cfg in sources:
        for gate, entry in cfg.children("featureGates").items():
            gates[gate] = Setting(
                name=gate,
                value=entry.value if isinstance(entry.value, bool) else None,
                evidence=file_evidence(path, entry.text, entry.line),
                origin="config" if cfg is config else "config-dir",
            )
    for flag in flags.flags:
        if flag.name == "feature-gates":
            for gate, value in parse_feature_gates(flag.value).items():
                gates[gate] = Setting(
                    name=gate,
                    value=value,
                    evidence=flag_ev(flag),
                    origin="flag",
                    flag=flag.name,
                    flag_text=written(flag),
                )
    if DRIVER_FROM_CRI_GATE in gates and ver is not None and ver >= (1, 34):
        # GA and locked: setting it false is refused, true is a no-op.
        gates[DRIVER_FROM_CRI_GATE] = Setting(
            name=DRIVER_FROM_CRI_GATE,
            value=True,
            evidence=gates[DRIVER_FROM_CRI_GATE].evidence,
            origin=gates[DRIVER_FROM_CRI_GATE].origin,
        )
    if DRIVER_FROM_CRI_GATE not in gates:
        by_version = gate_default(ver)
        if by_version is not None:
            gates[DRIVER_FROM_CRI_GATE] = by_version

    pk = facts.get(packages)
    running = facts.get(processes).kubelet()
    deployer = profile.deployer
    installed = bool(
        unit_files
        # The flags a deployer passes itself (k3s's) say nothing of an installed kubelet.
        or any(w.evidence.source not in BY_NAME for w in placed)
        or config is not None
        or pk.get("kubelet") is not None
        or pk.has_snap("microk8s")
        # k3s and RKE2 run the kubelet from their own unit.
        or (deployer is not None and deployer.launcher == K3S_AGENT and unit is not None)
        or running is not None
    )
    return KubeletFacts(
        installed=installed,
        profile=profile,
        unit=unit if installed else None,
        unit_files=unit_files,
        delegate=delegate,
        words=placed,
        flags=flags,
        config_path=config_path,
        config=config,
        config_dir=config_dir,
        drop_ins=tuple(drop_ins),
        version=version,
        settings=settings,
        feature_gates=gates,
        problems=tuple(problems),
        pending=tuple(pending),
    )


def kubelet_summary(facts: Facts) -> dict[str, object]:
    """The report's ``node.kubelet`` block; ``None`` for what is unknown."""
    k = facts.get(kubelet_facts)
    if not k.installed:
        return {"installed": False, "version": None, "cgroup_driver": None, "config": None}
    driver = k.cgroup_driver
    return {
        "installed": True,
        "version": str(k.version.value) if k.version else None,
        "cgroup_driver": driver.value if driver is not None else None,
        "config": k.config_source,
        "deployer": k.profile.name,
        "unit": k.unit,
    }
