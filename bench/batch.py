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

from bench.common import VENV_BIN, Sample, bench_env, run_once, table
from bench.gen_roots import generate_many
from bench.scale import scratch

NODEDOCTOR = str(VENV_BIN / "nodedoctor")


def batch_run(roots: list[Path], jobs: int) -> Sample:
    argv = [NODEDOCTOR, "check", "--format", "json", "--jobs", str(jobs), "--root"]
    # wait4's rusage of the batch includes its pool workers (reaped before it exits).
    return run_once([*argv, *map(str, roots)])


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
        pooled = [batch_run(roots, 2) for _ in range(repeat)]
        serial = [batch_run(roots, 1) for _ in range(repeat)]
        sample = roots[:100]
        singles = [
            run_once([NODEDOCTOR, "check", "--format", "json", "--root", str(root)])
            for root in sample
        ]
    finally:
        shutil.rmtree(where, ignore_errors=True)

    def row(name: str, samples: list[Sample], nodes: int, cores: int) -> list[str]:
        wall = statistics.median(s.wall for s in samples)
        cpu = statistics.median(s.cpu for s in samples)
        return [
            name,
            f"{wall:.2f} s",
            f"{cpu:.2f} s",
            f"{nodes / wall:.0f}",
            f"{cpu / nodes * 1000:.1f} ms",
            f"{cores * nodes / cpu:.0f}",
        ]

    loop = Sample(sum(s.wall for s in singles), sum(s.cpu for s in singles), 0, 0)
    rows = [
        row(f"check --jobs 2 --root ({count:,} roots)", pooled, count, 2),
        row(f"check --jobs 1 --root ({count:,} roots)", serial, count, 1),
        row(f"one process per root (peer, {len(sample)} roots)", [loop], len(sample), 1),
    ]
    headers = [
        "fleet check",
        "wall (median)",
        "cpu (median)",
        "nodes/s measured",
        "cpu per node",
        "nodes/s if its cores were idle",
    ]
    note = (
        f"{count} roots of {pods} pods each (generated in {generated:.0f} s, not timed); "
        f"median of {repeat} runs for the batches; output checked: {len(lines)} JSON lines. "
        "cpu is user+sys of the run and of the workers it reaped (wait4); the last column is "
        "cores / (cpu per node): 2 cores for the pool, 1 for the others; 'measured' divides "
        "by wall time on this machine as loaded at the time (see the load average)"
    )
    return f"{table(headers, rows)}\n\n{note}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(run(args.count, args.pods, args.repeat))


if __name__ == "__main__":
    main()
