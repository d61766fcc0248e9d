"""containerd's merge of its files: 1.x replaces a whole plugin table with an imported one,
2.x merges key by key and migrates version 1 and 2 files (research runtimes.md §1); and the
tables each version ignores or refuses on the way."""

from __future__ import annotations

import copy
from typing import Any

from nodedoctor._record import record
from nodedoctor.facts import file_evidence
from nodedoctor.facts.containerd.model import (
    CRI_V1,
    CRI_V2,
    CRI_V3,
    ConfigProblem,
    Leaf,
    LoadedFile,
    evidence_at,
    version_text,
)
from nodedoctor.facts.versions import Version
from nodedoctor.i18n import N_, _
from nodedoctor.model import Evidence, Severity
from nodedoctor.parsers.containerd import MISSING, Path


def _tree(value: Any, file: str, path: Path) -> Any:
    if isinstance(value, dict):
        return {k: _tree(v, file, (*path, k)) for k, v in value.items()}
    return Leaf(value=value, file=file, path=path)


def merge_tree(to: dict[str, Any], frm: dict[str, Any]) -> None:
    for k, v in frm.items():
        if isinstance(v, dict) and isinstance(to.get(k), dict):
            merge_tree(to[k], v)
        else:
            to[k] = copy.copy(v)


def get_node(tree: Any, path: Path) -> Any:
    node = tree
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return node


def leaf_value(tree: Any, path: Path) -> Any:
    node = get_node(tree, path)
    return node.value if isinstance(node, Leaf) else MISSING


def _list_leaves(files: list[LoadedFile], key: str, rename: dict[str, str]) -> list[Leaf]:
    """Top-level list values appended across files (mergo WithAppendSlice)."""
    out: list[Leaf] = []
    for f in files:
        v = f.config.get((key,))
        if isinstance(v, list):
            out.extend(Leaf(value=rename.get(str(x), str(x)), file=f.path, path=(key,)) for x in v)
    return out


#: The fix of a version 3 configuration that containerd 1.x refuses or ignores.
USE_VERSION_2 = N_(
    "use a version 2 configuration (`containerd config default` of this containerd), or "
    "upgrade containerd to 2.x"
)


@record
class MergedConfig:
    """The files merged as one major version of containerd merges them."""

    major: int
    config_version: int
    plugin: str | None  # the CRI plugin's table name in the merged tree
    tree: dict[str, Any]
    #: ``disabled_plugins`` of every file, appended (2.x: ``cri`` renamed to its URI).
    disabled: tuple[Leaf, ...]
    problems: tuple[ConfigProblem, ...]


def _short_names(f: LoadedFile) -> list[tuple[Path, str]]:
    out: list[tuple[Path, str]] = []
    plugins = f.config.get(("plugins",))
    if isinstance(plugins, dict):
        out.extend((("plugins", k), k) for k in plugins if "." not in k)
    disabled = f.config.get(("disabled_plugins",))
    if isinstance(disabled, list):
        out.extend((("disabled_plugins",), str(x)) for x in disabled if "." not in str(x))
    return out


def merge_1x(files: list[LoadedFile], version: Version | None) -> MergedConfig:
    tree: dict[str, Any] = {}
    config_version = 0
    problems: list[ConfigProblem] = []
    for f in files:
        if f.config.version:
            config_version = f.config.version
        data = _tree(f.config.data, f.path, ())
        plugins = data.pop("plugins", {})
        merge_tree(tree, data)
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
                template = (
                    _(
                        "containerd 1.x with config version {version} rejects the short disabled "
                        'plugin name "{name}": invalid disabled plugin URI "{name}" expect '
                        "io.containerd.x.vx"
                    )
                    if path == ("disabled_plugins",)
                    else _(
                        "containerd 1.x with config version {version} rejects the short plugin "
                        'key name "{name}": invalid plugin key URI "{name}" expect '
                        "io.containerd.x.vx"
                    )
                )
                problems.append(
                    ConfigProblem(
                        severity=Severity.ERROR,
                        title=_("containerd refuses the configuration and does not start"),
                        message=template.format(version=config_version, name=name),
                        evidence=(ev,),
                        fix=_('use the full plugin name (for CRI: "{plugin}") or remove it').format(
                            plugin=CRI_V2
                        ),
                        files=(f.path,),
                    )
                )
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
        vtext = version_text(version, "containerd 1.x")
        if refused:
            problems.append(
                ConfigProblem(
                    severity=Severity.ERROR,
                    title=_("containerd refuses config version 3 and does not start"),
                    message=_(
                        "{containerd} fails with: containerd config version `3` is not "
                        "supported, the max version is `2`"
                    ).format(containerd=vtext),
                    evidence=(ev,),
                    fix=_(USE_VERSION_2),
                    files=(top.path,),
                )
            )
        else:
            problems.append(
                ConfigProblem(
                    severity=Severity.ERROR,
                    title=_("containerd 1.x silently ignores the version 3 tables"),
                    message=_(
                        "{containerd} accepts `version = 3` but knows no plugins.'{plugin}' "
                        "table: its settings are ignored and the CRI plugin runs with its "
                        "defaults"
                    ).format(containerd=vtext, plugin=CRI_V3),
                    evidence=(ev,),
                    fix=_(USE_VERSION_2),
                    files=(top.path,),
                )
            )
    plugin = CRI_V1 if config_version == 1 else CRI_V2
    other = CRI_V2 if config_version == 1 else None
    plugins = tree.get("plugins", {})
    if other and isinstance(plugins, dict) and other in plugins:
        holder = _first_leaf_file(plugins[other])
        f = next((x for x in files if x.path == holder), files[0])
        ev = evidence_at(files, f.path, ("plugins", other), f'[plugins."{other}"]')
        problems.append(
            ConfigProblem(
                severity=Severity.ERROR,
                title=_(
                    "containerd 1.x ignores a version 2 table in a file without a version line"
                ),
                message=_(
                    "{file} has no `version = 2` line, so containerd 1.x reads plugin tables by "
                    'short name (plugins.cri) and silently ignores [plugins."{plugin}"...]'
                ).format(file=f.path, plugin=other),
                evidence=(ev,),
                fix=_(
                    "add `version = 2` as the first line (and use full plugin names everywhere, "
                    'e.g. disabled_plugins = ["io.containerd.grpc.v1.cri"] not ["cri"]), or '
                    "regenerate the file with `containerd config default`"
                ),
                files=(f.path,),
            )
        )
    disabled = _list_leaves(files, "disabled_plugins", {})
    return MergedConfig(
        major=1,
        config_version=config_version,
        plugin=plugin,
        tree=tree,
        disabled=tuple(disabled),
        problems=tuple(problems),
    )


