"""containerd as it will run: the files it reads, merged as the installed version merges them,
and the effective cgroup driver of each runc handler, with the file, line and text that set it.

What is modelled (research runtimes.md §1; each point checked against the real Debian
containerd 1.6.20 by ``tests/parsers/test_containerd_real.py`` where 1.x is concerned):

* Files: ``/etc/containerd/config.toml`` (MicroK8s: ``args/containerd-template.toml``, the
  rendered ``containerd.toml`` is regenerated from it on every start; k3s:
  ``config-v3.toml.tmpl`` (containerd 2.x) or ``config.toml.tmpl``, else the rendered
  ``config.toml``, else k3s's own default). ``imports`` entries with ``*`` are globs, others
  single paths that must exist; relative ones are joined to the importing file's directory,
  except that 1.x globs a relative pattern from its working directory (``/``). Files load
  breadth first, each once (cycles end). No directory is read unless ``imports`` names it.
* Merging: 1.x replaces a whole plugin table with an imported one (``to.Plugins[k] = v``);
  2.x merges key by key and migrates each version-1 file (``cri`` -> ``io.containerd.grpc.v1.cri``)
  before merging; a version-2 result is migrated to version 3 by copying the whole
  ``io.containerd.grpc.v1.cri`` table to ``io.containerd.cri.v1.runtime``.
* Config versions: none/1 reads ``plugins.cri``, 2 ``plugins."io.containerd.grpc.v1.cri"``,
  3 ``plugins.'io.containerd.cri.v1.runtime'`` (2.x only). 1.x ignores a v2 table in a file
  without a ``version`` line, refuses short names under ``version = 2``, refuses ``version = 3``
  from 1.7.17/1.6.32 and silently ignores it before.
* ``SystemdCgroup`` defaults to false in every version; ``containerd config default`` omits
  the key in 2.0.0-2.0.6 and 2.1.0-2.1.4. ``disabled_plugins`` with ``cri`` or
  ``io.containerd.grpc.v1.cri`` turns CRI off; the legacy ``systemd_cgroup = true`` makes 1.x
  fail to load CRI with the runc.v2 runtime and is an unknown key to 2.x.
* RuntimeConfig (2.x): handlers are asked default first, then by name; the first runc handler
  decides (``SystemdCgroup`` true: systemd, else cgroupfs).

When the installed containerd's version is unknown, the config is evaluated with both 1.x and
2.x semantics (a ``version = 3`` file is taken as 2.x's); where the two disagree the result is
unknown, with the reason.

For the fix engine (interface)
------------------------------
``containerd_facts(facts).default_handler`` (and ``.handlers[name]`` for every runc handler)
is a :class:`RuncHandler`:

* ``file``: the file to edit. When ``present`` is true it is the file whose ``SystemdCgroup``
  line wins (the top file or an import), ``evidence.line``/``evidence.text`` the line.
  When ``present`` is false it is the file where containerd will read an inserted key: the top
  file, except on 1.x where the last loaded import holding the CRI plugin table (which
  replaces the top file's) is the one.
* ``table``: the TOML table path, in ``file``'s own config version, that holds (or must hold)
  ``SystemdCgroup``: v1 ``("plugins", "cri", "containerd", "runtimes", name, "options")``,
  v2 ``("plugins", "io.containerd.grpc.v1.cri", ...)``, v3
  ``("plugins", "io.containerd.cri.v1.runtime", ...)``. Insert the key into that table
  (create the table if absent); never substitute text.
* ``file_version``: that file's config version (1, 2 or 3). When the node has no
  ``config.toml`` at all, ``file`` is ``/etc/containerd/config.toml`` with version 1 (create it
  with ``version = 2``/``3`` and the table of that version instead, or as version 1 with
  ``plugins.cri``); ``containerd_facts(facts).files`` is then empty.

``containerd_facts(facts).problems`` are the tables containerd ignores or refuses
(``containerd-config-ignored``), each with the files to change; ``.cri`` says why CRI is off.

For a MicroK8s node ``file`` is the template (``args/containerd-template.toml``); for k3s it
is the template k3s renders (k3s keeps its kubelet and containerd consistent itself: do not
flip only one side). ``layout`` says which. A k3s node without a template has no handlers:
``cgroup_driver`` is then k3s's own choice (evidence source ``k3s``), and its rendered
``config.toml`` is only compared with that choice (an edit there never takes effect).
"""

from __future__ import annotations

import copy
import posixpath
from typing import Any

from nodedoctor._record import field, record, replace
from nodedoctor.facts import Facts, Sourced, file_evidence
from nodedoctor.facts.packages import packages
from nodedoctor.facts.profile import deployer_profile
from nodedoctor.facts.versions import Version
from nodedoctor.model import Evidence, Severity
from nodedoctor.parsers import ParseError
from nodedoctor.parsers.containerd import (
    MISSING,
    ContainerdConfigFile,
    Path,
    TomlLine,
    parse_containerd_config,
    render_k3s_template,
)

