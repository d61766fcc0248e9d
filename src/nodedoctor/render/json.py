"""The JSON report contract (``nodedoctor/report/v1``, DESIGN.md)."""

from __future__ import annotations

import json

from nodedoctor.model import Report


def render_json(report: Report, color: bool = False) -> str:
    return json.dumps(report.to_json(), indent=2, sort_keys=False) + "\n"
