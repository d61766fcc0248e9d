"""A CNI network configuration file (``/etc/cni/net.d/*.conflist``, ``*.conf``, ``*.json``):
the network's name and the plugin types it calls, as libcni reads it (``ConfFromBytes`` for a
single plugin, ``ConfListFromBytes`` for a list).

Flannel's ``10-flannel.conflist`` (Documentation/kube-flannel.yml, ``cni-conf.json``):

>>> c = parse_cni_config('{\\n  "name": "cbr0",\\n  "cniVersion": "0.3.1",\\n  "plugins": [\\n'
...     '    {"type": "flannel", "delegate": {"hairpinMode": true}},\\n'
...     '    {"type": "portmap", "capabilities": {"portMappings": true}}\\n  ]\\n}\\n')
>>> c.name, c.types, c.is_list
('cbr0', ('flannel', 'portmap'), True)
>>> parse_cni_config('{"cniVersion": "0.3.1", "name": "mynet", "type": "bridge"}').types
('bridge',)
>>> parse_cni_config('{"name": "cbr0", "plugins": [{"type": "flannel", "delegate": '
...                  '{"forceAddress": true}}]}').force_address
True
>>> parse_cni_config('{"name": "x", "plugins": [{"type": "calico"},]}')
Traceback (most recent call last):
...
nodedoctor.parsers.ParseError: line 1: not valid JSON: Expecting value
>>> parse_cni_config('{"name": "x"}')
Traceback (most recent call last):
...
nodedoctor.parsers.ParseError: neither "plugins" (a network list) nor "type" (one plugin)
"""

from __future__ import annotations

import json

from nodedoctor._record import record
from nodedoctor.parsers import ParseError
from nodedoctor.parsers.limits import check_json_depth, check_size

#: The names libcni's ``ConfFiles`` loads from a configuration directory.
CNI_CONFIG_SUFFIXES = (".conf", ".conflist", ".json")


@record
class CniConfig:
    #: The network's ``name`` (``cbr0``, ``k8s-pod-network``); empty when it has none.
    name: str
    #: The ``type`` of every plugin, in order: the binaries the runtime will call.
    types: tuple[str, ...]
    #: A ``.conflist`` style list (``plugins``) rather than a single plugin.
    is_list: bool
    #: The bridge replaces an address it finds on its bridge instead of refusing it
    #: (``forceAddress``, on the bridge plugin or in a Flannel delegate: k3s sets it).
    force_address: bool = False
    #: The plugin that attaches pods to a Linux bridge: ``bridge``, or ``flannel``, which
    #: delegates to ``bridge`` unless its ``delegate`` names another type
    #: (flannel-io/cni-plugin); ``None`` for routed CNIs (Calico, Cilium).
    bridge: str | None = None


def _forces(plugin: dict[str, object]) -> bool:
    delegate = plugin.get("delegate")
    inner = delegate.get("forceAddress") if isinstance(delegate, dict) else None
    return plugin.get("forceAddress") is True or inner is True


def _bridge(plugins: list[dict[str, object]]) -> str | None:
    """The first plugin of ``plugins`` that puts pods on a Linux bridge.

    >>> _bridge([{"type": "flannel", "delegate": {"type": "ipvlan"}}, {"type": "bridge"}])
    'bridge'
    >>> _bridge([{"type": "calico"}]) is None
    True
    """
    for plugin in plugins:
        kind = plugin.get("type")
        delegate = plugin.get("delegate")
        inner = delegate.get("type") if isinstance(delegate, dict) else None
        if kind == "bridge" or (kind == "flannel" and inner in (None, "bridge")):
            return str(kind)
    return None


def parse_cni_config(text: str) -> CniConfig:
    check_size(text)
    check_json_depth(text)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"not valid JSON: {exc.msg}", exc.lineno) from None
    if not isinstance(data, dict):
        raise ParseError("not a JSON object", 1)
    name = data.get("name")
    name = name if isinstance(name, str) else ""
    plugins = data.get("plugins")
    if isinstance(plugins, list):
        found = [p for p in plugins if isinstance(p, dict) and isinstance(p.get("type"), str)]
        types = tuple(str(p["type"]) for p in found)
        return CniConfig(name, types, True, any(_forces(p) for p in found), _bridge(found))
    if isinstance(data.get("type"), str):
        return CniConfig(name, (str(data["type"]),), False, _forces(data), _bridge([data]))
    raise ParseError('neither "plugins" (a network list) nor "type" (one plugin)')
