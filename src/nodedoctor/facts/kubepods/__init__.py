"""Where the kubelet's kubepods cgroup is (or will be), and what it and its parent give it.

Naming follows the kubelet (k/k pkg/kubelet/cm/cgroup_manager_linux.go, research
kubelet-cgroups.md §1.5). A cgroup is a list of name components; the cgroupfs driver joins
them with ``/``; the systemd driver escapes ``-`` to ``_`` in each component, joins the
components with ``-`` into a slice name and expands it into its parent slices:

>>> cgroup_path(("kubepods", "burstable"), "cgroupfs")
'/kubepods/burstable'
>>> cgroup_path(("kubepods", "burstable"), "systemd")
'/kubepods.slice/kubepods-burstable.slice'
>>> cgroup_path(("kubepods", "pod0d1e-2f"), "systemd")
'/kubepods.slice/kubepods-pod0d1e_2f.slice'
>>> cgroup_path((), "systemd"), cgroup_path((), "cgroupfs")
('/', '/')
>>> root_name("/", "cgroupfs"), root_name("/kubelet", "cgroupfs")
((), ('kubelet',))
>>> root_name("/k8s.slice", "systemd")
('k8s',)
>>> pod_cgroup_name("burstable", "6f1c2b3a-9d4e")
('kubepods', 'burstable', 'pod6f1c2b3a-9d4e')
>>> pod_cgroup_name("guaranteed", "11aa")
('kubepods', 'pod11aa')

Reads are lazy and bounded: :func:`kubepods_facts` reads the kubepods directory's
``cgroup.controllers`` and its parent's ``cgroup.subtree_control`` on v2, or checks one
directory per allowlisted v1 hierarchy, plus the same for the reserved cgroups; it never lists
pods, so a node with 500 pods costs the same as one with none.

Pod cgroups (for the orphaned-pod-cgroups rule and the clean engine): :func:`pod_cgroup_entries`
lists the pod cgroups under kubepods for both drivers and every QoS class (Guaranteed pods sit
directly in kubepods, Burstable and BestEffort in their QoS cgroup), in every hierarchy (v2: the
one tree; v1: each mounted hierarchy), honouring a non-default ``cgroupRoot``. It lists at most
three directories per hierarchy and driver; it reads nothing inside the pod cgroups.

What the kubelet will do at start-up with these cgroups: :mod:`nodedoctor.facts.kubepods.startup`.
"""

from __future__ import annotations

from collections.abc import Sequence

from nodedoctor._record import record
from nodedoctor.facts import Facts, Sourced, file_evidence
from nodedoctor.facts.cgroups import CGROUP_ROOT, CgroupMode, cgroup_facts
from nodedoctor.facts.kubelet import Setting, kubelet_facts
from nodedoctor.i18n import _

#: v2 controllers the kubelet requires on its cgroups, each only if the root has it
#: (cgroup_v2_manager_linux.go ``Validate``).
V2_REQUIRED = ("cpu", "cpuset", "memory", "hugetlb", "pids")
#: v1 hierarchies the kubelet checks (cgroup_v1_manager_linux.go); hugetlb only when mounted.
V1_ALLOWLIST = ("cpu", "cpuacct", "cpuset", "memory", "systemd", "pids", "hugetlb")

NODE_ALLOCATABLE = "kubepods"
QOS_CLASSES = ("guaranteed", "burstable", "besteffort")


def cgroup_path(components: Sequence[str], driver: str) -> str:
    """The cgroupfs-form path of a kubelet ``CgroupName`` under the given driver."""
    if not components:
        return "/"
    if driver != "systemd":
        return "/" + "/".join(components)
    escaped = [c.replace("-", "_") for c in components]
    slices = ["-".join(escaped[: i + 1]) + ".slice" for i in range(len(escaped))]
    return "/" + "/".join(slices)


def root_name(cgroup_root: str, driver: str) -> tuple[str, ...]:
    """``cgroupRoot`` as a ``CgroupName``: cgroupfs form split at ``/``; a systemd slice
    (``/k8s.slice``) parsed as the kubelet's ``ParseSystemdToCgroupName`` does."""
    text = cgroup_root.strip()
    if text in ("", "/"):
        return ()
    if driver == "systemd" and text.rstrip("/").endswith(".slice"):
        base = text.rstrip("/").rsplit("/", 1)[-1][: -len(".slice")]
        if base in ("", "-"):
            return ()
        return tuple(part.replace("_", "-") for part in base.split("-"))
    return tuple(p for p in text.split("/") if p)


