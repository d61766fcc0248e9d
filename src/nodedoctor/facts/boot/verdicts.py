"""What the command line says about each cgroup controller: its parameters folded in order,
the last one winning.
"""

from __future__ import annotations

from collections.abc import Sequence

from nodedoctor._record import record
from nodedoctor.facts.boot.cmdline import PlacedParam


@record
class ControllerVerdict:
    """The cgroup parameters about one controller, folded in order (the last one wins)."""

    controller: str
    #: ``True``/``False`` as the last parameter about it says; ``None`` when none does.
    enabled: bool | None
    winner: PlacedParam | None
    tokens: tuple[PlacedParam, ...] = ()


def controller_verdict(params: Sequence[PlacedParam], controller: str) -> ControllerVerdict:
    """Fold ``cgroup_disable=``, the downstream Raspberry Pi ``cgroup_enable=`` and the
    obsolete ``cgroup_memory=0|1`` in command-line order.

    >>> from nodedoctor.facts.boot.cmdline import placed_params
    >>> from nodedoctor.parsers.cmdline import parse_cmdline
    >>> ps = placed_params(parse_cmdline('cgroup_disable=memory quiet cgroup_enable=memory'),
    ...                    '/proc/cmdline', None, '')
    >>> v = controller_verdict(ps, 'memory')
    >>> v.enabled, v.winner.text, v.winner.position, len(v.tokens)
    (True, 'cgroup_enable=memory', 3, 2)
    >>> controller_verdict(ps, 'cpuset').enabled is None
    True
    """
    enabled: bool | None = None
    winner: PlacedParam | None = None
    tokens: list[PlacedParam] = []
    for p in params:
        says: bool | None = None
        if p.key == "cgroup_disable" and controller in p.values:
            says = False
        elif p.key == "cgroup_enable" and controller in p.values:
            says = True
        elif p.key == "cgroup_memory" and controller == "memory" and p.value in ("0", "1"):
            says = p.value == "1"
        if says is not None:
            enabled, winner = says, p
            tokens.append(p)
    return ControllerVerdict(
        controller=controller, enabled=enabled, winner=winner, tokens=tuple(tokens)
    )


def no_v1_token(params: Sequence[PlacedParam], controller: str) -> PlacedParam | None:
    """The ``cgroup_no_v1=`` parameter that keeps ``controller`` off cgroup v1, if any."""
    found = None
    for p in params:
        if p.key == "cgroup_no_v1" and (controller in p.values or "all" in p.values):
            found = p
    return found
