"""nodedoctor: find, explain and safely fix what stops a Kubernetes node from running pods."""

from __future__ import annotations

__version__ = "0.1.0"
