"""Where each deployer keeps containerd's configuration and what it renders into it: the
standard ``/etc/containerd/config.toml``; MicroK8s's ``args/containerd-template.toml`` (the
rendered ``containerd.toml`` is regenerated from it on every start, ``${RUNTIME}`` filled in);
k3s's ``config-v3.toml.tmpl`` (containerd 2.x) or ``config.toml.tmpl``, which may start from
k3s's own ``base`` template, else the ``config.toml`` k3s renders itself on every start with
the driver it also gives its kubelet (research runtimes.md §1, §5). RKE2 renders the same
templates (k3s's agent code) in its own data directory: the deployer model
(facts/deployers.py ``containerd_config``) says where."""

from __future__ import annotations

import copy
import posixpath
from typing import Any

from nodedoctor._record import record
from nodedoctor.facts import Facts, Sourced
from nodedoctor.facts.containerd.merging import merge_tree
from nodedoctor.facts.containerd.model import CRI_V2, LoadedFile, options_table
from nodedoctor.facts.deployers import BY_NAME, K3S, K3S_AGENT, KUBEADM, SNAP_ARGS, Deployer
from nodedoctor.facts.packages import packages
from nodedoctor.facts.versions import Version
from nodedoctor.parsers.containerd import (
    ContainerdConfigFile,
    Path,
    TomlLine,
    parse_containerd_config,
    render_k3s_template,
)

CONFIG = KUBEADM.containerd_config
MICROK8S_TEMPLATE = "/var/snap/microk8s/current/args/containerd-template.toml"
MICROK8S_RENDERED = "/var/snap/microk8s/current/args/containerd.toml"
K3S_RENDERED = K3S.containerd_config
K3S_DIR = posixpath.dirname(K3S_RENDERED)
K3S_TEMPLATE, K3S_TEMPLATE_V3 = f"{K3S_DIR}/config.toml.tmpl", f"{K3S_DIR}/config-v3.toml.tmpl"

SOCKET = KUBEADM.containerd_socket
MICROK8S_SOCKET = "unix:///var/snap/microk8s/common/run/containerd.sock"
K3S_SOCKET = K3S.containerd_socket


@record
class K3sBase:
    """The line of a k3s template that includes k3s's own ``base`` template."""

    template: str
    line: int
    text: str


@record
class Layout:
    """Where this node's deployer keeps containerd's configuration."""

    name: str  # "standard", "microk8s" or "k3s" (k3s's templates: k3s and RKE2)
    endpoint: str
    #: The top file to load (the config or the deployer's template).
    top: str
    #: The deployer's rendering of a template (its variables filled in), by path.
    texts: dict[str, str] | None = None
    #: The major version the deployer bundles, when it tells (k3s), and how that is known.
    semantics: int | None = None
    semantics_note: str = ""
    #: The word k3s writes for ``{{ .SystemdCgroup }}`` ("true"/"false"), with its evidence.
    k3s_choice: Sourced[str] | None = None
    #: k3s without a template: it renders config.toml itself with this choice.
    k3s_default: Sourced[str] | None = None
    k3s_base: K3sBase | None = None
    notes: tuple[str, ...] = ()
    #: The deployer that renders k3s's templates (``k3s``, ``RKE2``) and the file it renders.
    renderer: str = ""
    rendered: str = ""

    @property
    def templates(self) -> tuple[str, str]:
        return k3s_templates(self.rendered)


def k3s_templates(rendered: str) -> tuple[str, str]:
    """The templates beside a rendered k3s ``config.toml``: for containerd 1.x (or any), and
    for containerd 2.x only."""
    directory = posixpath.dirname(rendered)
    return f"{directory}/config.toml.tmpl", f"{directory}/config-v3.toml.tmpl"


def _k3s_systemd(facts: Facts, deployer: Deployer) -> Sourced[str] | None:
    """The value k3s writes for ``{{ .SystemdCgroup }}`` (the same it gives its kubelet)."""
    from nodedoctor.facts.kubelet import kubelet_facts

    for word in facts.get(kubelet_facts).words:
        if word.evidence.source == deployer.name and word.word.startswith("--cgroup-driver="):
            driver = word.word.split("=", 1)[1]
            return Sourced("true" if driver == "systemd" else "false", word.evidence)
    return None


def _k3s_version(facts: Facts, deployer: Deployer) -> Sourced[Version] | None:
    if deployer is not K3S:
        return None  # RKE2's containerd follows its own releases
    item = facts.get(packages).get("k3s")
    return Sourced(item.version, item.evidence) if item and item.version else None


