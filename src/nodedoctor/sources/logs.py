"""Logs and pasted text (``check --logs FILE``, ``why -``), read whole and in bounded memory:
in blocks of whole lines, each line cut at ``max_chars`` (the symptom matcher's
``MAX_LINE_CHARS``: it reads no further), so a 50 MB log or an endless line on stdin costs
one block at a time.

>>> import io
>>> log = io.BytesIO(b"one\\r\\n" + b"x" * 40 + b"\\n\\xff three")
>>> [line for block in read_blocks(log, block_bytes=8, max_chars=10) for line in block]
['one\\r', 'xxxxxxxxxx', '\\ufffd three']
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

#: Bytes read at a time: a block of lines is decoded and screened in one pass.
BLOCK_BYTES = 1024 * 1024


def read_blocks(
    stream: BinaryIO, *, max_chars: int, block_bytes: int = BLOCK_BYTES
) -> Iterator[list[str]]:
    """The lines of ``stream`` (split at line feeds, UTF-8 with undecodable bytes replaced),
    a block at a time; a line's characters past ``max_chars`` are dropped as they are read,
    so memory holds one block and at most ``4 * max_chars`` bytes of an unfinished line."""
    max_bytes = 4 * max_chars  # UTF-8: a character is at most four bytes
    carry = b""  # the start of a line not ended yet
    dropping = False  # carry is over max_bytes: the rest of its line is dropped
    while True:
        data = stream.read(block_bytes)
        if not data:
            break
        end = data.rfind(b"\n")
        start = 0
        if dropping:
            start = data.find(b"\n")
            if start < 0:
                continue
        if end < 0:
            carry += data
        else:
            block = carry + data[start:end]
            carry = data[end + 1 :]
            lines = block.decode("utf-8", errors="replace").split("\n")
            if max(map(len, lines)) > max_chars:
                lines = [line[:max_chars] for line in lines]
            yield lines
        dropping = len(carry) > max_bytes
        if dropping:
            carry = carry[:max_bytes]
    if carry:
        yield [carry.decode("utf-8", errors="replace")[:max_chars]]
