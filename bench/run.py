"""Run every benchmark and print its table: ``make bench`` (never part of ``make test``).

    .venv/bin/python bench/run.py                 # all six, plus the import-time breakdown
    .venv/bin/python bench/run.py startup npd     # some of them
    .venv/bin/python bench/run.py --quick         # fewer rounds and roots, for a smoke run

The machine, the date and each benchmark's table are printed and also written to
``bench/out/latest.md``; bench/RESULTS.md keeps the recorded runs with their analysis.
``make bench`` builds ``dist/nodedoctor.pyz`` first.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

# Run as a script (``python bench/run.py``): make the repository importable as ``bench``.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import batch, commands, hostile, importtime, npd, scale, startup
from bench.common import OUT, ZIPAPP, machine

NAMES = ("startup", "scale", "batch", "npd", "commands", "hostile", "importtime")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "only", nargs="*", metavar="NAME", help=f"benchmarks to run: {', '.join(NAMES)} (all)"
    )
    parser.add_argument("--quick", action="store_true", help="fewer rounds, smaller fleet")
    args = parser.parse_args()
    unknown = sorted(set(args.only) - set(NAMES))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    if not ZIPAPP.exists():
        print(f"bench: {ZIPAPP} is missing; run `make zipapp` first", file=sys.stderr)
        return 2
    chosen = args.only or list(NAMES)
    quick = args.quick
    runs: dict[str, tuple[str, Callable[[], str]]] = {
        "startup": (
            "1. Live `nodedoctor check` vs the interpreter floor and lxc-checkconfig",
            lambda: startup.run(repeat=5 if quick else 21),
        ),
        "scale": (
            "2. `check --root` of a node with 0 to 5,000 pods (v1/v2, both drivers)",
            lambda: scale.run(
                repeat=2 if quick else 5, sizes=(0, 50, 500) if quick else scale.SIZES
            ),
        ),
        "batch": (
            "3. Batch: 1,000 nodes in one run",
            lambda: batch.run(count=200 if quick else 1000, repeat=1 if quick else 3),
        ),
        "npd": (
            "4. node-problem-detector plugin runs (CPU per fresh process)",
            lambda: npd.run(repeat=3 if quick else 11),
        ),
        "commands": (
            "5. The allowlisted commands of a live check, and its work after imports",
            lambda: commands.run(repeat=3 if quick else 11),
        ),
        "hostile": (
            "6. Hostile input, and clean's planning at 1,000 to 100,000 mounts",
            lambda: hostile.run(sizes=(1_000, 10_000) if quick else hostile.MOUNTS),
        ),
        "importtime": (
            "Start-up breakdown (python -X importtime)",
            lambda: importtime.run(repeat=3 if quick else 7),
        ),
    }
    info = machine()
    header = "\n".join(f"- {k}: {v}" for k, v in info.items())
    parts = [f"# nodedoctor benchmarks\n\n{header}\n"]
    print(parts[0], flush=True)
    for name in chosen:
        title, bench = runs[name]
        started = time.perf_counter()
        text = bench()
        took = time.perf_counter() - started
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        part = (
            f"## {title}\n\n`python -m bench.{name}` ({took:.0f} s; load average after: "
            f"{load})\n\n{text}"
        )
        print(part, flush=True)
        parts.append(part)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "latest.md").write_text("\n".join(parts), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