def _k3s_bundles_containerd2(version: Version) -> bool:
    """k3s bundles containerd 2.0 from v1.31.6+k3s1 and v1.32.2+k3s1 (runtimes.md §5)."""
    r = version.release
    return r >= (1, 32, 2) or (r[:2] == (1, 31) and r >= (1, 31, 6))


def _microk8s(facts: Facts) -> Layout:
    texts: dict[str, str] | None = None
    notes: tuple[str, ...] = ()
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
            notes = (f"${{RUNTIME}} is {name!r} in {MICROK8S_RENDERED}",)
    return Layout(
        name="microk8s", endpoint=MICROK8S_SOCKET, top=MICROK8S_TEMPLATE, texts=texts, notes=notes
    )


def _k3s(facts: Facts, deployer: Deployer) -> Layout:
    notes: list[str] = []
    rendered = deployer.containerd_config
    template, template_v3 = k3s_templates(rendered)
    k3s = _k3s_version(facts, deployer)
    major2 = _k3s_bundles_containerd2(k3s.value) if k3s else None
    semantics: int | None = None
    semantics_note = ""
    if major2 is not None and k3s is not None:
        semantics = 2 if major2 else 1
        semantics_note = f"k3s {k3s.value} bundles containerd {'2.x' if major2 else '1.x'}"
    choice = _k3s_systemd(facts, deployer)
    values = {"SystemdCgroup": choice.value} if choice else {}
    candidates = [template] if major2 is False else [template_v3, template]
    for cand in candidates:
        text = facts.read(cand)
        if text is not None:
            text_rendered, base_line = render_k3s_template(text, values)
            base = None
            if base_line is not None:
                notes.append(f"{cand} starts from k3s's base template")
                base = K3sBase(
                    template=cand, line=base_line, text=text.splitlines()[base_line - 1].strip()
                )
            return Layout(
                name="k3s",
                endpoint=deployer.containerd_socket,
                top=cand,
                texts={cand: text_rendered},
                semantics=semantics,
                semantics_note=semantics_note,
                k3s_choice=choice,
                k3s_base=base,
                notes=tuple(notes),
                renderer=deployer.title,
                rendered=rendered,
            )
    if choice is None and facts.root.exists(rendered):
        notes.append(f"no template: {deployer.title} regenerates {rendered} with its own defaults")
    return Layout(
        name="k3s",
        endpoint=deployer.containerd_socket,
        top=rendered,
        semantics=semantics,
        semantics_note=semantics_note,
        k3s_choice=choice,
        # k3s renders config.toml from its base template on every start, with the driver it
        # also gives its kubelet; an edit to the rendered file never runs.
        k3s_default=choice,
        notes=tuple(notes),
        renderer=deployer.title,
        rendered=rendered,
    )


def deployer_layout(facts: Facts, profile: str | None) -> Layout:
    """Where the deployer ``profile`` (facts/profile.py) keeps containerd's configuration."""
    deployer = BY_NAME.get(profile or "")
    if deployer is not None and deployer.launcher == SNAP_ARGS:
        return _microk8s(facts)
    if deployer is not None and deployer.launcher == K3S_AGENT:
        return _k3s(facts, deployer)
    return Layout(name="standard", endpoint=SOCKET, top=CONFIG)


def with_k3s_base(f: LoadedFile, base: K3sBase, systemd: bool) -> LoadedFile:
    """The template with what k3s's ``base`` template contributes to the runc handler (the
    driver k3s chose), placed on the line that includes it. The rendered file is one TOML
    document, so the template's own keys sit beside the base's, key by key."""
    version = f.config.version or (3 if f.path.endswith("/config-v3.toml.tmpl") else 2)
    runc: Path = options_table(version, "runc")[:-1]
    tree: dict[str, Any] = {"version": version}
    node = tree
    for part in runc:
        node = node.setdefault(part, {})
    node["runtime_type"] = "io.containerd.runc.v2"
    node["options"] = {"SystemdCgroup": systemd}
    merged = copy.deepcopy(tree)
    merge_tree(merged, f.config.data)
    lines = dict(f.config.lines)
    where = TomlLine(base.line, base.text)
    for path in (
        ("version",),
        *(runc[:i] for i in range(1, len(runc) + 1)),
        (*runc, "runtime_type"),
        (*runc, "options"),
        (*runc, "options", "SystemdCgroup"),
    ):
        lines.setdefault(path, where)
    return LoadedFile(
        path=f.path,
        config=ContainerdConfigFile(merged, lines, f.config.headers),
        imported_by=f.imported_by,
    )
