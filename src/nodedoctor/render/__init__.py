"""Renderers: a report in, text out. The format enum is mapped exhaustively."""

from __future__ import annotations

import enum
from collections.abc import Callable

from nodedoctor.model import Report


class Format(enum.Enum):
    TEXT = "text"
    JSON = "json"


Renderer = Callable[[Report, bool], str]


def renderer(fmt: Format) -> Renderer:
    """The function that renders ``fmt``; ``color`` is honoured where the format has colour."""
    if fmt is Format.TEXT:
        from nodedoctor.render.text import render_text

        return render_text
    if fmt is Format.JSON:
        from nodedoctor.render.json import render_json

        return render_json
    raise AssertionError(fmt)
