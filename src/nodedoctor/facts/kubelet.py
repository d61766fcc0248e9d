"""The kubelet: whether it is installed, which unit runs it, where its configuration comes from,
and the settings it will really use, each with the file, line and text that set it.

How the settings are found
--------------------------
1. The deployer (``facts/profile.py``) says where to look.
2. The argument list is rebuilt as the kubelet receives it:

   * systemd units (kubeadm, KubeKey, Kubespray, kOps): the unit ``kubelet.service`` from the
     first of ``/etc/systemd/system``, ``/run/systemd/system``, ``/usr/local/lib/systemd/system``,
     ``/usr/lib/systemd/system``, ``/lib/systemd/system`` that has it, then its drop-ins
     (``kubelet.service.d/*.conf`` in all those directories, a name in an earlier directory hiding
     the same name in a later one, applied in name order). ``Environment=`` then
     ``EnvironmentFile=`` (which override it) give the variables; the last ``ExecStart=`` after
     the last reset is expanded as systemd does (``$VAR`` splits, ``${VAR}`` does not). Without
     a unit file, kubeadm's layout is assumed (``kubeadm-flags.env`` ``KUBELET_KUBEADM_ARGS`` then
     ``/etc/default/kubelet`` or ``/etc/sysconfig/kubelet`` ``KUBELET_EXTRA_ARGS``, config
     ``/var/lib/kubelet/config.yaml``) and said so in the evidence.
   * MicroK8s: ``/var/snap/microk8s/current/args/kubelet``, read as kubelite reads it.
   * k3s: the flags k3s itself passes (driver, runtime endpoint, ``--config-dir`` for the
     ``kubelet.conf.d`` drop-ins), then ``kubelet-arg`` from ``/etc/rancher/k3s/config.yaml``
     and its drop-ins ``config.yaml.d/*.yaml`` in name order (a later plain ``kubelet-arg``
     replaces the list, ``kubelet-arg+`` appends to it), unless the unit's ``ExecStart=`` has
     ``--kubelet-arg``: a repeatable argument on the command line replaces the config files'
     whole list (docs.k3s.io "Configuration File").
   * live, when nothing above names any flag: the running kubelet's ``/proc/<pid>/cmdline``.

3. ``--config`` names the ``KubeletConfiguration`` file, ``--config-dir`` its drop-ins (``*.conf``
   in name order; nested fields merge, lists are replaced: kubernetes.io "Kubelet Configuration
   Directory Merging"). Precedence, highest first: flags (the last occurrence wins; feature gates
   merge gate by gate), drop-ins (later files win), the config file, the deployer's own choice
   (k3s only), the kubelet's default for its version.

For the fix engine (interface)
------------------------------
``kubelet_facts(facts).setting("cgroupDriver")`` (or ``"cgroupsPerQOS"``,
``"enforceNodeAllocatable"``, ...) returns a :class:`Setting`:

* ``origin == "flag"``: ``evidence.source`` is the file holding the flag (an env file such as
  ``/var/lib/kubelet/kubeadm-flags.env``, a unit or drop-in, MicroK8s's ``args/kubelet``, k3s's
  ``config.yaml``), ``evidence.line`` the physical line and ``evidence.text`` its text;
  ``flag_text`` is the exact token as written there (``--cgroups-per-qos=false``), ``flag`` the
  flag's name (``cgroups-per-qos``). Removing or editing that token on that line changes it.
  ``origin == "deployer"`` (k3s's own choice) has no file: change it with a ``kubelet-arg``.
* ``origin == "config"`` / ``"config-dir"``: ``evidence.source`` is the YAML file, ``line`` the
  line of the key (``cgroupDriver: cgroupfs``).
* ``origin == "default"``: nothing sets it; ``evidence.text`` says which default and why.
  To change it, add the key to ``config_path`` (or, without a config file, a flag).

``kubelet_facts(facts).unit`` is the systemd unit to give a ``Delegate=yes`` drop-in to
(``kubelet.service``, ``snap.microk8s.daemon-kubelite.service``, ``k3s.service``,
``k3s-agent.service``); ``delegate`` is its current ``Delegate=`` (``None`` if unset or
unknown) and ``unit_files`` the unit and drop-ins read.

For the runtime rules: ``cgroup_driver``, ``runtime_endpoint``, ``version`` and
``driver_from_cri`` (is ``KubeletCgroupDriverFromCRI`` on: explicit gate, or by version:
alpha/off 1.28-1.30, beta/on 1.31-1.33, GA/locked on from 1.34; ``None`` below 1.28 or when the
version is unknown). When it is on and the runtime implements ``RuntimeConfig`` (containerd >= 2.0,
CRI-O >= 1.28), the runtime's driver overrides ``cgroupDriver`` (research kubelet-cgroups.md §2).
"""