CONFIG = "/etc/containerd/config.toml"
MICROK8S_TEMPLATE = "/var/snap/microk8s/current/args/containerd-template.toml"
MICROK8S_RENDERED = "/var/snap/microk8s/current/args/containerd.toml"
K3S_DIR = "/var/lib/rancher/k3s/agent/etc/containerd"
K3S_TEMPLATE = f"{K3S_DIR}/config.toml.tmpl"
K3S_TEMPLATE_V3 = f"{K3S_DIR}/config-v3.toml.tmpl"
K3S_RENDERED = f"{K3S_DIR}/config.toml"

SOCKET = "unix:///run/containerd/containerd.sock"
MICROK8S_SOCKET = "unix:///var/snap/microk8s/common/run/containerd.sock"
K3S_SOCKET = "unix:///run/k3s/containerd/containerd.sock"

CRI_V1 = "cri"
CRI_V2 = "io.containerd.grpc.v1.cri"
CRI_V3 = "io.containerd.cri.v1.runtime"
CRI_NAMES = (CRI_V1, CRI_V2)
RUNC_TYPES = ("io.containerd.runc.v2", "io.containerd.runc.v1")
LEGACY_RUNTIME = "io.containerd.runtime.v1.linux"
MAX_FILES = 64


def cri_plugin(file_version: int) -> str:
    """The CRI runtime plugin's table name in a file of this config version."""
    return {1: CRI_V1, 2: CRI_V2}.get(file_version, CRI_V3)


def options_table(file_version: int, handler: str) -> Path:
    """Where ``SystemdCgroup`` of ``handler`` lives in a file of this config version.

    >>> options_table(2, "runc")
    ('plugins', 'io.containerd.grpc.v1.cri', 'containerd', 'runtimes', 'runc', 'options')
    """
    return ("plugins", cri_plugin(file_version), "containerd", "runtimes", handler, "options")


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


@record
class RuncHandler:
    name: str
    runtime_type: str
    systemd_cgroup: bool
    evidence: Evidence
    #: The file to edit (see the module docstring) and the table, in its version.
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


# --------------------------------------------------------------------------------------
# Loading


def _resolve(facts: Facts, parent: str, pattern: str, glob_from_cwd: bool) -> list[str]:
    """containerd's resolveImports: a pattern with ``*`` is globbed, anything else is one path
    (which must exist). A relative path is joined to the importing file's directory, except
    that containerd 1.x globs a relative pattern from its working directory (``/`` under
    systemd); checked with the Debian containerd 1.6.20."""
    relative = not pattern.startswith("/")
    is_glob = "*" in pattern
    if relative and is_glob and glob_from_cwd:
        full = posixpath.join("/", pattern)
    elif relative:
        full = posixpath.join(posixpath.dirname(parent), pattern)
    else:
        full = pattern
    full = posixpath.normpath(full)
    if not is_glob:
        return [full]
    directory, name = posixpath.split(full)
    if any(c in directory for c in "*?["):
        return []  # a wildcard in a directory part is not modelled
    return facts.root.glob(directory, name)


def _load(
    facts: Facts,
    top: str,
    text_of: dict[str, str] | None = None,
    glob_from_cwd: bool = False,
    missing: list[tuple[str, str]] | None = None,
) -> list[LoadedFile]:
    """The top file and its imports, breadth first, each once (containerd's LoadConfig).
    Imported paths that do not exist are added to ``missing`` as (path, importing file)."""
    out: list[LoadedFile] = []
    pending: list[tuple[str, str | None]] = [(top, None)]
    seen: set[str] = set()
    while pending and len(out) < MAX_FILES:
        path, parent = pending.pop(0)
        if path in seen:
            continue
        seen.add(path)
        if text_of is not None and path in text_of:
            try:
                config = parse_containerd_config(text_of[path])
            except ParseError as exc:
                facts.record_problem(path, exc.line, exc.message)
                continue
        else:
            parsed = facts.parse(path, parse_containerd_config)
            if parsed is None:
                if parent is not None and missing is not None and not facts.root.exists(path):
                    missing.append((path, parent))
                continue
            config = parsed
        out.append(LoadedFile(path, config, parent))
        imports = config.get(("imports",))
        if isinstance(imports, list):
            for pattern in imports:
                if isinstance(pattern, str):
                    pending.extend((p, path) for p in _resolve(facts, path, pattern, glob_from_cwd))
    return out


def _relative_globs(files: list[LoadedFile]) -> list[tuple[LoadedFile, str]]:
    out: list[tuple[LoadedFile, str]] = []
    for f in files:
        imports = f.config.get(("imports",))
        if isinstance(imports, list):
            out.extend((f, p) for p in imports if isinstance(p, str) and "*" in p and p[:1] != "/")
    return out


def _tree(value: Any, file: str, path: Path) -> Any:
    if isinstance(value, dict):
        return {k: _tree(v, file, (*path, k)) for k, v in value.items()}
    return Leaf(value, file, path)


