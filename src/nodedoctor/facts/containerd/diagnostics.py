"""What containerd ignores or refuses beyond the merge itself (``containerd-config-ignored``):
``SystemdCgroup`` in a table nobody reads, imports that do not exist or that 1.x globs from
``/``, and a deployer's rendered file edited by hand (the next start overwrites it)."""

from __future__ import annotations

import posixpath
from typing import Any

from nodedoctor.facts import Facts, Sourced, file_evidence
from nodedoctor.facts.containerd.layouts import MICROK8S_RENDERED, MICROK8S_TEMPLATE, Layout
from nodedoctor.facts.containerd.model import (
    CRI_V1,
    CRI_V2,
    CRI_V3,
    ConfigProblem,
    LoadedFile,
    RuncHandler,
    evidence_at,
    options_table,
)
from nodedoctor.i18n import _
from nodedoctor.model import Evidence, Severity
from nodedoctor.parsers.containerd import Path, parse_containerd_config


def _walk_keys(node: Any, path: Path, key: str) -> list[Path]:
    out: list[Path] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key and not isinstance(v, dict):
                out.append((*path, k))
            else:
                out.extend(_walk_keys(v, (*path, k), key))
    return out


def misplaced_keys(files: list[LoadedFile]) -> list[ConfigProblem]:
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
            ev = evidence_at(files, f.path, path, "SystemdCgroup")
            handler = (
                path[4] if path[2:4] == ("containerd", "runtimes") and len(path) > 5 else "runc"
            )
            right = ".".join(
                p if p.replace("_", "").replace("-", "").isalnum() else f'"{p}"'
                for p in options_table(f.file_version, handler)
            )
            out.append(
                ConfigProblem(
                    severity=Severity.ERROR,
                    title=_("SystemdCgroup is in a table containerd does not read it from"),
                    message=_(
                        "{file} sets SystemdCgroup under [{table}], but containerd reads it only "
                        "from a runtime handler's options table ([{right}] in a version "
                        "{version} file); it has no effect"
                    ).format(
                        file=f.path,
                        table=".".join(path[:-1]),
                        right=right,
                        version=f.file_version,
                    ),
                    evidence=(ev,),
                    fix=_("move the key to [{right}]").format(right=right),
                    files=(f.path,),
                )
            )
    return out


def k3s_rendered_edited(facts: Facts, layout: Layout, choice: Sourced[str]) -> list[ConfigProblem]:
    """k3s (or RKE2) without a template: its rendered config.toml says another driver than
    it writes."""
    rendered, who = layout.rendered, layout.renderer
    template, template_v3 = layout.templates
    cfg = facts.parse(rendered, parse_containerd_config)
    if cfg is None:
        return []
    path = (*options_table(cfg.version or 1, "runc"), "SystemdCgroup")
    value = cfg.get(path)
    wanted = choice.value == "true"
    if not isinstance(value, bool) or value == wanted:
        return []
    where = cfg.locate(path)
    ev = file_evidence(rendered, where.text, where.line) if where else Evidence(rendered, "")
    return [
        ConfigProblem(
            severity=Severity.WARNING,
            title=_(
                "the rendered {who} config.toml was edited; {who} regenerates it on every start"
            ).format(who=who),
            message=_(
                "{file} says SystemdCgroup = {value}, but {who} writes it from its own template "
                "on every start with SystemdCgroup = {choice} (the driver it also gives its "
                "kubelet), so the edit never takes effect"
            ).format(file=rendered, value=str(value).lower(), who=who, choice=choice.value),
            evidence=(ev, choice.evidence),
            fix=_(
                "put the change in {template} (or {template_v3} with containerd 2.x), starting "
                'it with {{{{ template "base" . }}}}, and change the kubelet the same way'
            ).format(template=template, template_v3=template_v3),
            files=(template,),
        )
    ]


def rendered_problems(
    facts: Facts, layout: Layout, files: list[LoadedFile], h: RuncHandler | None
) -> list[ConfigProblem]:
    """MicroK8s/k3s/RKE2: a rendered file edited by hand, which the next start overwrites."""
    if layout.name == "microk8s":
        rendered, source = MICROK8S_RENDERED, MICROK8S_TEMPLATE
    elif layout.name == "k3s" and files and files[0].path != layout.rendered:
        rendered, source = layout.rendered, files[0].path
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
                severity=Severity.WARNING,
                title=_(
                    "the rendered {name} was edited; the next start regenerates it from the "
                    "template"
                ).format(name=posixpath.basename(rendered)),
                message=_(
                    "{file} says SystemdCgroup = {value} but it is regenerated from {source} "
                    "(which gives {source_value}) every time containerd starts, so the edit "
                    "will be lost"
                ).format(
                    file=rendered,
                    value=str(value).lower(),
                    source=source,
                    source_value=str(h.systemd_cgroup).lower(),
                ),
                evidence=(ev, h.evidence),
                fix=_("make the change in {source} instead").format(source=source),
                files=(source,),
            )
        ]
    return []


def import_problems(
    files: list[LoadedFile],
    missing: list[tuple[str, str]],
    relative_globs: list[tuple[LoadedFile, str]],
) -> list[ConfigProblem]:
    out: list[ConfigProblem] = []
    for path, parent in missing:
        ev = evidence_at(files, parent, ("imports",), "imports")
        out.append(
            ConfigProblem(
                severity=Severity.ERROR,
                title=_("containerd refuses the configuration: an imported file does not exist"),
                message=_(
                    "{parent} imports {path}, which does not exist; containerd fails with "
                    "`failed to load TOML: {path}: open {path}: no such file or directory`"
                ).format(parent=parent, path=path),
                evidence=(ev,),
                fix=_(
                    "create {path} or remove it from imports (a glob such as *.toml may match "
                    "nothing)"
                ).format(path=path),
                files=(parent,),
            )
        )
    for f, pattern in relative_globs:
        ev = evidence_at(files, f.path, ("imports",), "imports")
        out.append(
            ConfigProblem(
                severity=Severity.WARNING,
                title=_("containerd 1.x expands a relative import glob from its working directory"),
                message=_(
                    "{file} imports {pattern!r}: containerd 1.x globs a relative pattern from its "
                    "working directory (/ under systemd), not from the file's directory, so it "
                    "reads /{read} (containerd 2.x joins it to the file's directory)"
                ).format(file=f.path, pattern=pattern, read=pattern.lstrip("./")),
                evidence=(ev,),
                fix=_("write the pattern as an absolute path, e.g. {path}").format(
                    path=posixpath.join(posixpath.dirname(f.path), pattern)
                ),
                files=(f.path,),
            )
        )
    return out
