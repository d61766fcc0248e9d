"""Swap in use on the node, from ``/proc/swaps`` (``None`` when this root does not have it)."""

from __future__ import annotations

from nodedoctor._record import record
from nodedoctor.facts import Facts
from nodedoctor.model import Evidence
from nodedoctor.parsers.swaps import SwapArea, parse_swaps

PROC_SWAPS = "/proc/swaps"


@record
class SwapFacts:
    #: ``None``: unknown (no ``/proc/swaps`` in this root, or unparsable).
    areas: tuple[SwapArea, ...] | None

    @property
    def active(self) -> bool | None:
        return None if self.areas is None else bool(self.areas)

    @property
    def evidence(self) -> tuple[Evidence, ...]:
        return tuple(Evidence(PROC_SWAPS, a.text, a.line) for a in self.areas or ())


def swap_facts(facts: Facts) -> SwapFacts:
    areas = facts.parse(PROC_SWAPS, parse_swaps)
    return SwapFacts(None if areas is None else tuple(areas))