def _merge(to: dict[str, Any], frm: dict[str, Any]) -> None:
    for k, v in frm.items():
        if isinstance(v, dict) and isinstance(to.get(k), dict):
            _merge(to[k], v)
        else:
            to[k] = copy.copy(v)


def _get(tree: Any, path: Path) -> Any:
    node = tree
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return node


def _leaf_value(tree: Any, path: Path) -> Any:
    node = _get(tree, path)
    return node.value if isinstance(node, Leaf) else MISSING


def _list_leaves(files: list[LoadedFile], key: str, rename: dict[str, str]) -> list[Leaf]:
    """Top-level list values appended across files (mergo WithAppendSlice)."""
    out: list[Leaf] = []
    for f in files:
        v = f.config.get((key,))
        if isinstance(v, list):
            out.extend(Leaf(rename.get(str(x), str(x)), f.path, (key,)) for x in v)
    return out


def _evidence(files: list[LoadedFile], file: str, path: Path, fallback: str) -> Evidence:
    for f in files:
        if f.path == file:
            where = f.config.locate(path)
            if where is not None:
                return file_evidence(file, where.text, where.line)
    return Evidence(file, fallback)


# --------------------------------------------------------------------------------------
# Evaluation under one major version's semantics


@record
class _Eval:
    major: int
    config_version: int
    plugin: str | None  # the CRI plugin's table name in the merged tree
    tree: dict[str, Any]
    disabled: list[Leaf]
    problems: list[ConfigProblem]
    cri: CriState | None = None
    fatal: bool = False


def _short_names(f: LoadedFile) -> list[tuple[Path, str]]:
    out: list[tuple[Path, str]] = []
    plugins = f.config.get(("plugins",))
    if isinstance(plugins, dict):
        out.extend((("plugins", k), k) for k in plugins if "." not in k)
    disabled = f.config.get(("disabled_plugins",))
    if isinstance(disabled, list):
        out.extend((("disabled_plugins",), str(x)) for x in disabled if "." not in str(x))
    return out


def _eval_1x(files: list[LoadedFile], version: Version | None) -> _Eval:
    tree: dict[str, Any] = {}
    config_version = 0
    problems: list[ConfigProblem] = []
    fatal = False
    for f in files:
        if f.config.version:
            config_version = f.config.version
        data = _tree(f.config.data, f.path, ())
        plugins = data.pop("plugins", {})
        _merge(tree, data)
        if isinstance(plugins, dict):
            tree.setdefault("plugins", {}).update(plugins)  # whole tables replaced
        if config_version >= 2:
            for path, name in _short_names(f):
                where = f.config.locate(path)
                ev = (
                    file_evidence(f.path, where.text, where.line)
                    if where
                    else Evidence(f.path, name)
                )
                what = "disabled plugin" if path == ("disabled_plugins",) else "plugin key"
                problems.append(
                    ConfigProblem(
                        Severity.ERROR,
                        "containerd refuses the configuration and does not start",
                        f"containerd 1.x with config version {config_version} rejects the short "
                        f'{what} name "{name}": invalid {what} URI "{name}" expect '
                        "io.containerd.x.vx",
                        (ev,),
                        f'use the full plugin name (for CRI: "{CRI_V2}") or remove it',
                        (f.path,),
                    )
                )
                fatal = True
    config_version = config_version or 1
    if config_version >= 3:
        top = files[0]
        where = top.config.locate(("version",))
        ev = (
            file_evidence(top.path, where.text, where.line)
            if where
            else Evidence(top.path, "version = 3")
        )
        refused = version is not None and (
            version >= (1, 7, 17) or (version.release[:2] == (1, 6) and version >= (1, 6, 32))
        )
        vtext = (
            f"containerd {version.release[0]}.{version.release[1]}.{version.release[2]}"
            if version
            else "containerd 1.x"
        )
        if refused:
            fatal = True
            problems.append(
                ConfigProblem(
                    Severity.ERROR,
                    "containerd refuses config version 3 and does not start",
                    f"{vtext} fails with: containerd config version `3` is not supported, the "
                    "max version is `2`",
                    (ev,),
                    "use a version 2 configuration (`containerd config default` of this "
                    "containerd), or upgrade containerd to 2.x",
                    (top.path,),
                )
            )
        else:
            problems.append(
                ConfigProblem(
                    Severity.ERROR,
                    "containerd 1.x silently ignores the version 3 tables",
                    f"{vtext} accepts `version = 3` but knows no "
                    f"plugins.'{CRI_V3}' table: its settings are ignored and the CRI plugin "
                    "runs with its defaults",
                    (ev,),
                    "use a version 2 configuration (`containerd config default` of this "
                    "containerd), or upgrade containerd to 2.x",
                    (top.path,),
                )
            )
    plugin = CRI_V1 if config_version == 1 else CRI_V2
    other = CRI_V2 if config_version == 1 else None
    plugins = tree.get("plugins", {})
    if other and isinstance(plugins, dict) and other in plugins:
        holder = _first_leaf_file(plugins[other])
        f = next((x for x in files if x.path == holder), files[0])
        ev = _evidence(files, f.path, ("plugins", other), f'[plugins."{other}"]')
        problems.append(
            ConfigProblem(
                Severity.ERROR,
                "containerd 1.x ignores a version 2 table in a file without a version line",
                f"{f.path} has no `version = 2` line, so containerd 1.x reads plugin tables by "
                f'short name (plugins.cri) and silently ignores [plugins."{other}"...]',
                (ev,),
                "add `version = 2` as the first line (and use full plugin names everywhere, "
                'e.g. disabled_plugins = ["io.containerd.grpc.v1.cri"] not ["cri"]), or '
                "regenerate the file with `containerd config default`",
                (f.path,),
            )
        )
    disabled = _list_leaves(files, "disabled_plugins", {})
    return _Eval(1, config_version, plugin, tree, disabled, problems, fatal=fatal)


