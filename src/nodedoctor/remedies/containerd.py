"""containerd's remedies: ``cri`` out of ``disabled_plugins``, ``version = 2`` for a
version-1 file whose v2 tables containerd 1.x ignores (only when that is safe), and
``SystemdCgroup`` at the right table of each runc handler (``remedies/driver.py``).

Which file and which table come from ``facts/containerd`` (the file whose line wins, or where
an inserted key will be read; MicroK8s: the template, never the rendered file). Never edited:
a ``version = 2`` line while a short plugin name such as ``cri`` is still used (1.x then
refuses to start: ``invalid disabled plugin URI "cri"``).
"""

from __future__ import annotations

from typing import Any

from nodedoctor.facts import Facts
from nodedoctor.facts.containerd import (
    CRI_NAMES,
    ContainerdFacts,
    RuncHandler,
    containerd_facts,
    options_table,
)
from nodedoctor.i18n import _
from nodedoctor.remedies.steps import (
    ContainerdVersion2,
    Remedy,
    Restart,
    Step,
    TomlArrayRemove,
    TomlSet,
    refused,
)


def restart_containerd(cf: ContainerdFacts) -> tuple[Step, ...]:
    if cf.layout == "microk8s":
        return (Restart("microk8s", manager="snap"),)
    if cf.layout == "standard":
        return (Restart("containerd.service"),)
    return ()


def systemd_cgroup(handler: RuncHandler, systemd: bool) -> TomlSet:
    """``SystemdCgroup`` of ``handler``, in the table of the file's version as planned: the
    handler's own table in the version the facts read, else where that version puts it."""
    tables = {v: options_table(v, handler.name) for v in (1, 2)}
    tables[handler.file_version] = handler.table
    return TomlSet(
        handler.file,
        options_table(3, handler.name),
        "SystemdCgroup",
        systemd,
        tables=tuple(tables.items()),
    )


def cri_disabled_remedy(facts: Facts) -> Remedy:
    """``containerd-cri-disabled``: the CRI plugin out of ``disabled_plugins``."""
    cf = facts.get(containerd_facts)
    if cf.cri is None:
        return refused(_("containerd's facts do not say why CRI is off"))
    return Remedy(
        (
            TomlArrayRemove(
                cf.cri.file,
                ("disabled_plugins",),
                CRI_NAMES,
                description=_("remove the CRI plugin from disabled_plugins"),
                unchanged=_("CRI is off for another reason: {reason}").format(reason=cf.cri.reason),
            ),
            *restart_containerd(cf),
        )
    )


def version_2_refusal(data: dict[str, Any]) -> str | None:
    """``None`` when adding ``version = 2`` to this version-1 file changes nothing but the
    reading of its full-name plugin tables; else why not.

    >>> version_2_refusal({"disabled_plugins": ["cri"]})
    'disabled_plugins uses a short plugin name, which version 2 refuses'
    >>> version_2_refusal({"plugins": {"io.containerd.grpc.v1.cri": {}}}) is None
    True
    """
    for key in ("disabled_plugins", "required_plugins"):
        names = data.get(key) or []
        if isinstance(names, list) and any("." not in str(n) for n in names):
            return _("{key} uses a short plugin name, which version 2 refuses").format(key=key)
    plugins = data.get("plugins")
    if isinstance(plugins, dict) and any("." not in str(k) for k in plugins):
        return _(
            "the file has short-named plugin tables (plugins.cri ...), which version 2 refuses"
        )
    return None


def config_ignored_remedy(facts: Facts) -> Remedy:
    """``containerd-config-ignored``: the one case with a safe edit, a version-1 file holding
    full-name (v2) plugin tables that containerd 1.x ignores: with nothing short-named left
    (as planned: an earlier step may take ``cri`` out of disabled_plugins), ``version = 2``."""
    cf = facts.get(containerd_facts)
    if cf.major is None or cf.major >= 2:
        return refused(
            _("only containerd 1.x (installed version known) ignores v2 tables in a version-1 file")
        )
    if cf.version is None or cf.version.value.release[:2] < (1, 3):
        return refused(_("containerd older than 1.3 does not read version 2 files"))
    return Remedy(
        (
            ContainerdVersion2(
                tuple(loaded.path for loaded in cf.files),
                _("add version = 2 so containerd 1.x reads the file's v2 plugin tables"),
            ),
            *restart_containerd(cf),
        )
    )