from __future__ import annotations

from nodedoctor._record import field, record
from nodedoctor.facts import Facts, Sourced, file_evidence
from nodedoctor.facts.cgroups import cgroup_facts
from nodedoctor.facts.packages import packages
from nodedoctor.facts.processes import processes
from nodedoctor.facts.profile import Profile, deployer_profile
from nodedoctor.facts.versions import Version
from nodedoctor.model import Evidence
from nodedoctor.parsers.kubelet import (
    ArgWord,
    Flag,
    Flags,
    KubeletConfigFile,
    parse_bool,
    parse_feature_gates,
    parse_k3s_config,
    parse_kubelet_config,
    parse_kubelet_flags,
    parse_microk8s_args,
    split_list,
)
from nodedoctor.parsers.systemd_unit import (
    EnvAssignment,
    PlacedAssignment,
    UnitFile,
    expand_exec,
    merge_service,
    parse_environment_file,
    parse_unit_file,
)

UNIT_DIRS = (
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
)

MICROK8S_ARGS = "/var/snap/microk8s/current/args/kubelet"
MICROK8S_UNIT = "snap.microk8s.daemon-kubelite.service"
K3S_CONFIG = "/etc/rancher/k3s/config.yaml"
K3S_CONFIG_DROPINS = "/etc/rancher/k3s/config.yaml.d"
K3S_CONFIG_DIR = "/var/lib/rancher/k3s/agent/etc/kubelet.conf.d"
K3S_SOCKET = "unix:///run/k3s/containerd/containerd.sock"
KUBEADM_FLAGS = "/var/lib/kubelet/kubeadm-flags.env"
KUBEADM_CONFIG = "/var/lib/kubelet/config.yaml"
KUBEADM_EXTRA = ("/etc/default/kubelet", "/etc/sysconfig/kubelet")

#: MicroK8s' args files use snap variables; kubelite expands them from its environment.
_SNAP_ENV = {
    "SNAP": "/snap/microk8s/current",
    "SNAP_DATA": "/var/snap/microk8s/current",
    "SNAP_COMMON": "/var/snap/microk8s/common",
}

#: Setting -> (flag name, kind). Kinds: str, bool, list.
SETTINGS: dict[str, tuple[str | None, str]] = {
    "cgroupDriver": ("cgroup-driver", "str"),
    "cgroupsPerQOS": ("cgroups-per-qos", "bool"),
    "cgroupRoot": ("cgroup-root", "str"),
    "enforceNodeAllocatable": ("enforce-node-allocatable", "list"),
    "systemReservedCgroup": ("system-reserved-cgroup", "str"),
    "kubeReservedCgroup": ("kube-reserved-cgroup", "str"),
    "failCgroupV1": ("fail-cgroupv1", "bool"),
    "failSwapOn": ("fail-swap-on", "bool"),
    "memorySwap.swapBehavior": (None, "str"),
    "containerRuntimeEndpoint": ("container-runtime-endpoint", "str"),
}

DRIVER_FROM_CRI_GATE = "KubeletCgroupDriverFromCRI"

#: String settings whose empty value the kubelet's defaulting replaces (SetDefaults_...).
_EMPTY_IS_UNSET = frozenset({"cgroupDriver", "containerRuntimeEndpoint"})