def pod_cgroup_name(qos: str, uid: str, root: Sequence[str] = ()) -> tuple[str, ...]:
    """A pod's ``CgroupName``: ``pod<uid>`` under kubepods, or under its QoS cgroup."""
    base = (*root, NODE_ALLOCATABLE)
    if qos == "guaranteed":
        return (*base, f"pod{uid}")
    return (*base, qos, f"pod{uid}")


def kubelet_error_name(components: Sequence[str]) -> str:
    """How the kubelet prints a ``CgroupName`` in its errors: ``%q`` of the list.

    >>> kubelet_error_name(("kubepods",)), kubelet_error_name(("a", "b"))
    ('["kubepods"]', '["a" "b"]')
    """
    return "[" + " ".join(f'"{c}"' for c in components) + "]"


def kubelet_list_name(components: Sequence[str]) -> str:
    """How the kubelet prints a ``CgroupName`` with ``%v``: ``[kubepods]``."""
    return "[" + " ".join(components) + "]"


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


@record
class V2Cgroup:
    """One cgroup on v2: whether it exists, its controllers, its parent's subtree_control."""

    path: str
    exists: bool
    controllers: Sourced[tuple[str, ...]] | None
    parent_path: str
    parent_controllers: Sourced[tuple[str, ...]] | None
    parent_subtree_control: Sourced[tuple[str, ...]] | None


@record
class V1Cgroup:
    """One cgroup on v1: its directory in each allowlisted hierarchy that is mounted."""

    #: controller -> (node path, exists)
    dirs: dict[str, tuple[str, bool]]

    @property
    def missing(self) -> list[str]:
        return [path for path, exists in self.dirs.values() if not exists]


@record
class CgroupState:
    """A kubelet cgroup (kubepods, cgroupRoot, a reserved cgroup) as found on the node."""

    name: tuple[str, ...]
    #: cgroupfs-form path (``/kubepods.slice``) relative to the hierarchy root.
    relative: str
    v2: V2Cgroup | None
    v1: V1Cgroup | None

    @property
    def exists(self) -> bool | None:
        if self.v2 is not None:
            return self.v2.exists
        if self.v1 is not None:
            return not self.v1.missing
        return None


@record
class KubepodsFacts:
    mode: CgroupMode | None
    #: Why the location is unknown (no kubelet, unreadable configuration, unknown driver ...).
    unknown_reason: str | None
    driver: Setting | None
    #: How the driver was decided when the tree disagrees with the configuration.
    driver_note: str | None
    cgroups_per_qos: Setting | None
    cgroup_root: CgroupState | None
    #: ``None`` when cgroupsPerQOS is false (the kubelet makes no kubepods).
    kubepods: CgroupState | None
    #: v2: the controllers the kubelet will require (required ∩ root controllers).
    required: tuple[str, ...]
    root_controllers: Sourced[tuple[str, ...]] | None
    #: "systemReservedCgroup"/"kubeReservedCgroup" -> its state, when enforced.
    reserved: dict[str, tuple[Setting, CgroupState]]

    @property
    def known(self) -> bool:
        return self.unknown_reason is None


_Words = Sourced[tuple[str, ...]]


def _v2_controllers(facts: Facts, path: str) -> _Words | None:
    """``path``'s ``cgroup.controllers``; the root's as cgroup_facts read it (no second read)."""
    if path == CGROUP_ROOT:
        known = facts.get(cgroup_facts).v2_root_controllers
        if known is not None and known.evidence.text:  # else "(empty)", worded below
            return known
    text = facts.read(f"{path}/cgroup.controllers")
    if text is None:
        return None
    return Sourced(_words(text), file_evidence(f"{path}/cgroup.controllers", text or "(empty)", 1))


def _v2_state(facts: Facts, relative: str, root_subtree: _Words | None) -> V2Cgroup:
    path = CGROUP_ROOT + (relative if relative != "/" else "")
    controllers = _v2_controllers(facts, path)
    exists = controllers is not None or facts.root.is_dir(path)
    parent_rel = relative.rsplit("/", 1)[0] or "/"
    parent_path = CGROUP_ROOT + (parent_rel if parent_rel != "/" else "")
    parent_controllers = _v2_controllers(facts, parent_path)
    subtree: _Words | None = None
    if parent_rel == "/" and root_subtree is not None:
        subtree = root_subtree
    else:
        sub_text = facts.read(f"{parent_path}/cgroup.subtree_control")
        subtree = (
            Sourced(
                _words(sub_text),
                file_evidence(f"{parent_path}/cgroup.subtree_control", sub_text or "(empty)", 1),
            )
            if sub_text is not None
            else None
        )
    return V2Cgroup(path, exists, controllers, parent_path, parent_controllers, subtree)


