"""The runc handlers of a merged configuration, each with its effective ``SystemdCgroup`` and
the file and table a fix edits; whether CRI serves at all; what RuntimeConfig answers (2.x).
RuntimeConfig asks the default handler first, then the others by name; the first runc handler
decides (research runtimes.md §1)."""

from __future__ import annotations

from nodedoctor._record import record
from nodedoctor.facts import Sourced
from nodedoctor.facts.containerd.diagnostics import misplaced_keys
from nodedoctor.facts.containerd.merging import (
    MergedConfig,
    get_node,
    leaf_value,
    merge_1x,
    merge_2x,
)
from nodedoctor.facts.containerd.model import (
    CRI_V1,
    CRI_V2,
    LEGACY_RUNTIME,
    RUNC_TYPES,
    ConfigProblem,
    CriState,
    Leaf,
    LoadedFile,
    RuncHandler,
    evidence_at,
    options_table,
    version_text,
)
from nodedoctor.facts.versions import Version
from nodedoctor.i18n import _
from nodedoctor.model import Evidence, Severity
from nodedoctor.parsers.containerd import MISSING, ContainerdConfigFile, Path


@record
class Evaluation:
    """The configuration as one major version of containerd reads it."""

    default_name: str
    handlers: dict[str, RuncHandler]
    #: What RuntimeConfig answers the kubelet (2.x), or None.
    reported: Sourced[str] | None
    cri: CriState | None
    problems: tuple[ConfigProblem, ...]
    config_version: int

    def outcome(self) -> tuple[object, ...]:
        """What 1.x and 2.x must agree on for an unknown version to read the file alike."""
        default = self.handlers.get(self.default_name)
        return (
            self.default_name,
            default.systemd_cgroup if default else None,
            self.cri is not None,
            len([p for p in self.problems if p.severity is Severity.ERROR]),
        )


def _omits_key(version: Version | None) -> bool:
    if version is None:
        return False
    return (2, 0, 0) <= version.release <= (2, 0, 6) or (2, 1, 0) <= version.release <= (2, 1, 4)


#: How containerd finds the runc option SystemdCgroup (the field of runc's Options) in a
#: runtime's options table. 1.5 to 1.7 decode the table with go-toml v1, which tries the
#: field's name, then all lower case, all upper case and a lower-case first letter
#: (pelletier/go-toml v1.9 marshal.go valueFromTree, keysToTry); 2.x decode with go-toml v2,
#: which takes the name or any case of it (go-toml v2 decode.go structFieldPath), and 1.4 and
#: older with BurntSushi/toml, which also matches any case. Kubespray up to v2.27 writes
#: `systemdCgroup = true` (kubespray#12170 renamed it): containerd reads it as systemd.
_GO_TOML_V1_SPELLINGS = ("SystemdCgroup", "systemdcgroup", "SYSTEMDCGROUP", "systemdCgroup")


def _systemd_cgroup_key(options: object, merged: MergedConfig) -> tuple[str, object]:
    """(the key as written, its node) of SystemdCgroup in ``options``, spelled as the
    node's containerd reads it; ("SystemdCgroup", MISSING) when it has none."""
    if not isinstance(options, dict):
        return "SystemdCgroup", MISSING
    for spelled in _GO_TOML_V1_SPELLINGS:
        if spelled in options:
            return spelled, options[spelled]
    if merged.major != 1:  # go-toml v2: any case (1.x before 1.5 too, but 1.x is not told)
        for spelled, node in options.items():
            if isinstance(spelled, str) and spelled.lower() == "systemdcgroup":
                return spelled, node
    return "SystemdCgroup", MISSING


def _runc_handlers(
    merged: MergedConfig, files: list[LoadedFile], version: Version | None, edit_file: LoadedFile
) -> tuple[str, dict[str, RuncHandler]]:
    """The default runtime's name and every runc handler, by name."""
    base: Path = ("plugins", merged.plugin or CRI_V2)
    default_name = leaf_value(merged.tree, (*base, "containerd", "default_runtime_name"))
    if not isinstance(default_name, str) or not default_name:
        default_name = "runc"
    runtimes = get_node(merged.tree, (*base, "containerd", "runtimes"))
    names = set(runtimes) if isinstance(runtimes, dict) else set()
    names.add("runc")
    vtext = version_text(version, "containerd")
    handlers: dict[str, RuncHandler] = {}
    legacy = get_node(merged.tree, (*base, "systemd_cgroup"))
    legacy_on = isinstance(legacy, Leaf) and legacy.value is True
    for name in sorted(names):
        runtime = (*base, "containerd", "runtimes", name)
        rtype = leaf_value(merged.tree, (*runtime, "runtime_type"))
        if not isinstance(rtype, str) or not rtype:
            rtype = "io.containerd.runc.v2" if name == "runc" else ""
        if rtype not in RUNC_TYPES and not (rtype == LEGACY_RUNTIME and merged.major == 1):
            continue
        spelled, key = _systemd_cgroup_key(get_node(merged.tree, (*runtime, "options")), merged)
        table_file = edit_file
        if isinstance(key, Leaf) and isinstance(key.value, bool):
            value = key.value
            evidence = evidence_at(files, key.file, key.path, f"{spelled} = {str(value).lower()}")
            table_file = next((f for f in files if f.path == key.file), edit_file)
            present = True
        elif rtype == LEGACY_RUNTIME and legacy_on and isinstance(legacy, Leaf):
            value = True
            evidence = evidence_at(files, legacy.file, legacy.path, "systemd_cgroup = true")
            present = False
        else:
            value = False
            note = (
                f" (`containerd config default` of {vtext} leaves the key out)"
                if _omits_key(version)
                else ""
            )
            evidence = Evidence(
                edit_file.path,
                f"SystemdCgroup is not set for runtime {name!r}; {vtext} defaults to false "
                f"(cgroupfs){note}",
            )
            present = False
        handlers[name] = RuncHandler(
            name=name,
            runtime_type=rtype,
            systemd_cgroup=value,
            evidence=evidence,
            file=table_file.path,
            table=options_table(table_file.file_version, name),
            file_version=table_file.file_version,
            present=present,
        )
    return default_name, handlers


