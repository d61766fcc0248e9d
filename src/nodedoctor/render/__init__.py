"""Renderers: a report in, text out. The format enum is mapped exhaustively."""

from __future__ import annotations

import enum
from collections.abc import Callable

from nodedoctor.model import Report


class Format(enum.Enum):
    TEXT = "text"
    JSON = "json"
    JUNIT = "junit"
    SARIF = "sarif"
    NPD = "npd"
    PROMETHEUS = "prometheus"
    HTML = "html"


Renderer = Callable[[Report, bool], str]


def renderer(fmt: Format) -> Renderer:
    """The function that renders ``fmt``; ``color`` is honoured where the format has colour."""
    if fmt is Format.TEXT:
        from nodedoctor.render.text import render_text

        return render_text
    if fmt is Format.JSON:
        from nodedoctor.render.json import render_json

        return render_json
    if fmt is Format.JUNIT:
        from nodedoctor.render.junit import render_junit

        return render_junit
    if fmt is Format.SARIF:
        from nodedoctor.render.sarif import render_sarif

        return render_sarif
    if fmt is Format.NPD:
        from nodedoctor.render.npd import render_npd

        return render_npd
    if fmt is Format.PROMETHEUS:
        from nodedoctor.render.prometheus import render_prometheus

        return render_prometheus
    if fmt is Format.HTML:
        from nodedoctor.render.html import render_html

        return render_html
    raise AssertionError(fmt)