def _first_leaf_file(node: Any) -> str | None:
    if isinstance(node, Leaf):
        return node.file
    if isinstance(node, dict):
        for v in node.values():
            found = _first_leaf_file(v)
            if found:
                return found
    return None


def _eval_2x(files: list[LoadedFile]) -> _Eval:
    tree: dict[str, Any] = {}
    problems: list[ConfigProblem] = []
    root_version = files[0].file_version if files else 1
    for f in files:
        data = _tree(f.config.data, f.path, ())
        if f.file_version == 1:
            plugins = data.get("plugins")
            if isinstance(plugins, dict) and CRI_V1 in plugins:
                plugins[CRI_V2] = plugins.pop(CRI_V1)
        _merge(tree, data)
    config_version = max(root_version, 2)
    plugins = tree.get("plugins", {})
    if not isinstance(plugins, dict):
        plugins = {}
    if config_version < 3 and isinstance(plugins.get(CRI_V2), dict):
        if CRI_V3 in plugins:
            holder = _first_leaf_file(plugins[CRI_V3]) or files[0].path
            ev = _evidence(files, holder, ("plugins", CRI_V3), f"[plugins.'{CRI_V3}']")
            problems.append(
                ConfigProblem(
                    Severity.ERROR,
                    "containerd 2.x overwrites a version 3 table while migrating a version 2 "
                    "configuration",
                    f"the configuration is version {config_version}, so containerd 2.x copies "
                    f"the whole [plugins.\"{CRI_V2}\"] table to plugins.'{CRI_V3}' on every "
                    f"start and the settings in plugins.'{CRI_V3}' are lost",
                    (ev,),
                    f'put the settings under [plugins."{CRI_V2}"...] like the rest of the '
                    "file, or migrate the whole file with `containerd config migrate`",
                    (holder,),
                )
            )
        plugins[CRI_V3] = copy.deepcopy(plugins[CRI_V2])
    elif config_version >= 3:
        old = plugins.get(CRI_V2)
        if isinstance(old, dict) and "containerd" in old:
            holder = _first_leaf_file(old["containerd"]) or files[0].path
            ev = _evidence(
                files, holder, ("plugins", CRI_V2, "containerd"), f'[plugins."{CRI_V2}".containerd]'
            )
            problems.append(
                ConfigProblem(
                    Severity.WARNING,
                    "runtime settings in a version 2 table that a version 3 configuration ignores",
                    f"the configuration is version 3: containerd 2.x reads runtimes from "
                    f"plugins.'{CRI_V3}' and skips [plugins.\"{CRI_V2}\".containerd...] "
                    "(`Ignoring unknown key in TOML for plugin`)",
                    (ev,),
                    f"move the settings to [plugins.'{CRI_V3}'.containerd...]",
                    (holder,),
                )
            )
    disabled = _list_leaves(files, "disabled_plugins", {CRI_V1: CRI_V2})
    return _Eval(2, config_version, CRI_V3, tree, disabled, problems)


# --------------------------------------------------------------------------------------
# Handlers


def _omits_key(version: Version | None) -> bool:
    if version is None:
        return False
    return (2, 0, 0) <= version.release <= (2, 0, 6) or (2, 1, 0) <= version.release <= (2, 1, 4)


