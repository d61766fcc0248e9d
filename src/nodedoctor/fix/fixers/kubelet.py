"""Kubelet fixers: systemd delegation for the kubelet's unit, and removing the
``--cgroups-per-qos=false`` workaround once its cause is gone.

Where a setting lives comes from ``facts/kubelet`` (the file, line and token that set
it); these fixers only edit that token or line.
"""

from __future__ import annotations

import yaml

from nodedoctor.facts.cgroups import CgroupMode, cgroup_facts
from nodedoctor.facts.kubelet import KubeletFacts, Setting, kubelet_facts
from nodedoctor.facts.system import init_system
from nodedoctor.fix.fixers.base import FixerEntry
from nodedoctor.fix.plan import Workspace
from nodedoctor.fix.textedit import (
    EditError,
    remove_flag,
    remove_yaml_key,
    set_flag_line,
    set_yaml_key,
    systemd_dropin,
)
from nodedoctor.model import Finding

NOT_DELEGATED = "cgroup-controller-not-delegated"
QOS_DISABLED = "qos-cgroups-disabled"
MICROK8S_UNIT = "snap.microk8s.daemon-kubelite.service"
MICROK8S_ARGS = "/var/snap/microk8s/current/args/kubelet"
#: Rules whose finding means the cause of the QoS workaround is still there.
QOS_CAUSES = (NOT_DELEGATED, "cgroup-controller-disabled", "kubepods-invalid")
#: The v2 controllers the kubelet validates on kubepods (kubelet-cgroups.md §1.2).
KUBEPODS_V2_CONTROLLERS = ("cpu", "cpuset", "memory", "hugetlb", "pids")


def restart_kubelet(ws: Workspace, kubelet: KubeletFacts, rule: str) -> None:
    """Name the service that runs the kubelet (MicroK8s restarts as a snap)."""
    if kubelet.profile.name == "microk8s" or kubelet.unit == MICROK8S_UNIT:
        ws.restart("microk8s", rule, manager="snap")
    elif kubelet.unit:
        ws.restart(kubelet.unit, rule)


def dropin_dir(unit: str) -> str:
    return f"/etc/systemd/system/{unit}.d"


def _snap_confinement(ws: Workspace) -> str | None:
    text = ws.facts.read("/snap/microk8s/current/meta/snap.yaml")
    if text is None:
        return None
    try:
        meta = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    value = meta.get("confinement") if isinstance(meta, dict) else None
    return value if isinstance(value, str) else None


def fix_delegation(ws: Workspace, finding: Finding) -> None:
    """``Delegate=yes`` for the kubelet's unit (MicroK8s#4503 does exactly this for
    kubelite), then ``systemctl daemon-reload``; the restart is the user's call."""
    kubelet = ws.facts.get(kubelet_facts)
    unit = kubelet.unit
    if unit is None:
        raise EditError("no systemd unit runs the kubelet here; nothing to delegate to")
    if ws.facts.get(init_system).systemd is False:
        raise EditError("this node does not run systemd; Delegate= has no effect")
    if unit == MICROK8S_UNIT and _snap_confinement(ws) != "classic":
        raise EditError(
            "MicroK8s's own delegation fix (microk8s#4503) applies to classic confinement "
            "only, and this snap's confinement is not known to be classic"
        )
    path = f"{dropin_dir(unit)}/delegate.conf"
    current = kubelet.delegate
    if current is not None and current.value.strip().lower() in ("yes", "true", "1", "on"):
        raise EditError(
            f"{unit} already has Delegate={current.value} ({current.evidence.source}); the "
            "controller is missing for another reason",
            current.evidence.source,
        )
    if current is not None and current.evidence.source.rsplit("/", 1)[-1] > "delegate.conf":
        raise EditError(
            f"{current.evidence.source} sets Delegate={current.value} and sorts after "
            f"{path}, so a drop-in would not win; edit that file by hand",
            current.evidence.source,
        )
    existing = ws.read_text(path)
    text = systemd_dropin(
        "Service",
        [("Delegate", "yes")],
        "nodedoctor: let the kubelet manage the cgroup controllers under its unit",
    )
    if existing is not None and existing != text:
        raise EditError(f"{path} exists with other content; edit it by hand", path)
    ws.write_text(
        path,
        text,
        rule=finding.rule,
        description=f"Delegate=yes for {unit}",
        fmt="systemd",
    )
    ws.run(("systemctl", "daemon-reload"), finding.rule, f"load the new drop-in of {unit}")
    restart_kubelet(ws, kubelet, finding.rule)
    ws.clears_after_restart(finding.rule)


def set_kubelet_driver(ws: Workspace, driver: str, rule: str) -> None:
    """Set the kubelet's ``cgroupDriver`` where it is decided: the config line, the
    MicroK8s args line, or (unset) a new key in the config file."""
    kubelet = ws.facts.get(kubelet_facts)
    setting = kubelet.cgroup_driver
    if kubelet.profile.name == "k3s":
        raise EditError("k3s sets its kubelet's driver itself; never flip one side of k3s")
    if setting is None:
        raise EditError("the kubelet's configuration is unknown")
    if setting.origin in ("config", "config-dir") or (
        setting.origin == "default" and kubelet.config_path is not None
    ):
        path = setting.evidence.source if setting.origin != "default" else ""
        if setting.origin == "default" and kubelet.config_path is not None:
            path = kubelet.config_path.value
        text = ws.read_text(path)
        if text is None:
            raise EditError("cannot read it", path).at(path)
        try:
            new = set_yaml_key(text, "cgroupDriver", driver)
        except EditError as exc:
            raise exc.at(path) from None
        ws.write_text(path, new, rule=rule, description=f"cgroupDriver: {driver}", fmt="yaml")
    elif setting.origin in ("flag", "default") and kubelet.profile.name == "microk8s":
        path = setting.evidence.source if setting.origin == "flag" else MICROK8S_ARGS
        text = ws.read_text(path)
        if text is None:
            raise EditError("cannot read it", path).at(path)
        ws.write_text(
            path,
            set_flag_line(text, "--cgroup-driver", driver),
            rule=rule,
            description=f"--cgroup-driver={driver}",
            fmt="text",
        )
    else:
        raise EditError(
            f"the kubelet's driver is set by {setting.origin} ({setting.evidence.source}); "
            "change it there by hand"
        )
    restart_kubelet(ws, kubelet, rule)


