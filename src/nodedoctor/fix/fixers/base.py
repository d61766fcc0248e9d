"""What a fixer is (kept apart from the registry so fixer modules can import it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nodedoctor.fix.plan import Workspace
from nodedoctor.model import Finding

Fixer = Callable[[Workspace, Finding], None]


@dataclass(frozen=True)
class FixerEntry:
    rule: str
    fix: Fixer
