"""Parsers: text in, typed values out. Pure functions, no I/O.

Malformed input raises :class:`ParseError` with the line; nothing else escapes.
"""

from __future__ import annotations


class ParseError(ValueError):
    """Input that is not what the format says. ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message