def _handlers(
    ev: _Eval, files: list[LoadedFile], version: Version | None, edit_file: LoadedFile
) -> tuple[str, dict[str, RuncHandler], list[ConfigProblem], CriState | None]:
    problems: list[ConfigProblem] = []
    cri: CriState | None = None
    base: Path = ("plugins", ev.plugin or CRI_V2)
    default_name = _leaf_value(ev.tree, (*base, "containerd", "default_runtime_name"))
    if not isinstance(default_name, str) or not default_name:
        default_name = "runc"
    runtimes = _get(ev.tree, (*base, "containerd", "runtimes"))
    names = set(runtimes) if isinstance(runtimes, dict) else set()
    names.add("runc")
    vtext = (
        f"containerd {version.release[0]}.{version.release[1]}.{version.release[2]}"
        if version
        else "containerd"
    )
    handlers: dict[str, RuncHandler] = {}
    legacy = _get(ev.tree, (*base, "systemd_cgroup"))
    legacy_on = isinstance(legacy, Leaf) and legacy.value is True
    for name in sorted(names):
        rtype = _leaf_value(ev.tree, (*base, "containerd", "runtimes", name, "runtime_type"))
        if not isinstance(rtype, str) or not rtype:
            rtype = "io.containerd.runc.v2" if name == "runc" else ""
        if rtype not in RUNC_TYPES and not (rtype == LEGACY_RUNTIME and ev.major == 1):
            continue
        key = _get(ev.tree, (*base, "containerd", "runtimes", name, "options", "SystemdCgroup"))
        table_file = edit_file
        if isinstance(key, Leaf) and isinstance(key.value, bool):
            value = key.value
            evidence = _evidence(files, key.file, key.path, f"SystemdCgroup = {str(value).lower()}")
            table_file = next((f for f in files if f.path == key.file), edit_file)
            present = True
        elif rtype == LEGACY_RUNTIME and legacy_on and isinstance(legacy, Leaf):
            value = True
            evidence = _evidence(files, legacy.file, legacy.path, "systemd_cgroup = true")
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
            name,
            rtype,
            value,
            evidence,
            table_file.path,
            options_table(table_file.file_version, name),
            table_file.file_version,
            present,
        )
    if isinstance(legacy, Leaf) and legacy.value is True:
        lev = _evidence(files, legacy.file, legacy.path, "systemd_cgroup = true")
        default_type = handlers[default_name].runtime_type if default_name in handlers else ""
        if ev.major == 1 and default_type in RUNC_TYPES:
            cri = CriState(
                "the CRI plugin fails to load: `systemd_cgroup` only works for runtime "
                f"{LEGACY_RUNTIME}, and the default runtime is {default_type}",
                (lev,),
                "remove `systemd_cgroup = true` and set `SystemdCgroup = true` in the runc "
                "handler's options table instead",
                legacy.file,
            )
        elif ev.major >= 2:
            problems.append(
                ConfigProblem(
                    Severity.WARNING,
                    "containerd 2.x ignores the removed `systemd_cgroup` key",
                    "`systemd_cgroup` was deprecated in 1.3 and removed in 2.0; containerd "
                    "2.x skips it as an unknown key (`Ignoring unknown key in TOML for plugin`)",
                    (lev,),
                    "remove it and set `SystemdCgroup = true` in the runc handler's options",
                    (legacy.file,),
                )
            )
    return default_name, handlers, problems, cri


def _cri_disabled(ev: _Eval, files: list[LoadedFile]) -> CriState | None:
    # 1.x matches disabled_plugins by short id in a version 1 config and by URI otherwise
    # (checked with the Debian containerd 1.6.20); 2.x has renamed "cri" to its URI already.
    names = {CRI_V1} if ev.major == 1 and ev.config_version == 1 else {CRI_V2}
    for leaf in ev.disabled:
        if leaf.value in names:
            evidence = _evidence(files, leaf.file, ("disabled_plugins",), "disabled_plugins")
            return CriState(
                f'disabled_plugins lists "{leaf.value}": containerd runs without its CRI '
                "plugin and the kubelet cannot use it",
                (evidence,),
                f'remove "{leaf.value}" from disabled_plugins (or regenerate the file with '
                "`containerd config default`), then restart containerd",
                leaf.file,
            )
    return None


# --------------------------------------------------------------------------------------
# Layouts


def _k3s_systemd(facts: Facts) -> tuple[str, Evidence] | None:
    """The value k3s writes for ``{{ .SystemdCgroup }}`` (the same it gives its kubelet)."""
    from nodedoctor.facts.kubelet import kubelet_facts

    for word in facts.get(kubelet_facts).words:
        if word.evidence.source == "k3s" and word.word.startswith("--cgroup-driver="):
            driver = word.word.split("=", 1)[1]
            return ("true" if driver == "systemd" else "false"), word.evidence
    return None


def _k3s_major(facts: Facts) -> Sourced[Version] | None:
    item = facts.get(packages).get("k3s")
    return Sourced(item.version, item.evidence) if item and item.version else None


def _k3s_bundles_containerd2(version: Version) -> bool:
    """k3s bundles containerd 2.0 from v1.31.6+k3s1 and v1.32.2+k3s1 (runtimes.md §5)."""
    r = version.release
    return r >= (1, 32, 2) or (r[:2] == (1, 31) and r >= (1, 31, 6))