@record
class Setting:
    """One effective kubelet setting and what decided it."""

    name: str
    #: ``None`` when the value written there is not one the kubelet accepts.
    value: object
    evidence: Evidence
    #: "flag", "config-dir", "config", "deployer" or "default".
    origin: str
    flag: str | None = None
    flag_text: str | None = None

    @property
    def is_default(self) -> bool:
        return self.origin == "default"


@record
class PlacedWord:
    """One word of the kubelet's argument list and the file line it came from."""

    word: str
    evidence: Evidence


@record
class KubeletFacts:
    #: ``True``: some trace of a kubelet; ``False``: none in this root.
    installed: bool
    profile: Profile
    #: The systemd unit that runs the kubelet.
    unit: str | None
    unit_files: tuple[str, ...]
    delegate: Sourced[str] | None
    words: tuple[PlacedWord, ...]
    flags: Flags
    config_path: Sourced[str] | None
    config: KubeletConfigFile | None
    config_dir: Sourced[str] | None
    drop_ins: tuple[tuple[str, KubeletConfigFile], ...]
    version: Sourced[Version] | None
    settings: dict[str, Setting]
    feature_gates: dict[str, Setting]
    #: Why the settings cannot be trusted (a config file named but missing or unparsable ...).
    problems: tuple[str, ...] = field(default=())
    #: Config files named but not written yet (kubeadm writes config.yaml at init/join): the
    #: kubelet restarts until they appear; its settings are then the flags and the defaults.
    pending: tuple[str, ...] = field(default=())

    @property
    def configured(self) -> bool:
        """Some configuration was found (flags or a config file) and all of it could be read."""
        return (
            bool(self.words or self.config is not None) and not self.problems and not self.pending
        )

    @property
    def readable(self) -> bool:
        """Nothing found is unreadable; settings are known, possibly only flags and defaults
        (a node before ``kubeadm init``/``join``)."""
        return not self.problems

    def setting(self, name: str) -> Setting | None:
        return self.settings.get(name)

    def value(self, name: str) -> object:
        s = self.settings.get(name)
        return None if s is None else s.value

    @property
    def cgroup_driver(self) -> Setting | None:
        return self.settings.get("cgroupDriver")

    @property
    def runtime_endpoint(self) -> Setting | None:
        return self.settings.get("containerRuntimeEndpoint")

    @property
    def driver_from_cri(self) -> Setting | None:
        return self.feature_gates.get(DRIVER_FROM_CRI_GATE)

    @property
    def config_source(self) -> str | None:
        """The file the summary names: the config file, else the file holding the flags."""
        if self.config_path is not None:
            return self.config_path.value
        return self.words[0].evidence.source if self.words else None

    def flag_evidence(self, flag: Flag) -> Evidence:
        return (
            self.words[flag.index].evidence
            if flag.index < len(self.words)
            else Evidence("kubelet flags", flag.text)
        )


# --------------------------------------------------------------------------------------
# Units


@record
class _Service:
    unit: str
    files: tuple[str, ...]
    words: tuple[PlacedWord, ...]
    delegate: Sourced[str] | None
    problems: tuple[str, ...]


def _unit_files(facts: Facts, unit: str) -> list[tuple[str, UnitFile]]:
    out: list[tuple[str, UnitFile]] = []
    for directory in UNIT_DIRS:
        path = f"{directory}/{unit}"
        text = facts.read(path)
        if text is not None:
            out.append((path, parse_unit_file(text)))
            break
    dropins: dict[str, str] = {}
    for directory in UNIT_DIRS:
        for path in facts.root.glob(f"{directory}/{unit}.d", "*.conf"):
            dropins.setdefault(path.rsplit("/", 1)[1], path)
    for name in sorted(dropins):
        text = facts.read(dropins[name])
        if text is not None:
            out.append((dropins[name], parse_unit_file(text)))
    return out