def _workaround_settings(kubelet: KubeletFacts) -> list[Setting]:
    out: list[Setting] = []
    qos = kubelet.setting("cgroupsPerQOS")
    if qos is not None and qos.value is False and not qos.is_default:
        out.append(qos)
    enforce = kubelet.setting("enforceNodeAllocatable")
    if (
        enforce is not None
        and not enforce.is_default
        and isinstance(enforce.value, list)
        and not [v for v in enforce.value if v]
    ):
        out.append(enforce)
    return out


def _remove_setting(ws: Workspace, kubelet: KubeletFacts, setting: Setting, rule: str) -> None:
    if setting.origin == "flag" and setting.flag:
        flag = f"--{setting.flag}"
        # Every file that carries the flag: the last one wins, so all of them must go.
        files = dict.fromkeys(
            w.evidence.source
            for w in kubelet.words
            if w.word == flag or w.word.startswith(flag + "=")
        )
        if kubelet.profile.name == "k3s":
            raise EditError(
                "k3s passes kubelet flags through kubelet-arg in its own config; remove "
                f"{setting.flag_text} there by hand",
                setting.evidence.source,
            )
        for path in files or (setting.evidence.source,):
            text = ws.read_text(path)
            if text is None:
                raise EditError("cannot read it", path).at(path)
            new = remove_flag(text, flag)
            if new == text:
                raise EditError(f"{flag} is not written where the facts say", path).at(path)
            ws.write_text(
                path, new, rule=rule, description=f"remove {flag} (the workaround)", fmt="text"
            )
    elif setting.origin in ("config", "config-dir"):
        path = setting.evidence.source
        text = ws.read_text(path)
        if text is None:
            raise EditError("cannot read it", path).at(path)
        try:
            new = remove_yaml_key(text, setting.name)
        except EditError as exc:
            raise exc.at(path) from None
        ws.write_text(
            path, new, rule=rule, description=f"remove {setting.name} (the workaround)", fmt="yaml"
        )
    else:
        raise EditError(f"{setting.name} is set by {setting.origin}; change it by hand")


def _delegation_ok(ws: Workspace) -> str | None:
    """``None`` when the root subtree_control gives every controller the kubelet validates
    (the MicroK8s#4361 cause is gone); else why that cannot be said."""
    cg = ws.facts.get(cgroup_facts)
    if cg.mode is not CgroupMode.V2:
        return "the node is not on cgroup v2, where nodedoctor can see the cause"
    if not cg.v2_root_controllers or not cg.v2_root_subtree_control:
        return "/sys/fs/cgroup/cgroup.controllers or cgroup.subtree_control is not in this root"
    lost = [
        c
        for c in KUBEPODS_V2_CONTROLLERS
        if c in cg.v2_root_controllers.value and c not in cg.v2_root_subtree_control.value
    ]
    if lost:
        return f"/sys/fs/cgroup/cgroup.subtree_control still lacks {' '.join(lost)}"
    return None


def fix_qos_workaround(ws: Workspace, finding: Finding) -> None:
    """Remove ``--cgroups-per-qos=false`` / ``--enforce-node-allocatable=""`` (or their
    config keys), but only once the cause they work around is known to be gone."""
    causes = sorted({f.rule for f in ws.findings if f.rule in QOS_CAUSES})
    why_not = _delegation_ok(ws)
    if causes or why_not:
        first = f"fix {', '.join(causes)} first" if causes else f"first make sure that {why_not}"
        ws.instruct(
            finding.rule,
            f"{first}: restart the kubelet, then run 'nodedoctor fix' again to remove the "
            "workaround",
            "removing the workaround while its cause is still there (or unknown) brings back "
            "the 'root container [kubepods] doesn't exist' crash loop"
            + (f"; here {why_not}" if why_not and causes else ""),
        )
        return
    kubelet = ws.facts.get(kubelet_facts)
    settings = _workaround_settings(kubelet)
    if not settings:
        raise EditError("the facts name no file that sets the workaround")
    for setting in settings:
        _remove_setting(ws, kubelet, setting, finding.rule)
    restart_kubelet(ws, kubelet, finding.rule)


def fix_kubepods_invalid(ws: Workspace, finding: Finding) -> None:
    """kubepods is made by the kubelet at start: when its cause is the missing delegation,
    that fix (and a kubelet restart) is the fix; otherwise nothing to edit safely."""
    if any(f.rule == NOT_DELEGATED for f in ws.findings):
        ws.clears_after_restart(finding.rule)
        ws.instruct(
            finding.rule,
            f"fixed by the {NOT_DELEGATED} fix in this plan, then a restart of the kubelet",
            "the kubelet validates and creates kubepods when it starts; there is no file to "
            "edit for it",
        )
        return
    raise EditError(
        "no file edit fixes this on its own; follow the finding's fix (nodedoctor explain "
        f"{finding.rule})"
    )


FIXERS = (
    FixerEntry(NOT_DELEGATED, fix_delegation),
    FixerEntry(QOS_DISABLED, fix_qos_workaround),
    FixerEntry("kubepods-invalid", fix_kubepods_invalid),
)