def _legacy_systemd_cgroup(
    merged: MergedConfig, files: list[LoadedFile], default_type: str
) -> tuple[CriState | None, list[ConfigProblem]]:
    """``systemd_cgroup = true``: 1.x fails to load CRI with a runc default runtime; 2.x
    ignores the removed key."""
    legacy = get_node(merged.tree, ("plugins", merged.plugin or CRI_V2, "systemd_cgroup"))
    if not (isinstance(legacy, Leaf) and legacy.value is True):
        return None, []
    lev = evidence_at(files, legacy.file, legacy.path, "systemd_cgroup = true")
    if merged.major == 1 and default_type in RUNC_TYPES:
        cri = CriState(
            reason=_(
                "the CRI plugin fails to load: `systemd_cgroup` only works for runtime "
                "{legacy}, and the default runtime is {default}"
            ).format(legacy=LEGACY_RUNTIME, default=default_type),
            evidence=(lev,),
            fix=_(
                "remove `systemd_cgroup = true` and set `SystemdCgroup = true` in the runc "
                "handler's options table instead"
            ),
            file=legacy.file,
        )
        return cri, []
    if merged.major >= 2:
        problem = ConfigProblem(
            severity=Severity.WARNING,
            title=_("containerd 2.x ignores the removed `systemd_cgroup` key"),
            message=_(
                "`systemd_cgroup` was deprecated in 1.3 and removed in 2.0; containerd 2.x skips "
                "it as an unknown key (`Ignoring unknown key in TOML for plugin`)"
            ),
            evidence=(lev,),
            fix=_("remove it and set `SystemdCgroup = true` in the runc handler's options"),
            files=(legacy.file,),
        )
        return None, [problem]
    return None, []


def _cri_disabled(merged: MergedConfig, files: list[LoadedFile]) -> CriState | None:
    # 1.x matches disabled_plugins by short id in a version 1 config and by URI otherwise
    # (checked with the Debian containerd 1.6.20); 2.x has renamed "cri" to its URI already.
    names = {CRI_V1} if merged.major == 1 and merged.config_version == 1 else {CRI_V2}
    for leaf in merged.disabled:
        if leaf.value in names:
            evidence = evidence_at(files, leaf.file, ("disabled_plugins",), "disabled_plugins")
            return CriState(
                reason=_(
                    'disabled_plugins lists "{plugin}": containerd runs without its CRI plugin '
                    "and the kubelet cannot use it"
                ).format(plugin=leaf.value),
                evidence=(evidence,),
                fix=_(
                    'remove "{plugin}" from disabled_plugins (or regenerate the file with '
                    "`containerd config default`), then restart containerd"
                ).format(plugin=leaf.value),
                file=leaf.file,
            )
    return None


def evaluate(files: list[LoadedFile], major: int, version: Version | None, top: str) -> Evaluation:
    """``files`` as containerd ``major`` merges and reads them (none: its built-in defaults,
    and a fix would create ``top``)."""
    if not files:
        empty = ContainerdConfigFile({}, {}, frozenset())
        files = [LoadedFile(path=top, config=empty, imported_by=None)]
    merged = merge_1x(files, version) if major == 1 else merge_2x(files)
    edit = files[0]
    if major == 1 and merged.plugin:
        # 1.x: the last file holding the CRI plugin table replaces the others' (see merging).
        for f in files:
            if isinstance(f.config.get(("plugins", merged.plugin)), dict) or (
                merged.plugin == CRI_V2
                and f.file_version == 1
                and isinstance(f.config.get(("plugins", CRI_V1)), dict)
            ):
                edit = f
    default_name, handlers = _runc_handlers(merged, files, version, edit)
    default_type = handlers[default_name].runtime_type if default_name in handlers else ""
    cri, legacy_problems = _legacy_systemd_cgroup(merged, files, default_type)
    reported: Sourced[str] | None = None
    if major >= 2:
        order = sorted(handlers, key=lambda n: (n != default_name, n))
        if order:
            h = handlers[order[0]]
            reported = Sourced(h.driver, h.evidence)
    return Evaluation(
        default_name=default_name,
        handlers=handlers,
        reported=reported,
        cri=_cri_disabled(merged, files) or cri,
        problems=(*merged.problems, *legacy_problems, *misplaced_keys(files)),
        config_version=merged.config_version,
    )
