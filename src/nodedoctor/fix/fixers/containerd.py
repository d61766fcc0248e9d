"""containerd fixers: ``SystemdCgroup`` at the right table for the file's config version,
``cri`` out of ``disabled_plugins``, and ``version = 2`` for a version-1 file whose v2
tables containerd 1.x ignores (only when that is safe).

Which file and which table come from ``facts/containerd`` (the file whose line wins, or
where an inserted key will be read; MicroK8s: the template, never the rendered file). The
edits are tomlkit edits verified by re-parsing (``fix/tomledit.py``); the real containerd
loading such files is tested in ``tests/fix/test_containerd_edits.py``.

Never edited here: k3s (k3s keeps its kubelet and containerd consistent itself: flipping one
side breaks that), and a ``version = 2`` line while a short plugin name such as ``cri`` is
still used (1.x then refuses to start: ``invalid disabled plugin URI "cri"``).
"""

from __future__ import annotations

from nodedoctor.facts.containerd import (
    CRI_NAMES,
    RUNC_TYPES,
    ContainerdFacts,
    RuncHandler,
    containerd_facts,
    options_table,
)
from nodedoctor.facts.kubelet import kubelet_facts
from nodedoctor.facts.runtime import runtime_facts
from nodedoctor.facts.system import init_system
from nodedoctor.fix.fixers.base import FixerEntry
from nodedoctor.fix.fixers.crio import set_crio_manager
from nodedoctor.fix.fixers.kubelet import set_kubelet_driver
from nodedoctor.fix.plan import Workspace
from nodedoctor.fix.textedit import EditError
from nodedoctor.fix.tomledit import insert_top_key, parse, plain, remove_from_array, set_key
from nodedoctor.model import Finding

DRIVER_MISMATCH = "cgroup-driver-mismatch"
CRI_DISABLED = "containerd-cri-disabled"
CONFIG_IGNORED = "containerd-config-ignored"


def restart_containerd(ws: Workspace, cf: ContainerdFacts, rule: str) -> None:
    if cf.layout == "microk8s":
        ws.restart("microk8s", rule, manager="snap")
    elif cf.layout == "standard":
        ws.restart("containerd.service", rule)


def _file_version(text: str, path: str) -> int:
    try:
        data = plain(parse(text))
    except EditError as exc:
        raise exc.at(path) from None
    version = data.get("version", 1)
    return version if isinstance(version, int) else 1


def _set_driver(ws: Workspace, handler: RuncHandler, systemd: bool, rule: str) -> None:
    text = ws.read_text(handler.file)
    if text is None:
        raise EditError("cannot read it as UTF-8 text", handler.file).at(handler.file)
    # The table in the file's version as planned (an earlier fix may add `version = 2`).
    version = _file_version(text, handler.file)
    table = (
        options_table(version, handler.name) if version != handler.file_version else handler.table
    )
    try:
        new = set_key(text, table, "SystemdCgroup", systemd, literal_keys=version >= 3)
    except EditError as exc:
        raise exc.at(handler.file) from None
    where = ".".join(f'"{part}"' if "." in part else part for part in table)
    ws.write_text(
        handler.file,
        new,
        rule=rule,
        description=f"SystemdCgroup = {str(systemd).lower()} in [{where}]",
        fmt="toml",
    )


def fix_driver_mismatch(ws: Workspace, finding: Finding) -> None:
    """Make containerd's runc handlers use the kubelet's driver (the runtime side: the
    kubelet's choice is the deployer's, e.g. kubeadm's systemd default)."""
    cf = ws.facts.get(containerd_facts)
    kubelet = ws.facts.get(kubelet_facts)
    if cf.layout == "k3s" or kubelet.profile.name == "k3s":
        ws.instruct(
            finding.rule,
            "let k3s choose the driver for both sides (it passes the same value to its kubelet "
            "and its containerd template); remove the override that makes them differ",
            "k3s keeps its kubelet and containerd consistent itself; nodedoctor never flips "
            "only one side of k3s",
        )
        return
    driver = kubelet.cgroup_driver
    if driver is None or driver.value not in ("systemd", "cgroupfs"):
        raise EditError("the kubelet's cgroup driver is unknown")
    gate = kubelet.driver_from_cri
    runtime = ws.facts.get(runtime_facts)
    if gate is not None and gate.value is True and runtime.implements_runtime_config:
        # The kubelet takes the runtime's driver over RuntimeConfig: the runtime is right by
        # definition; only the ignored kubelet setting can be brought in line.
        if runtime.cgroup_driver is None:
            raise EditError("the runtime's effective driver is unknown")
        set_kubelet_driver(ws, runtime.cgroup_driver.value, finding.rule)
        return
    systemd = driver.value == "systemd"
    if systemd and ws.facts.get(init_system).systemd is False:
        raise EditError(
            "the kubelet asks for the systemd driver on a node whose PID 1 is not systemd; "
            "fix the kubelet side (see cgroup-driver-not-systemd)"
        )
    if runtime.name == "cri-o":
        set_crio_manager(ws, "systemd" if systemd else "cgroupfs", finding.rule)
        _drain_note(ws, finding.rule)
        return
    if runtime.name not in (None, "containerd"):
        raise EditError(f"the runtime is {runtime.name}; set its cgroup driver by hand")
    if not cf.present or not cf.handlers:
        raise EditError("no containerd configuration with a runc handler to edit")
    # SystemdCgroup is an option of runc-type handlers only (runtimes.md §1.1, §1.5).
    handlers = [
        h
        for h in cf.handlers.values()
        if h.runtime_type in RUNC_TYPES and h.systemd_cgroup != systemd
    ]
    if not handlers:
        raise EditError("every runc handler already uses the kubelet's driver")
    for handler in handlers:
        _set_driver(ws, handler, systemd, finding.rule)
    restart_containerd(ws, cf, finding.rule)
    _drain_note(ws, finding.rule)


