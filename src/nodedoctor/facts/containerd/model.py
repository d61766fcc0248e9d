"""containerd's plugin and table names by config version, and the records of its facts."""

from __future__ import annotations

from typing import Any

from nodedoctor._record import field, record
from nodedoctor.facts import Sourced, file_evidence
from nodedoctor.facts.versions import Version
from nodedoctor.model import Evidence, Severity
from nodedoctor.parsers.containerd import ContainerdConfigFile, Path

CRI_V1 = "cri"
CRI_V2 = "io.containerd.grpc.v1.cri"
CRI_V3 = "io.containerd.cri.v1.runtime"
CRI_NAMES = (CRI_V1, CRI_V2)
RUNC_TYPES = ("io.containerd.runc.v2", "io.containerd.runc.v1")
LEGACY_RUNTIME = "io.containerd.runtime.v1.linux"


def cri_plugin(file_version: int) -> str:
    """The CRI runtime plugin's table name in a file of this config version."""
    return {1: CRI_V1, 2: CRI_V2}.get(file_version, CRI_V3)


def options_table(file_version: int, handler: str) -> Path:
    """Where ``SystemdCgroup`` of ``handler`` lives in a file of this config version.

    >>> options_table(2, "runc")
    ('plugins', 'io.containerd.grpc.v1.cri', 'containerd', 'runtimes', 'runc', 'options')
    """
    return ("plugins", cri_plugin(file_version), "containerd", "runtimes", handler, "options")


def version_text(version: Version | None, unknown: str) -> str:
    """``containerd 1.7.27`` for a known version, else ``unknown``."""
    if version is None:
        return unknown
    return f"containerd {version.release[0]}.{version.release[1]}.{version.release[2]}"


@record
class Leaf:
    """A value in the merged configuration and the file and key path that set it."""

    value: Any
    file: str
    path: Path


@record
class LoadedFile:
    path: str
    config: ContainerdConfigFile
    imported_by: str | None

    @property
    def file_version(self) -> int:
        return self.config.version or 1


def evidence_at(files: list[LoadedFile], file: str, path: Path, fallback: str) -> Evidence:
    """The line of ``file`` that sets ``path``; ``fallback`` as the text when none does."""
    for f in files:
        if f.path == file:
            where = f.config.locate(path)
            if where is not None:
                return file_evidence(file, where.text, where.line)
    return Evidence(file, fallback)


@record
class RuncHandler:
    name: str
    runtime_type: str
    systemd_cgroup: bool
    evidence: Evidence
    #: The file to edit (see the package docstring) and the table, in its version.
    file: str
    table: Path
    file_version: int
    present: bool

    @property
    def driver(self) -> str:
        return "systemd" if self.systemd_cgroup else "cgroupfs"


@record
class ConfigProblem:
    """Something containerd will ignore or refuse (``containerd-config-ignored``)."""

    severity: Severity
    title: str
    message: str
    evidence: tuple[Evidence, ...]
    fix: str
    files: tuple[str, ...] = ()


@record
class CriState:
    """Why CRI will not serve: disabled, or failing to load."""

    reason: str
    evidence: tuple[Evidence, ...]
    fix: str
    file: str


@record
class ContainerdFacts:
    #: Some trace of containerd (a package, a config file, a deployer that bundles it).
    present: bool
    layout: str  # "standard", "microk8s" or "k3s"
    #: The file the fix edits first (the top config or the deployer's template).
    config_path: str | None
    version: Sourced[Version] | None
    #: The major version whose semantics were applied (None: both agreed, or nothing to tell).
    semantics: int | None
    semantics_note: str
    config_version: int | None
    files: tuple[LoadedFile, ...]
    default_runtime: str | None
    handlers: dict[str, RuncHandler]
    #: The driver the default handler gives pods, with its evidence.
    cgroup_driver: Sourced[str] | None
    #: What RuntimeConfig answers the kubelet (2.x), or None.
    reported_driver: Sourced[str] | None
    cri: CriState | None
    problems: tuple[ConfigProblem, ...]
    endpoint: str
    #: Why the driver cannot be told, when it cannot.
    unknown: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def default_handler(self) -> RuncHandler | None:
        if self.default_runtime is None:
            return None
        return self.handlers.get(self.default_runtime)

    @property
    def implements_runtime_config(self) -> bool | None:
        """containerd >= 2.0 answers RuntimeConfig; ``None`` when the version is unknown."""
        major = self.major
        return None if major is None else major >= 2

    @property
    def major(self) -> int | None:
        if self.version is not None:
            return self.version.value.release[0]
        return self.semantics