def containerd_facts(facts: Facts) -> ContainerdFacts:
    profile = facts.get(deployer_profile).name
    pk = facts.get(packages)
    installed = pk.get("containerd")
    version: Sourced[Version] | None = None
    if (
        installed is not None
        and installed.version is not None
        and profile not in ("k3s", "microk8s")
    ):
        version = Sourced(installed.version, installed.evidence)
    notes: list[str] = []
    layout = "standard"
    endpoint = SOCKET
    top = CONFIG
    texts: dict[str, str] | None = None
    semantics: int | None = None
    semantics_note = ""
    k3s_default: tuple[str, Evidence] | None = None
    choice: tuple[str, Evidence] | None = None
    base: tuple[int, str, str] | None = None  # line, text, template including k3s's base

    if profile == "microk8s":
        layout, endpoint, top = "microk8s", MICROK8S_SOCKET, MICROK8S_TEMPLATE
        template = facts.read(MICROK8S_TEMPLATE)
        if template is not None and "${RUNTIME}" in template:
            # run-containerd-with-args fills ${RUNTIME} with sed; the rendered file tells which.
            rendered_cfg = facts.parse(MICROK8S_RENDERED, parse_containerd_config)
            name = (
                rendered_cfg.get(("plugins", CRI_V2, "containerd", "default_runtime_name"))
                if rendered_cfg is not None
                else None
            )
            if isinstance(name, str) and "${" not in name:
                texts = {MICROK8S_TEMPLATE: template.replace("${RUNTIME}", name)}
                notes.append(f"${{RUNTIME}} is {name!r} in {MICROK8S_RENDERED}")
    elif profile == "k3s":
        layout, endpoint = "k3s", K3S_SOCKET
        k3s = _k3s_major(facts)
        major2 = _k3s_bundles_containerd2(k3s.value) if k3s else None
        if major2 is not None and k3s is not None:
            semantics = 2 if major2 else 1
            semantics_note = f"k3s {k3s.value} bundles containerd {'2.x' if major2 else '1.x'}"
        choice = _k3s_systemd(facts)
        values = {"SystemdCgroup": choice[0]} if choice else {}
        candidates = [K3S_TEMPLATE] if major2 is False else [K3S_TEMPLATE_V3, K3S_TEMPLATE]
        top = ""
        for cand in candidates:
            text = facts.read(cand)
            if text is not None:
                rendered, base_line = render_k3s_template(text, values)
                texts = {cand: rendered}
                top = cand
                if base_line is not None:
                    notes.append(f"{cand} starts from k3s's base template")
                    base = (base_line, text.splitlines()[base_line - 1].strip(), cand)
                break
        if not top:
            top = K3S_RENDERED
            if choice is not None or not facts.root.exists(K3S_RENDERED):
                # k3s renders config.toml from its base template on every start, with the
                # driver it also gives its kubelet; an edit to the rendered file never runs.
                k3s_default = choice
            else:
                notes.append(f"no template: k3s regenerates {K3S_RENDERED} with its own defaults")

    files = _load(facts, top, texts) if top and k3s_default is None else []
    present = bool(files) or installed is not None or layout != "standard"
    # What is known before the configuration is evaluated: no driver, handlers or CRI yet.
    empty = ContainerdFacts(
        present,
        layout,
        top or None,
        version,
        semantics,
        semantics_note,
        None,
        tuple(files),
        None,
        {},
        None,
        None,
        None,
        (),
        endpoint,
        notes=tuple(notes),
    )
    if base is not None and files and files[0].path == base[2]:
        if choice is None:
            return _replace(
                empty,
                present=True,
                notes=(),
                unknown=f"{top} uses k3s's base template, whose SystemdCgroup (k3s's own "
                "choice) cannot be told",
            )
        files[0] = _with_k3s_base(files[0], base[0], base[1], choice[0] == "true")
        empty = _replace(empty, files=tuple(files))
    if top and not files and facts.parse_failed(top):
        return _replace(empty, unknown=f"{top} cannot be parsed")
    if layout == "k3s" and not files:
        if k3s_default is None:
            return _replace(empty, unknown="k3s's own choice of driver cannot be told")
        k3s_driver = "systemd" if k3s_default[0] == "true" else "cgroupfs"
        d = Sourced(k3s_driver, k3s_default[1])
        return _replace(
            empty,
            default_runtime="runc",
            cgroup_driver=d,
            reported_driver=d,
            problems=tuple(_k3s_rendered_edited(facts, k3s_default)),
        )
    if not files:
        if installed is None:
            return empty
        files_used: list[LoadedFile] = []
    else:
        files_used = files

    if version is not None:
        semantics = 2 if version.value.release[0] >= 2 else 1
        semantics_note = f"containerd {version.value}"
    elif semantics is None and files_used and files_used[0].file_version >= 3:
        semantics = 2
        semantics_note = "config version 3 is only read by containerd 2.x"

    majors = [semantics] if semantics is not None else [1, 2]
    results = []
    relative_globs = _relative_globs(files_used)
    for major in majors:
        loaded = files_used
        missing: list[tuple[str, str]] = []
        if files_used:
            loaded = _load(facts, top, texts, glob_from_cwd=major == 1, missing=missing)
            if base is not None and loaded and choice is not None:
                loaded[0] = files_used[0]
        result = _evaluate(loaded, major, version.value if version else None, top or CONFIG)
        result[4].extend(_import_problems(loaded, missing, relative_globs if major == 1 else []))
        results.append(result)
    first = results[0]
    if len(results) > 1:
        a, b = results
        if _summary(a) != _summary(b):
            return _replace(
                empty,
                unknown=(
                    "the containerd version is unknown and containerd 1.x and 2.x would read "
                    "this configuration differently"
                ),
                problems=tuple(p for p in a[4] if p in b[4]),
            )
        semantics_note = "containerd version unknown; 1.x and 2.x read this configuration alike"
    default_name, handlers, reported, cri, problems, config_version = first
    problems.extend(_rendered_problems(facts, layout, files_used, handlers.get(default_name)))
    driver = None
    dh = handlers.get(default_name)
    if dh is not None:
        driver = Sourced(dh.driver, dh.evidence)
    elif default_name:
        notes.append(f"the default runtime {default_name!r} is not a runc handler")
    return ContainerdFacts(
        True,
        layout,
        top or None,
        version,
        semantics,
        semantics_note,
        config_version,
        tuple(files_used),
        default_name,
        handlers,
        driver,
        reported,
        cri,
        tuple(problems),
        endpoint,
        notes=tuple(notes),
    )