def _first_leaf_file(node: Any) -> str | None:
    if isinstance(node, Leaf):
        return node.file
    if isinstance(node, dict):
        for v in node.values():
            found = _first_leaf_file(v)
            if found:
                return found
    return None


def merge_2x(files: list[LoadedFile]) -> MergedConfig:
    tree: dict[str, Any] = {}
    problems: list[ConfigProblem] = []
    root_version = files[0].file_version if files else 1
    for f in files:
        data = _tree(f.config.data, f.path, ())
        if f.file_version == 1:
            plugins = data.get("plugins")
            if isinstance(plugins, dict) and CRI_V1 in plugins:
                plugins[CRI_V2] = plugins.pop(CRI_V1)
        merge_tree(tree, data)
    config_version = max(root_version, 2)
    plugins = tree.get("plugins", {})
    if not isinstance(plugins, dict):
        plugins = {}
    if config_version < 3 and isinstance(plugins.get(CRI_V2), dict):
        if CRI_V3 in plugins:
            holder = _first_leaf_file(plugins[CRI_V3]) or files[0].path
            ev = evidence_at(files, holder, ("plugins", CRI_V3), f"[plugins.'{CRI_V3}']")
            problems.append(
                ConfigProblem(
                    severity=Severity.ERROR,
                    title=_(
                        "containerd 2.x overwrites a version 3 table while migrating a version 2 "
                        "configuration"
                    ),
                    message=_(
                        "the configuration is version {version}, so containerd 2.x copies the "
                        "whole [plugins.\"{v2}\"] table to plugins.'{v3}' on every start and the "
                        "settings in plugins.'{v3}' are lost"
                    ).format(version=config_version, v2=CRI_V2, v3=CRI_V3),
                    evidence=(ev,),
                    fix=_(
                        'put the settings under [plugins."{v2}"...] like the rest of the file, '
                        "or migrate the whole file with `containerd config migrate`"
                    ).format(v2=CRI_V2),
                    files=(holder,),
                )
            )
        plugins[CRI_V3] = copy.deepcopy(plugins[CRI_V2])
    elif config_version >= 3:
        old = plugins.get(CRI_V2)
        if isinstance(old, dict) and "containerd" in old:
            holder = _first_leaf_file(old["containerd"]) or files[0].path
            ev = evidence_at(
                files, holder, ("plugins", CRI_V2, "containerd"), f'[plugins."{CRI_V2}".containerd]'
            )
            problems.append(
                ConfigProblem(
                    severity=Severity.WARNING,
                    title=_(
                        "runtime settings in a version 2 table that a version 3 configuration "
                        "ignores"
                    ),
                    message=_(
                        "the configuration is version 3: containerd 2.x reads runtimes from "
                        "plugins.'{v3}' and skips [plugins.\"{v2}\".containerd...] (`Ignoring "
                        "unknown key in TOML for plugin`)"
                    ).format(v2=CRI_V2, v3=CRI_V3),
                    evidence=(ev,),
                    fix=_("move the settings to [plugins.'{v3}'.containerd...]").format(v3=CRI_V3),
                    files=(holder,),
                )
            )
    disabled = _list_leaves(files, "disabled_plugins", {CRI_V1: CRI_V2})
    return MergedConfig(
        major=2,
        config_version=config_version,
        plugin=CRI_V3,
        tree=tree,
        disabled=tuple(disabled),
        problems=tuple(problems),
    )
