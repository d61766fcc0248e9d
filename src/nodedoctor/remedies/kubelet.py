"""The kubelet's remedies: systemd delegation for its unit, its cgroup driver where it is
decided, and removing the ``--cgroups-per-qos=false`` workaround once its cause is gone.

Where a setting lives comes from ``facts/kubelet`` (the file, line and token that set it);
these remedies edit only that token or line.
"""

from __future__ import annotations

from nodedoctor.facts import Facts
from nodedoctor.facts.cgroups import CgroupMode, cgroup_facts
from nodedoctor.facts.kubelet import KubeletFacts, Setting, kubelet_facts
from nodedoctor.facts.packages import snap_confinement
from nodedoctor.facts.system import init_system
from nodedoctor.i18n import N_, _
from nodedoctor.remedies.steps import (
    ClearsAfterRestart,
    Command,
    FlagRemove,
    FlagSet,
    Instruction,
    Refuse,
    Remedy,
    Restart,
    Step,
    WriteFile,
    YamlRemove,
    YamlSet,
    refused,
)

NOT_DELEGATED = "cgroup-controller-not-delegated"
MICROK8S_UNIT = "snap.microk8s.daemon-kubelite.service"
MICROK8S_ARGS = "/var/snap/microk8s/current/args/kubelet"
#: Rules whose finding means the cause of the QoS workaround is still there.
QOS_CAUSES = (NOT_DELEGATED, "cgroup-controller-disabled", "kubepods-invalid")
#: The v2 controllers the kubelet validates on kubepods (kubelet-cgroups.md §1.2).
KUBEPODS_V2_CONTROLLERS = ("cpu", "cpuset", "memory", "hugetlb", "pids")


def restart_kubelet(kubelet: KubeletFacts) -> tuple[Step, ...]:
    """The service that runs the kubelet (MicroK8s restarts as a snap)."""
    if kubelet.profile.name == "microk8s" or kubelet.unit == MICROK8S_UNIT:
        return (Restart("microk8s", manager="snap"),)
    if kubelet.unit:
        return (Restart(kubelet.unit),)
    return ()


def dropin_dir(unit: str) -> str:
    return f"/etc/systemd/system/{unit}.d"


def unit_dropin(section: str, settings: list[tuple[str, str]], comment: str) -> str:
    """The text of a systemd drop-in that sets ``settings`` in ``[section]``.

    >>> print(unit_dropin("Service", [("Delegate", "yes")], "why"), end="")
    # why
    [Service]
    Delegate=yes
    """
    body = "\n".join(f"{k}={v}" for k, v in settings)
    return f"# {comment}\n[{section}]\n{body}\n"


def delegation_remedy(facts: Facts) -> Remedy:
    """``Delegate=yes`` for the kubelet's unit (MicroK8s#4503 does exactly this for
    kubelite), then ``systemctl daemon-reload``; the restart is the user's call."""
    kubelet = facts.get(kubelet_facts)
    unit = kubelet.unit
    if unit is None:
        return refused(_("no systemd unit runs the kubelet here; nothing to delegate to"))
    if facts.get(init_system).systemd is False:
        return refused(_("this node does not run systemd; Delegate= has no effect"))
    if unit == MICROK8S_UNIT and snap_confinement(facts, "microk8s") != "classic":
        return refused(
            _(
                "MicroK8s's own delegation fix (microk8s#4503) applies to classic confinement "
                "only, and this snap's confinement is not known to be classic"
            )
        )
    path = f"{dropin_dir(unit)}/delegate.conf"
    current = kubelet.delegate
    if current is not None and current.value.strip().lower() in ("yes", "true", "1", "on"):
        return refused(
            _(
                "{unit} already has Delegate={value} ({source}); the controller is missing "
                "for another reason"
            ).format(unit=unit, value=current.value, source=current.evidence.source),
            current.evidence.source,
        )
    if current is not None and current.evidence.source.rsplit("/", 1)[-1] > "delegate.conf":
        return refused(
            _(
                "{source} sets Delegate={value} and sorts after {path}, so a drop-in would "
                "not win; edit that file by hand"
            ).format(source=current.evidence.source, value=current.value, path=path),
            current.evidence.source,
        )
    text = unit_dropin(
        "Service",
        [("Delegate", "yes")],
        "nodedoctor: let the kubelet manage the cgroup controllers under its unit",
    )
    return Remedy(
        (
            WriteFile(
                path,
                text,
                description=_("Delegate=yes for {unit}").format(unit=unit),
                fmt="systemd",
            ),
            Command(
                ("systemctl", "daemon-reload"),
                _("load the new drop-in of {unit}").format(unit=unit),
            ),
            *restart_kubelet(kubelet),
            ClearsAfterRestart(),
        )
    )


def driver_steps(facts: Facts, driver: str) -> tuple[Step, ...]:
    """Set the kubelet's ``cgroupDriver`` where it is decided: the config line, the MicroK8s
    args line, or (unset) a new key in the config file."""
    kubelet = facts.get(kubelet_facts)
    setting = kubelet.cgroup_driver
    if kubelet.profile.name == "k3s":
        return (Refuse(_("k3s sets its kubelet's driver itself; never flip one side of k3s")),)
    if setting is None:
        return (Refuse(_("the kubelet's configuration is unknown")),)
    edit: Step
    if setting.origin in ("config", "config-dir") or (
        setting.origin == "default" and kubelet.config_path is not None
    ):
        path = setting.evidence.source if setting.origin != "default" else ""
        if setting.origin == "default" and kubelet.config_path is not None:
            path = kubelet.config_path.value
        edit = YamlSet(path, "cgroupDriver", driver, f"cgroupDriver: {driver}")
    elif setting.origin in ("flag", "default") and kubelet.profile.name == "microk8s":
        path = setting.evidence.source if setting.origin == "flag" else MICROK8S_ARGS
        edit = FlagSet(path, "--cgroup-driver", driver, f"--cgroup-driver={driver}")
    else:
        return (
            Refuse(
                _(
                    "the kubelet's driver is set by {origin} ({source}); change it there by hand"
                ).format(origin=setting.origin, source=setting.evidence.source)
            ),
        )
    return (edit, *restart_kubelet(kubelet))


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