_Result = tuple[
    str, dict[str, RuncHandler], "Sourced[str] | None", "CriState | None", list[ConfigProblem], int
]


def _summary(r: _Result) -> tuple[object, ...]:
    default_name, handlers, _, cri, problems, _ = r
    default = handlers.get(default_name)
    return (
        default_name,
        default.systemd_cgroup if default else None,
        cri is not None,
        len([p for p in problems if p.severity is Severity.ERROR]),
    )


def _evaluate(files: list[LoadedFile], major: int, version: Version | None, top: str) -> _Result:
    if not files:
        empty = ContainerdConfigFile({}, {}, frozenset())
        files = [LoadedFile(top, empty, None)]
        # no file: built-in defaults; the fix would create the top file
    ev = _eval_1x(files, version) if major == 1 else _eval_2x(files)
    edit = files[0]
    if major == 1 and ev.plugin:
        for f in files:
            if isinstance(f.config.get(("plugins", ev.plugin)), dict) or (
                ev.plugin == CRI_V2
                and f.file_version == 1
                and isinstance(f.config.get(("plugins", CRI_V1)), dict)
            ):
                edit = f
    default_name, handlers, problems, cri = _handlers(ev, files, version, edit)
    problems = ev.problems + problems + _misplaced(files)
    cri = _cri_disabled(ev, files) or cri
    reported: Sourced[str] | None = None
    if major >= 2:
        order = sorted(handlers, key=lambda n: (n != default_name, n))
        if order:
            h = handlers[order[0]]
            reported = Sourced(h.driver, h.evidence)
    return default_name, handlers, reported, cri, problems, ev.config_version


def _walk_keys(node: Any, path: Path, key: str) -> list[Path]:
    out: list[Path] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key and not isinstance(v, dict):
                out.append((*path, k))
            else:
                out.extend(_walk_keys(v, (*path, k), key))
    return out


def _misplaced(files: list[LoadedFile]) -> list[ConfigProblem]:
    """``SystemdCgroup`` written anywhere but ``plugins.<cri>.containerd.runtimes.<h>.options``
    (e.g. in the handler's own table or under ``containerd``): no containerd reads it there.
    A right-shaped path under another version's plugin name is reported by the version checks."""
    out: list[ConfigProblem] = []
    for f in files:
        for path in _walk_keys(f.config.data, (), "SystemdCgroup"):
            shaped = (
                len(path) == 7
                and path[0] == "plugins"
                and path[1] in (CRI_V1, CRI_V2, CRI_V3)
                and path[2:4] == ("containerd", "runtimes")
                and path[5] == "options"
            )
            if shaped:
                continue
            ev = _evidence(files, f.path, path, "SystemdCgroup")
            handler = (
                path[4] if path[2:4] == ("containerd", "runtimes") and len(path) > 5 else "runc"
            )
            right = ".".join(
                p if p.replace("_", "").replace("-", "").isalnum() else f'"{p}"'
                for p in options_table(f.file_version, handler)
            )
            out.append(
                ConfigProblem(
                    Severity.ERROR,
                    "SystemdCgroup is in a table containerd does not read it from",
                    f"{f.path} sets SystemdCgroup under [{'.'.join(path[:-1])}], but containerd "
                    f"reads it only from a runtime handler's options table ([{right}] in a "
                    f"version {f.file_version} file); it has no effect",
                    (ev,),
                    f"move the key to [{right}]",
                    (f.path,),
                )
            )
    return out


