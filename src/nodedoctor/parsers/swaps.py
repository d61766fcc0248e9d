"""``/proc/swaps``: the swap areas in use (the kubelet reads the same file).

>>> areas = parse_swaps('Filename\\t\\t\\t\\tType\\t\\tSize\\t\\tUsed\\t\\tPriority\\n'
...                     '/swap.img                        file\\t\\t4194300\\t\\t0\\t\\t-2\\n')
>>> [(a.filename, a.kind, a.size_kib, a.line) for a in areas]
[('/swap.img', 'file', 4194300, 2)]
>>> parse_swaps('Filename\\tType\\tSize\\tUsed\\tPriority\\n')
[]
>>> parse_swaps('Filename\\tType\\tSize\\tUsed\\tPriority\\n/dev/sda2 partition\\n')
Traceback (most recent call last):
...
nodedoctor.parsers.ParseError: line 2: expected 5 fields (Filename Type Size Used Priority), got 2
"""

from __future__ import annotations

from nodedoctor._record import record
from nodedoctor.parsers import ParseError


@record
class SwapArea:
    filename: str
    kind: str
    size_kib: int
    used_kib: int
    priority: int
    line: int
    text: str


def parse_swaps(text: str) -> list[SwapArea]:
    areas: list[SwapArea] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or (lineno == 1 and line.startswith("Filename")):
            continue
        fields = line.split()
        if len(fields) != 5:
            raise ParseError(
                f"expected 5 fields (Filename Type Size Used Priority), got {len(fields)}", lineno
            )
        name, kind, size, used, priority = fields
        try:
            numbers = int(size), int(used), int(priority)
        except ValueError:
            raise ParseError(
                f"size, used and priority must be numbers: {line.strip()!r}", lineno
            ) from None
        # The kernel escapes spaces in names as \040.
        areas.append(SwapArea(name.replace("\\040", " "), kind, *numbers, lineno, line.strip()))
    return areas