def _drain_note(ws: Workspace, rule: str) -> None:
    ws.instruct(
        rule,
        "drain the node before restarting containerd and the kubelet if it has joined a "
        "cluster: existing pod sandboxes were made with the other driver",
        "changing the driver under running pods can break their re-creation (Kubernetes "
        "container-runtimes documentation)",
    )


def fix_cri_disabled(ws: Workspace, finding: Finding) -> None:
    cf = ws.facts.get(containerd_facts)
    if cf.cri is None:
        raise EditError("containerd's facts do not say why CRI is off")
    path = cf.cri.file
    text = ws.read_text(path)
    if text is None:
        raise EditError("cannot read it as UTF-8 text", path).at(path)
    try:
        new = remove_from_array(text, ["disabled_plugins"], list(CRI_NAMES))
    except EditError as exc:
        raise exc.at(path) from None
    if new == text:
        raise EditError(f"CRI is off for another reason: {cf.cri.reason}", path)
    ws.write_text(
        path,
        new,
        rule=finding.rule,
        description="remove the CRI plugin from disabled_plugins",
        fmt="toml",
    )
    restart_containerd(ws, cf, finding.rule)


def _version_2_is_safe(data: dict[str, object]) -> str | None:
    """``None`` when adding ``version = 2`` to this version-1 file changes nothing but the
    reading of its full-name plugin tables; else why not."""
    for key in ("disabled_plugins", "required_plugins"):
        names = data.get(key) or []
        if isinstance(names, list) and any("." not in str(n) for n in names):
            return f"{key} uses a short plugin name, which version 2 refuses"
    plugins = data.get("plugins")
    if isinstance(plugins, dict) and any("." not in str(k) for k in plugins):
        return "the file has short-named plugin tables (plugins.cri ...), which version 2 refuses"
    return None


def fix_config_ignored(ws: Workspace, finding: Finding) -> None:
    """The one case with a safe edit: a version-1 file holding full-name (v2) plugin tables
    that containerd 1.x ignores; with nothing short-named left, add ``version = 2``."""
    cf = ws.facts.get(containerd_facts)
    if cf.major is None or cf.major >= 2:
        raise EditError(
            "only containerd 1.x (installed version known) ignores v2 tables in a version-1 file"
        )
    if cf.version is None or cf.version.value.release[:2] < (1, 3):
        raise EditError("containerd older than 1.3 does not read version 2 files")
    edited = False
    for loaded in cf.files:
        text = ws.read_text(loaded.path)
        if text is None:
            continue
        try:
            data = plain(parse(text))
        except EditError as exc:
            raise exc.at(loaded.path) from None
        plugins = data.get("plugins")
        full_names = isinstance(plugins, dict) and any("." in str(k) for k in plugins)
        if "version" in data or not full_names:
            continue
        why_not = _version_2_is_safe(data)
        if why_not is not None:
            raise EditError(f"adding version = 2 is not safe: {why_not}", loaded.path).at(
                loaded.path
            )
        ws.write_text(
            loaded.path,
            insert_top_key(text, "version", 2),
            rule=finding.rule,
            description="add version = 2 so containerd 1.x reads the file's v2 plugin tables",
            fmt="toml",
        )
        edited = True
    if not edited:
        raise EditError("no safe edit for this: follow the finding's fix by hand")
    restart_containerd(ws, cf, finding.rule)


FIXERS = (
    FixerEntry(CRI_DISABLED, fix_cri_disabled),
    FixerEntry(CONFIG_IGNORED, fix_config_ignored),
    FixerEntry(DRIVER_MISMATCH, fix_driver_mismatch),
)
