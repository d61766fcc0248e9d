"""What a fixer is (kept apart from the registry so fixer modules can import it)."""

from __future__ import annotations

from collections.abc import Callable

from nodedoctor._record import record
from nodedoctor.fix.plan import Workspace
from nodedoctor.model import Finding

Fixer = Callable[[Workspace, Finding], None]


@record
class FixerEntry:
    rule: str
    fix: Fixer