def _removal(kubelet: KubeletFacts, setting: Setting) -> list[Step]:
    if setting.origin == "flag" and setting.flag:
        flag = f"--{setting.flag}"
        if kubelet.profile.name == "k3s":
            return [
                Refuse(
                    _(
                        "k3s passes kubelet flags through kubelet-arg in its own config; remove "
                        "{flag} there by hand"
                    ).format(flag=setting.flag_text),
                    setting.evidence.source,
                )
            ]
        # Every file that carries the flag: the last one wins, so all of them must go.
        files = dict.fromkeys(
            w.evidence.source
            for w in kubelet.words
            if w.word == flag or w.word.startswith(flag + "=")
        )
        return [
            FlagRemove(path, flag, _("remove {flag} (the workaround)").format(flag=flag))
            for path in files or (setting.evidence.source,)
        ]
    if setting.origin in ("config", "config-dir"):
        return [
            YamlRemove(
                setting.evidence.source,
                setting.name,
                _("remove {flag} (the workaround)").format(flag=setting.name),
            )
        ]
    return [
        Refuse(
            _("{name} is set by {origin}; change it by hand").format(
                name=setting.name, origin=setting.origin
            )
        )
    ]


def _delegation_ok(facts: Facts) -> str | None:
    """``None`` when the root subtree_control gives every controller the kubelet validates
    (the MicroK8s#4361 cause is gone); else why that cannot be said."""
    cg = facts.get(cgroup_facts)
    if cg.mode is not CgroupMode.V2:
        return _("the node is not on cgroup v2, where nodedoctor can see the cause")
    if not cg.v2_root_controllers or not cg.v2_root_subtree_control:
        return _("/sys/fs/cgroup/cgroup.controllers or cgroup.subtree_control is not in this root")
    lost = [
        c
        for c in KUBEPODS_V2_CONTROLLERS
        if c in cg.v2_root_controllers.value and c not in cg.v2_root_subtree_control.value
    ]
    if lost:
        return _("/sys/fs/cgroup/cgroup.subtree_control still lacks {controllers}").format(
            controllers=" ".join(lost)
        )
    return None


_AGAIN = N_("restart the kubelet, then run 'nodedoctor fix' again to remove the workaround")
_CRASH_LOOP = N_(
    "removing the workaround while its cause is still there (or unknown) brings back the "
    "'root container [kubepods] doesn't exist' crash loop"
)


def qos_remedy(facts: Facts) -> Remedy:
    """Remove ``--cgroups-per-qos=false`` / ``--enforce-node-allocatable=""`` (or their
    config keys), but only once the cause they work around is known to be gone: while a
    finding of :data:`QOS_CAUSES` is in the run, or the cause cannot be seen, the user is
    told to fix it first."""
    why_not = _delegation_ok(facts)
    crash_loop = (
        _("{crash_loop}; here {why_not}").format(crash_loop=_(_CRASH_LOOP), why_not=why_not)
        if why_not
        else _(_CRASH_LOOP)
    )
    # ``{rules}`` stays for Remedy.chosen to fill with the rules found.
    waiting = Instruction(
        _("fix {rules} first: {again}").format(rules="{rules}", again=_(_AGAIN)), crash_loop
    )
    if why_not:
        steps: tuple[Step, ...] = (
            Instruction(
                _("first make sure that {why_not}: {again}").format(
                    why_not=why_not, again=_(_AGAIN)
                ),
                _(_CRASH_LOOP),
            ),
        )
        return Remedy(steps, unless_found=QOS_CAUSES, instead=(waiting,))
    kubelet = facts.get(kubelet_facts)
    settings = _workaround_settings(kubelet)
    if not settings:
        steps = (Refuse(_("the facts name no file that sets the workaround")),)
    else:
        removals = [step for s in settings for step in _removal(kubelet, s)]
        steps = (*removals, *restart_kubelet(kubelet))
    return Remedy(steps, unless_found=QOS_CAUSES, instead=(waiting,))


#: ``kubepods-invalid``: kubepods is made by the kubelet at start; when its cause is the
#: missing delegation, that fix (and a kubelet restart) is the fix; otherwise nothing to edit.
KUBEPODS_REMEDY = Remedy(
    (
        Refuse(
            N_(
                "no file edit fixes this on its own; follow the finding's fix (nodedoctor "
                "explain kubepods-invalid)"
            )
        ),
    ),
    unless_found=(NOT_DELEGATED,),
    instead=(
        ClearsAfterRestart(),
        Instruction(
            N_(
                "fixed by the cgroup-controller-not-delegated fix in this plan, then a restart "
                "of the kubelet"
            ),
            N_(
                "the kubelet validates and creates kubepods when it starts; there is no file "
                "to edit for it"
            ),
        ),
    ),
)