def _locate(lines: list[str], first_line: int, needle: str) -> tuple[int, str]:
    for offset, text in enumerate(lines):
        if needle in text:
            return first_line + offset, text.strip()
    return first_line, lines[0].strip() if lines else needle


def _service(facts: Facts, unit: str) -> _Service | None:
    files = _unit_files(facts, unit)
    if not files:
        return None
    svc = merge_service(files)
    problems: list[str] = []
    # Environment= first; EnvironmentFile= overrides it (systemd.exec(5)).
    env: dict[str, str] = {}
    origin: dict[str, tuple[str, EnvAssignment | PlacedAssignment]] = {}
    for name, (value, placed) in svc.environment.items():
        env[name] = value
        origin[name] = (placed.path, placed)
    for path, optional, placed in svc.environment_files:
        parsed = facts.parse(path, parse_environment_file)
        if parsed is None:
            if facts.parse_failed(path):
                problems.append(f"{path} cannot be parsed")
            elif not optional:
                problems.append(
                    f"{path} is missing but {placed.path}:{placed.assignment.line} requires it "
                    "(no '-' prefix), so systemd will not start the unit"
                )
            continue
        for name, assignment in parsed.items():
            env[name] = assignment.value
            origin[name] = (path, assignment)
    words: list[PlacedWord] = []
    if svc.exec_start:
        if len(svc.exec_start) > 1:
            last = svc.exec_start[-1]
            problems.append(
                f"{last.path}:{last.assignment.line}: more than one ExecStart= without a reset; "
                "systemd refuses such a service"
            )
        placed_exec = svc.exec_start[-1]
        exec_lines = placed_exec.assignment.text.splitlines()
        for index, expanded in enumerate(expand_exec(placed_exec.assignment.value, env)):
            if index == 0:
                continue  # the executable
            if expanded.variable and expanded.variable in origin:
                path, where = origin[expanded.variable]
                if isinstance(where, EnvAssignment):
                    line, text = where.locate(expanded.word)
                else:
                    line, text = _locate(
                        where.assignment.text.splitlines(), where.assignment.line, expanded.word
                    )
                words.append(PlacedWord(expanded.word, file_evidence(path, text, line)))
            else:
                line, text = _locate(exec_lines, placed_exec.assignment.line, expanded.word)
                words.append(PlacedWord(expanded.word, file_evidence(placed_exec.path, text, line)))
    delegate = None
    if svc.delegate is not None:
        a = svc.delegate.assignment
        delegate = Sourced(a.value, file_evidence(svc.delegate.path, a.text, a.line))
    return _Service(unit, svc.files, tuple(words), delegate, tuple(problems))


def _kubeadm_without_unit(facts: Facts) -> list[PlacedWord]:
    """kubeadm's files without the unit that reads them (a partial bundle or image)."""
    words: list[PlacedWord] = []
    for path, variable in (
        (KUBEADM_FLAGS, "KUBELET_KUBEADM_ARGS"),
        *((p, "KUBELET_EXTRA_ARGS") for p in KUBEADM_EXTRA),
    ):
        parsed = facts.parse(path, parse_environment_file)
        if not parsed or variable not in parsed:
            continue
        assignment = parsed[variable]
        for word in assignment.value.split():
            line, text = assignment.locate(word)
            words.append(PlacedWord(word, file_evidence(path, text, line)))
        if path in KUBEADM_EXTRA:
            break
    return words


# --------------------------------------------------------------------------------------
# MicroK8s and k3s


def _expand_snap(word: str) -> str:
    for name, value in _SNAP_ENV.items():
        word = word.replace("${" + name + "}", value).replace("$" + name, value)
    return word


def _placed_args(path: str, args: list[ArgWord]) -> list[PlacedWord]:
    return [PlacedWord(_expand_snap(a.word), file_evidence(path, a.text, a.line)) for a in args]