def _v1_state(facts: Facts, relative: str) -> V1Cgroup | None:
    cg = facts.get(cgroup_facts)
    dirs: dict[str, tuple[str, bool]] = {}
    for controller in V1_ALLOWLIST:
        hierarchy = cg.v1_mounts.get(controller)
        if hierarchy is None:
            continue
        path = hierarchy.mount_point + (relative if relative != "/" else "")
        dirs[controller] = (path, facts.root.is_dir(path))
    return V1Cgroup(dirs) if dirs else None


def _state(
    facts: Facts,
    name: tuple[str, ...],
    driver: str,
    mode: CgroupMode,
    root_subtree: Sourced[tuple[str, ...]] | None,
) -> CgroupState:
    relative = cgroup_path(name, driver)
    if mode is CgroupMode.V2:
        return CgroupState(name, relative, _v2_state(facts, relative, root_subtree), None)
    return CgroupState(name, relative, None, _v1_state(facts, relative))


def _reserved_name(value: str, driver: str) -> tuple[str, ...]:
    return root_name(value, driver)


def kubepods_facts(facts: Facts) -> KubepodsFacts:
    cg = facts.get(cgroup_facts)
    kubelet = facts.get(kubelet_facts)

    def unknown(reason: str) -> KubepodsFacts:
        return KubepodsFacts(cg.mode, reason, None, None, None, None, None, (), None, {})

    if cg.mode is None:
        return unknown(_("the cgroup hierarchy of this root is unknown (no mount table)"))
    if not kubelet.installed:
        return unknown(_("no kubelet is installed"))
    if not kubelet.configured:
        why = "; ".join((*kubelet.problems, *kubelet.pending)) or (
            _("no kubelet configuration was found")
        )
        return unknown(_("the kubelet's configuration cannot be read ({why})").format(why=why))
    driver = kubelet.cgroup_driver
    per_qos = kubelet.setting("cgroupsPerQOS")
    root_setting = kubelet.setting("cgroupRoot")
    if driver is None or driver.value not in ("cgroupfs", "systemd"):
        return unknown(_("the kubelet's cgroup driver is not one it accepts"))
    if per_qos is None or per_qos.value is None or root_setting is None:
        return unknown(_("cgroupsPerQOS or cgroupRoot has a value the kubelet refuses"))
    driver_name = str(driver.value)
    driver_note: str | None = None
    root_text = str(root_setting.value or "/")

    required: tuple[str, ...] = ()
    root_controllers = cg.v2_root_controllers
    if cg.mode is CgroupMode.V2:
        if root_controllers is None:
            return unknown(
                _("{path} is not in this root").format(path="/sys/fs/cgroup/cgroup.controllers")
            )
        required = tuple(c for c in V2_REQUIRED if c in root_controllers.value)

    # With KubeletCgroupDriverFromCRI the runtime may choose the other driver; the tree tells.
    gate = kubelet.driver_from_cri
    if gate is not None and gate.value is True and root_text == "/":
        mine = cgroup_path((NODE_ALLOCATABLE,), driver_name)
        other_driver = "cgroupfs" if driver_name == "systemd" else "systemd"
        other = cgroup_path((NODE_ALLOCATABLE,), other_driver)
        top = cg.v1_mounts["cpu"].mount_point if "cpu" in cg.v1_mounts else CGROUP_ROOT
        if cg.mode is CgroupMode.V2:
            top = CGROUP_ROOT
        if not facts.root.is_dir(top + mine) and facts.root.is_dir(top + other):
            driver_note = (
                f"{top}{other} exists and {top}{mine} does not: the container runtime chose the "
                f"{other_driver} driver ({gate.name} is on)"
            )
            driver_name = other_driver

    root_name_parts = root_name(root_text, driver_name)
    root_state = _state(facts, root_name_parts, driver_name, cg.mode, cg.v2_root_subtree_control)
    kubepods: CgroupState | None = None
    if per_qos.value is True:
        kubepods = _state(
            facts,
            (*root_name_parts, NODE_ALLOCATABLE),
            driver_name,
            cg.mode,
            cg.v2_root_subtree_control,
        )

    reserved: dict[str, tuple[Setting, CgroupState]] = {}
    enforce = kubelet.value("enforceNodeAllocatable")
    enforced = set(enforce) if isinstance(enforce, list) else set()
    for key, setting_name in (
        ("system-reserved", "systemReservedCgroup"),
        ("kube-reserved", "kubeReservedCgroup"),
    ):
        setting = kubelet.setting(setting_name)
        if not (enforced & {key, f"{key}-compressible"}) or setting is None:
            continue
        if not isinstance(setting.value, str) or not setting.value:
            continue
        name = _reserved_name(setting.value, driver_name)
        reserved[setting_name] = (
            setting,
            _state(facts, name, driver_name, cg.mode, cg.v2_root_subtree_control),
        )

    return KubepodsFacts(
        mode=cg.mode,
        unknown_reason=None,
        driver=driver,
        driver_note=driver_note,
        cgroups_per_qos=per_qos,
        cgroup_root=root_state,
        kubepods=kubepods,
        required=required,
        root_controllers=root_controllers,
        reserved=reserved,
    )