def _k3s_rendered_edited(facts: Facts, choice: tuple[str, Evidence]) -> list[ConfigProblem]:
    """k3s without a template: its rendered config.toml says another driver than k3s writes."""
    cfg = facts.parse(K3S_RENDERED, parse_containerd_config)
    if cfg is None:
        return []
    path = (*options_table(cfg.version or 1, "runc"), "SystemdCgroup")
    value = cfg.get(path)
    wanted = choice[0] == "true"
    if not isinstance(value, bool) or value == wanted:
        return []
    where = cfg.locate(path)
    ev = (
        file_evidence(K3S_RENDERED, where.text, where.line) if where else Evidence(K3S_RENDERED, "")
    )
    return [
        ConfigProblem(
            Severity.WARNING,
            "the rendered k3s config.toml was edited; k3s regenerates it on every start",
            f"{K3S_RENDERED} says SystemdCgroup = {str(value).lower()}, but k3s writes it from "
            f"its own template on every start with SystemdCgroup = {choice[0]} (the driver it "
            "also gives its kubelet), so the edit never takes effect",
            (ev, choice[1]),
            f"put the change in {K3S_TEMPLATE} (or {K3S_TEMPLATE_V3} with containerd 2.x), "
            'starting it with {{ template "base" . }}, and change the kubelet the same way',
            (K3S_TEMPLATE,),
        )
    ]


def _rendered_problems(
    facts: Facts, layout: str, files: list[LoadedFile], h: RuncHandler | None
) -> list[ConfigProblem]:
    """MicroK8s/k3s: a rendered file edited by hand, which the next start overwrites."""
    if layout == "microk8s":
        rendered, source = MICROK8S_RENDERED, MICROK8S_TEMPLATE
    elif layout == "k3s" and files and files[0].path != K3S_RENDERED:
        rendered, source = K3S_RENDERED, files[0].path
    else:
        return []
    cfg = facts.parse(rendered, parse_containerd_config)
    if cfg is None or h is None:
        return []
    version = cfg.version or 1
    path = (*options_table(version, h.name), "SystemdCgroup")
    value = cfg.get(path)
    if isinstance(value, bool) and value != h.systemd_cgroup:
        where = cfg.locate(path)
        ev = file_evidence(rendered, where.text, where.line) if where else Evidence(rendered, "")
        return [
            ConfigProblem(
                Severity.WARNING,
                f"the rendered {posixpath.basename(rendered)} was edited; the next start "
                "regenerates it from the template",
                f"{rendered} says SystemdCgroup = {str(value).lower()} but it is regenerated "
                f"from {source} (which gives {str(h.systemd_cgroup).lower()}) every time "
                "containerd starts, so the edit will be lost",
                (ev, h.evidence),
                f"make the change in {source} instead",
                (source,),
            )
        ]
    return []


def _import_problems(
    files: list[LoadedFile],
    missing: list[tuple[str, str]],
    relative_globs: list[tuple[LoadedFile, str]],
) -> list[ConfigProblem]:
    out: list[ConfigProblem] = []
    for path, parent in missing:
        ev = _evidence(files, parent, ("imports",), "imports")
        out.append(
            ConfigProblem(
                Severity.ERROR,
                "containerd refuses the configuration: an imported file does not exist",
                f"{parent} imports {path}, which does not exist; containerd fails with "
                f"`failed to load TOML: {path}: open {path}: no such file or directory`",
                (ev,),
                f"create {path} or remove it from imports (a glob such as *.toml may match "
                "nothing)",
                (parent,),
            )
        )
    for f, pattern in relative_globs:
        ev = _evidence(files, f.path, ("imports",), "imports")
        out.append(
            ConfigProblem(
                Severity.WARNING,
                "containerd 1.x expands a relative import glob from its working directory",
                f"{f.path} imports {pattern!r}: containerd 1.x globs a relative pattern from its "
                "working directory (/ under systemd), not from the file's directory, so it "
                f"reads /{pattern.lstrip('./')} (containerd 2.x joins it to the file's directory)",
                (ev,),
                f"write the pattern as an absolute path, e.g. "
                f"{posixpath.join(posixpath.dirname(f.path), pattern)}",
                (f.path,),
            )
        )
    return out


def _with_k3s_base(f: LoadedFile, line: int, text: str, systemd: bool) -> LoadedFile:
    """The template with what k3s's ``base`` template contributes to the runc handler (the
    driver k3s chose), placed on the line that includes it. The rendered file is one TOML
    document, so the template's own keys sit beside the base's, key by key."""
    version = f.config.version or (3 if f.path == K3S_TEMPLATE_V3 else 2)
    runc: Path = options_table(version, "runc")[:-1]
    base: dict[str, Any] = {"version": version}
    node = base
    for part in runc:
        node = node.setdefault(part, {})
    node["runtime_type"] = "io.containerd.runc.v2"
    node["options"] = {"SystemdCgroup": systemd}
    merged = copy.deepcopy(base)
    _merge(merged, f.config.data)
    lines = dict(f.config.lines)
    where = TomlLine(line, text)
    for path in (
        ("version",),
        *(runc[:i] for i in range(1, len(runc) + 1)),
        (*runc, "runtime_type"),
        (*runc, "options"),
        (*runc, "options", "SystemdCgroup"),
    ):
        lines.setdefault(path, where)
    return LoadedFile(f.path, ContainerdConfigFile(merged, lines, f.config.headers), f.imported_by)


def _replace(base: ContainerdFacts, **changes: Any) -> ContainerdFacts:
    return replace(base, **changes)