def _k3s_words(facts: Facts, unit: str | None) -> list[PlacedWord]:
    words: list[PlacedWord] = []
    # k3s (pkg/daemons/agent/agent_linux.go, pkg/agent/containerd/config_linux.go) runs the
    # kubelet with the systemd driver when it runs as a systemd unit and cpuset is available.
    cg = facts.get(cgroup_facts)
    available = cg.available()
    cpuset = available.get("cpuset") if available else None
    if unit is not None and cpuset is not None:
        driver = "systemd" if cpuset[0] else "cgroupfs"
        why = (
            f"k3s runs as {unit} and the kernel gives cpuset"
            if cpuset[0]
            else "cpuset is not available"
        )
        words.append(
            PlacedWord(f"--cgroup-driver={driver}", Evidence("k3s", f"k3s chooses {driver}: {why}"))
        )
    words.append(
        PlacedWord(
            f"--container-runtime-endpoint={K3S_SOCKET}",
            Evidence("k3s", "k3s runs its own containerd at /run/k3s/containerd/containerd.sock"),
        )
    )
    if facts.root.is_dir(K3S_CONFIG_DIR):
        words.append(
            PlacedWord(
                f"--config-dir={K3S_CONFIG_DIR}",
                Evidence("k3s", f"k3s (v1.32+) passes --config-dir={K3S_CONFIG_DIR}"),
            )
        )
    return words


def _k3s_config_args(facts: Facts) -> list[PlacedWord]:
    """``kubelet-arg`` from ``config.yaml`` then ``config.yaml.d/*.yaml`` in name order: the
    last plain ``kubelet-arg`` replaces the list, ``kubelet-arg+`` appends to it."""
    args: list[PlacedWord] = []
    for path in (K3S_CONFIG, *facts.root.glob(K3S_CONFIG_DROPINS, "*.yaml")):
        config = facts.parse(path, parse_k3s_config)
        if config is None:
            continue
        placed = _placed_args(path, list(config.kubelet_args))
        args = placed if config.kubelet_args_replace else args + placed
    return args


