"""Benchmark 3: ``check --root`` over 1,000 generated nodes in one run (JSON Lines).

The roots are small kubeadm workers (``--pods`` each, 10 by default) cycling through cgroup
v1/v2 and both drivers (bench/gen_roots.py ``generate_many``), written to ``/dev/shm``.

Contenders: the batch with a pool of 2 workers (``--jobs 2``; this machine has 2 cores),
the batch with 1 (one process, no pool), and the peer: one ``nodedoctor check --root`` process
per node, as a shell loop over the fleet would run it (measured on the first 100 nodes).
Target: >= 200 nodes/s on 2 cores.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from bench.common import VENV_BIN, bench_env, run_once, table
from bench.gen_roots import generate_many
from bench.scale import scratch

NODEDOCTOR = str(VENV_BIN / "nodedoctor")


def batch_seconds(roots: list[Path], jobs: int) -> float:
    argv = [NODEDOCTOR, "check", "--format", "json", "--jobs", str(jobs), "--root"]
    return run_once([*argv, *map(str, roots)]).wall


def run(count: int = 1000, pods: int = 10, repeat: int = 3) -> str:
    where = scratch()
    try:
        started = time.perf_counter()
        roots = generate_many(Path(where), count, pods)
        generated = time.perf_counter() - started
        # Every root gives one report line, in input order.
        out = subprocess.run(
            [NODEDOCTOR, "check", "--format", "json", "--root", *map(str, roots)],
            capture_output=True,
            text=True,
            env=bench_env(),
            check=False,
        )
        lines = out.stdout.splitlines()
        if len(lines) != count:
            raise SystemExit(f"batch wrote {len(lines)} lines for {count} roots: {out.stderr}")
        pooled = statistics.median(batch_seconds(roots, 2) for _ in range(repeat))
        serial = statistics.median(batch_seconds(roots, 1) for _ in range(repeat))
        sample = roots[:100]
        loop_started = time.perf_counter()
        for root in sample:
            run_once([NODEDOCTOR, "check", "--format", "json", "--root", str(root)])
        per_process = (time.perf_counter() - loop_started) / len(sample)
    finally:
        shutil.rmtree(where, ignore_errors=True)
    rate_pooled = count / pooled
    rate_serial = count / serial
    rate_loop = 1 / per_process
    rows = [
        [
            f"check --jobs 2 --root ({count:,} roots)",
            f"{pooled:.2f} s",
            f"{rate_pooled:.0f}",
            f"{rate_pooled / rate_loop:.1f}x",
        ],
        [
            f"check --jobs 1 --root ({count:,} roots)",
            f"{serial:.2f} s",
            f"{rate_serial:.0f}",
            f"{rate_serial / rate_loop:.1f}x",
        ],
        [
            f"one process per root (peer, {len(sample)} roots)",
            f"{per_process * count:.2f} s (x10)",
            f"{rate_loop:.0f}",
            "1.0x",
        ],
    ]
    note = (
        f"{count} roots of {pods} pods each (generated in {generated:.0f} s, not timed); "
        f"median of {repeat} runs for the batches; output checked: {len(lines)} JSON lines"
    )
    return f"{table(['fleet check', 'wall', 'nodes/s', 'vs peer'], rows)}\n\n{note}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(run(args.count, args.pods, args.repeat))


if __name__ == "__main__":
    main()
