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

Modules: ``layouts`` (where each deployer keeps the configuration), ``loading`` (the files and
their imports), ``merging`` (1.x and 2.x merge semantics), ``handlers`` (runc handlers, CRI,
RuntimeConfig), ``diagnostics`` (what containerd ignores or refuses), ``effective``
(:func:`containerd_facts`, putting them together) and ``model`` (names and records).

For the remedies (interface)
----------------------------
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

from nodedoctor.facts.containerd.effective import containerd_facts
from nodedoctor.facts.containerd.layouts import (
    CONFIG,
    K3S_DIR,
    K3S_RENDERED,
    K3S_SOCKET,
    K3S_TEMPLATE,
    K3S_TEMPLATE_V3,
    MICROK8S_RENDERED,
    MICROK8S_SOCKET,
    MICROK8S_TEMPLATE,
    SOCKET,
)
from nodedoctor.facts.containerd.loading import MAX_FILES
from nodedoctor.facts.containerd.model import (
    CRI_NAMES,
    CRI_V1,
    CRI_V2,
    CRI_V3,
    LEGACY_RUNTIME,
    RUNC_TYPES,
    ConfigProblem,
    ContainerdFacts,
    CriState,
    Leaf,
    LoadedFile,
    RuncHandler,
    cri_plugin,
    options_table,
)

__all__ = [
    "CONFIG",
    "CRI_NAMES",
    "CRI_V1",
    "CRI_V2",
    "CRI_V3",
    "K3S_DIR",
    "K3S_RENDERED",
    "K3S_SOCKET",
    "K3S_TEMPLATE",
    "K3S_TEMPLATE_V3",
    "LEGACY_RUNTIME",
    "MAX_FILES",
    "MICROK8S_RENDERED",
    "MICROK8S_SOCKET",
    "MICROK8S_TEMPLATE",
    "RUNC_TYPES",
    "SOCKET",
    "ConfigProblem",
    "ContainerdFacts",
    "CriState",
    "Leaf",
    "LoadedFile",
    "RuncHandler",
    "containerd_facts",
    "cri_plugin",
    "options_table",
]