def _k3s_exec_kubelet_args(k3s_words: tuple[PlacedWord, ...]) -> list[PlacedWord]:
    """``--kubelet-arg`` on k3s's own command line (the install script's ``INSTALL_K3S_EXEC``
    ends up in ``ExecStart=``). When there are any, they replace the config files' whole
    ``kubelet-arg`` list: k3s's command line takes precedence over its config files, and for a
    repeatable argument the command line's values overwrite the list (docs.k3s.io,
    "Configuration File").

    >>> ev = Evidence("/etc/systemd/system/k3s.service", "server --kubelet-arg=max-pods=200")
    >>> [w.word for w in _k3s_exec_kubelet_args((PlacedWord("server", ev),
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


def _k3s_unit(facts: Facts) -> str | None:
    for unit in ("k3s.service", "k3s-agent.service"):
        for directory in UNIT_DIRS:
            if facts.root.exists(f"{directory}/{unit}"):
                return unit
    return None


# --------------------------------------------------------------------------------------
# Settings


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


def _default(name: str, version: Version | None, profile: str | None) -> Setting | None:
    v = f"kubelet {version.release[0]}.{version.release[1]}" if version else "the kubelet"

    def make(value: object, why: str) -> Setting:
        return Setting(name, value, Evidence("default", why), "default")

    if name == "cgroupDriver":
        note = " (MicroK8s sets none)" if profile == "microk8s" else ""
        return make("cgroupfs", f"cgroupDriver is not set; {v} defaults to cgroupfs{note}")
    if name == "cgroupsPerQOS":
        return make(True, f"cgroupsPerQOS is not set; {v} defaults to true")
    if name == "cgroupRoot":
        return make("", f"cgroupRoot is not set; {v} uses / when cgroupsPerQOS is true")
    if name == "enforceNodeAllocatable":
        return make(["pods"], f"enforceNodeAllocatable is not set; {v} defaults to [pods]")
    if name in ("systemReservedCgroup", "kubeReservedCgroup"):
        return make("", f"{name} is not set (empty by default)")
    if name == "failSwapOn":
        return make(True, f"failSwapOn is not set; {v} defaults to true")
    if name == "memorySwap.swapBehavior":
        return make("", f"memorySwap.swapBehavior is not set; {v} uses NoSwap")
    if name == "failCgroupV1":
        if version is None:
            return None  # false on 1.31-1.34, true from 1.35: unknown without the version
        if version >= (1, 35):
            return make(True, f"failCgroupV1 is not set; {v} defaults to true (KEP-5573)")
        if version >= (1, 31):
            return make(False, f"failCgroupV1 is not set; {v} defaults to false")
        return make(False, f"{v} predates failCgroupV1 (added in 1.31) and runs on cgroup v1")
    if name == "containerRuntimeEndpoint":
        if version is not None and version < (1, 24):
            return None  # dockershim era: no single default endpoint
        return make(
            "unix:///run/containerd/containerd.sock",
            f"containerRuntimeEndpoint is not set; {v} defaults to "
            "unix:///run/containerd/containerd.sock",
        )
    return None


def _gate_default(version: Version | None) -> Setting | None:
    """``KubeletCgroupDriverFromCRI`` by version (k/k pkg/features/kube_features.go)."""
    if version is None or version < (1, 28):
        return None
    v = f"kubelet {version.release[0]}.{version.release[1]}"
    if version >= (1, 34):
        value, why = True, f"{DRIVER_FROM_CRI_GATE} is GA and locked on in {v}"
    elif version >= (1, 31):
        value, why = True, f"{DRIVER_FROM_CRI_GATE} is beta and on by default in {v}"
    else:
        value, why = False, f"{DRIVER_FROM_CRI_GATE} is alpha and off by default in {v}"
    return Setting(DRIVER_FROM_CRI_GATE, value, Evidence("default", why), "default")


def _version(facts: Facts, profile: str | None) -> Sourced[Version] | None:
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
    return None


def _config_file(
    facts: Facts, path: str, problems: list[str], pending: list[str], why: str
) -> KubeletConfigFile | None:
    parsed = facts.parse(path, parse_kubelet_config)
    if parsed is None:
        if facts.parse_failed(path):
            problems.append(f"{path} cannot be parsed")
        else:
            pending.append(f"{path} ({why}) does not exist; the kubelet cannot start without it")
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
    problems: list[str] = []
    pending: list[str] = []
    unit: str | None = None
    unit_files: tuple[str, ...] = ()
    delegate: Sourced[str] | None = None
    words: list[PlacedWord] = []
    assumed_config: tuple[str, str] | None = None

    if profile.name == "microk8s":
        unit = MICROK8S_UNIT
        text = facts.read(MICROK8S_ARGS)
        if text is not None:
            words = _placed_args(MICROK8S_ARGS, parse_microk8s_args(text))
        svc = _service(facts, unit)
        if svc is not None:
            unit_files, delegate = svc.files, svc.delegate
    elif profile.name == "k3s":
        unit = _k3s_unit(facts)
        words = _k3s_words(facts, unit)
        exec_args: list[PlacedWord] = []
        if unit is not None:
            svc = _service(facts, unit)
            if svc is not None:
                unit_files, delegate = svc.files, svc.delegate
                exec_args = _k3s_exec_kubelet_args(svc.words)
        # The command line's --kubelet-arg replaces the config files' list, not adds to it.
        words.extend(exec_args or _k3s_config_args(facts))
    else:
        svc = _service(facts, "kubelet.service")
        if svc is not None:
            unit, unit_files, delegate = svc.unit, svc.files, svc.delegate
            words = list(svc.words)
            problems.extend(svc.problems)
        elif profile.name in (None, "kubeadm", "kubekey") and (
            facts.root.exists(KUBEADM_FLAGS) or facts.root.exists(KUBEADM_CONFIG)
        ):
            unit = "kubelet.service"
            words = _kubeadm_without_unit(facts)
            assumed_config = (
                KUBEADM_CONFIG,
                "no kubelet unit file in this root; kubeadm's 10-kubeadm.conf passes "
                f"--config={KUBEADM_CONFIG}",
            )
    if not words and facts.running:
        proc = facts.get(processes).kubelet()
        if proc is not None and proc.comm == "kubelet":
            words = [PlacedWord(w, proc.evidence) for w in proc.argv[1:]]

    flags = parse_kubelet_flags([w.word for w in words])
    placed = tuple(words)

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
            facts, config_flag.value, problems, pending, f"named by {config_flag.text}"
        )
    elif assumed_config is not None and facts.root.exists(assumed_config[0]):
        config_path = Sourced(assumed_config[0], Evidence("kubeadm", assumed_config[1]))
        config = _config_file(facts, assumed_config[0], problems, pending, "kubeadm's config file")

    config_dir: Sourced[str] | None = None
    drop_ins: list[tuple[str, KubeletConfigFile]] = []
    dir_flag = flags.last("config-dir")
    if dir_flag is not None and dir_flag.value:
        config_dir = Sourced(dir_flag.value, flag_ev(dir_flag))
        for path in facts.root.glob(dir_flag.value, "*.conf"):
            parsed = facts.parse(path, parse_kubelet_config)
            if parsed is None:
                problems.append(f"{path} cannot be parsed")
            else:
                drop_ins.append((path, parsed))

    version = _version(facts, profile.name)
    ver = version.value if version else None

    settings: dict[str, Setting] = {}
    for name, (flag_name, kind) in SETTINGS.items():
        chosen: Setting | None = None
        flag = flags.last(flag_name) if flag_name else None
        if flag is not None:
            ev = flag_ev(flag)
            origin = "deployer" if ev.source == "k3s" else "flag"
            chosen = Setting(
                name, _convert_flag(kind, flag.value), ev, origin, flag.name, written(flag)
            )
        if chosen is None:
            for path, dropin in reversed(drop_ins):
                entry = dropin.get(name)
                if entry is not None and not (name in _EMPTY_IS_UNSET and entry.value == ""):
                    chosen = Setting(
                        name,
                        _convert(kind, entry.value),
                        file_evidence(path, entry.text, entry.line),
                        "config-dir",
                    )
                    break
        if chosen is None and config is not None and config_path is not None:
            entry = config.get(name)
            # kubeadm writes `containerRuntimeEndpoint: ""`; the kubelet defaults empty strings.
            if entry is not None and not (name in _EMPTY_IS_UNSET and entry.value == ""):
                chosen = Setting(
                    name,
                    _convert(kind, entry.value),
                    file_evidence(config_path.value, entry.text, entry.line),
                    "config",
                )
        if chosen is None:
            chosen = _default(name, ver, profile.name)
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
                gate,
                entry.value if isinstance(entry.value, bool) else None,
                file_evidence(path, entry.text, entry.line),
                "config" if cfg is config else "config-dir",
            )
    for flag in flags.flags:
        if flag.name == "feature-gates":
            for gate, value in parse_feature_gates(flag.value).items():
                gates[gate] = Setting(gate, value, flag_ev(flag), "flag", flag.name, written(flag))
    if DRIVER_FROM_CRI_GATE in gates and ver is not None and ver >= (1, 34):
        # GA and locked: setting it false is refused, true is a no-op.
        gates[DRIVER_FROM_CRI_GATE] = Setting(
            DRIVER_FROM_CRI_GATE,
            True,
            gates[DRIVER_FROM_CRI_GATE].evidence,
            gates[DRIVER_FROM_CRI_GATE].origin,
        )
    if DRIVER_FROM_CRI_GATE not in gates:
        gate_default = _gate_default(ver)
        if gate_default is not None:
            gates[DRIVER_FROM_CRI_GATE] = gate_default

    pk = facts.get(packages)
    running = facts.get(processes).kubelet() if facts.running else None
    installed = bool(
        unit_files
        or placed
        or config is not None
        or pk.get("kubelet") is not None
        or pk.has_snap("microk8s")
        or (profile.name == "k3s" and unit is not None)
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
