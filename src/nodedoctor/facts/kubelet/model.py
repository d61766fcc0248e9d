"""The kubelet's settings that nodedoctor follows, and the records of its facts."""

from __future__ import annotations

from nodedoctor._record import field, record
from nodedoctor.facts import Sourced
from nodedoctor.facts.profile import Profile
from nodedoctor.facts.versions import Version
from nodedoctor.model import Evidence
from nodedoctor.parsers.kubelet import Flag, Flags, KubeletConfigFile

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