# --------------------------------------------------------------------------------------
# Pod cgroups


def _uid_from(name: str, driver: str) -> str | None:
    if driver == "systemd":
        if not name.endswith(".slice"):
            return None
        last = name[: -len(".slice")].rsplit("-", 1)[-1]
        return last[3:].replace("_", "-") if last.startswith("pod") and len(last) > 3 else None
    return name[3:] if name.startswith("pod") and len(name) > 3 else None


PodCgroupEntry = tuple[str, str, str, str, str]


def kubepods_dirs(cgroup_root: str = "/") -> tuple[str, ...]:
    """kubepods' path under a hierarchy for each driver, ``cgroup_root`` being the kubelet's
    ``cgroupRoot`` (cgroupfs form): where :func:`pod_cgroup_entries` looks.

    >>> kubepods_dirs()
    ('/kubepods', '/kubepods.slice')
    """
    return tuple(
        cgroup_path((*root_name(cgroup_root, driver), NODE_ALLOCATABLE), driver)
        for driver in ("cgroupfs", "systemd")
    )


def pod_cgroup_entries(facts: Facts, cgroup_root: str = "/") -> list[PodCgroupEntry]:
    """Pod cgroups under kubepods for both drivers (a node that changed driver keeps the other
    naming's leftovers), every QoS class and every hierarchy, as plain ``(uid, qos, driver,
    path, hierarchy)`` tuples: on cgroup v1 a node's pods are listed once per hierarchy (13
    times 500 at 500 pods). ``cgroup_root`` is the kubelet's ``cgroupRoot`` (cgroupfs form). A QoS
    cgroup is listed only when kubepods' own listing shows it (a driver's absent tree costs
    one lookup per hierarchy)."""
    cg = facts.get(cgroup_facts)
    if cg.mode is CgroupMode.V2:
        hierarchies = [CGROUP_ROOT]
    else:
        hierarchies = sorted({h.mount_point for h in cg.v1_mounts.values()})
    # driver -> kubepods' cgroupfs-form path, and each QoS cgroup's name in it
    layouts: list[tuple[str, str, list[tuple[str, str]]]] = []
    for driver in ("cgroupfs", "systemd"):
        base = (*root_name(cgroup_root, driver), NODE_ALLOCATABLE)
        kubepods = cgroup_path(base, driver)
        qos_dirs = [
            (qos, cgroup_path((*base, qos), driver).rsplit("/", 1)[1])
            for qos in QOS_CLASSES
            if qos != "guaranteed"
        ]
        layouts.append((driver, kubepods, qos_dirs))
    # Every hierarchy holds the same pod names: each name's UID is worked out once.
    uids: dict[tuple[str, str], str | None] = {}
    found: list[PodCgroupEntry] = []

    def pods(hierarchy: str, parent_path: str, names: list[str], driver: str, qos: str) -> None:
        for name in names:
            key = (name, driver)
            uid = uids[key] if key in uids else uids.setdefault(key, _uid_from(name, driver))
            if uid is not None:
                found.append((uid, qos, driver, f"{parent_path}/{name}", hierarchy))

    for hierarchy in hierarchies:
        for driver, kubepods, qos_dirs in layouts:
            kubepods_path = hierarchy + kubepods
            listed = facts.root.subdirs(kubepods_path)
            if listed is None:
                continue
            pods(hierarchy, kubepods_path, listed, driver, "guaranteed")  # directly in kubepods
            present = set(listed)
            for qos, name in qos_dirs:
                if name in present:
                    qos_path = f"{kubepods_path}/{name}"
                    pods(hierarchy, qos_path, facts.root.subdirs(qos_path) or [], driver, qos)
    return found
