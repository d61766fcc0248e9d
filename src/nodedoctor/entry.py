"""The program's entry point (the console script, ``python -m nodedoctor`` and the zipapp).

A node-problem-detector plugin run whose cycle has been evaluated already prints its line
from the shared evaluation before the command line interface is imported
(:mod:`nodedoctor.npdcycle`): six of every seven plugin runs then cost little more than the
interpreter's start. Everything else is :func:`nodedoctor.cli.main`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--npd-cache" in args:
        from nodedoctor.npdcycle import hit

        code = hit(args)
        if code is not None:
            return code
    from nodedoctor.cli import main as cli_main

    return cli_main(args)
