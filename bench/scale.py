"""Benchmark 2: ``check --root`` of generated kubeadm workers with 0 to 5,000 pods.

Every size runs under cgroup v1 (the kubepods tree under each of 13 hierarchies) and v2,
with the ``cgroupfs`` and ``systemd`` drivers (bench/gen_roots.py). The roots are written to
``/dev/shm`` when it exists: a tmpfs, like the cgroup and proc filesystems a live node
reads. Each root is measured ``--repeat`` times (median), then deleted.

Peer: the same check of the same node with no pods, so the ratio is what the pods cost.
Targets: < 0.25 s and < 60 MB at 500 pods, linear growth.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from bench.common import VENV_BIN, Contender, measure, ms, ratio, table
from bench.gen_roots import generate

SIZES = (0, 50, 500, 5000)


def scratch() -> str:
    shm = "/dev/shm"  # noqa: S108 - a private mkdtemp inside it, like tempfile's own
    base = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
    return tempfile.mkdtemp(prefix="nodedoctor-bench-roots-", dir=base)


def run(repeat: int = 5, sizes: tuple[int, ...] = SIZES) -> str:
    rows = []
    where = scratch()
    try:
        for mode in ("v1", "v2"):
            for driver in ("cgroupfs", "systemd"):
                base: Contender | None = None
                for pods in sizes:
                    root = generate(Path(where) / f"{mode}-{driver}-{pods}", pods, mode, driver)
                    c = Contender(
                        f"{mode} {driver} {pods}",
                        rss=True,
                        argv=[
                            str(VENV_BIN / "nodedoctor"),
                            "check",
                            "--root",
                            str(root),
                            "--format",
                            "json",
                        ],
                    )
                    # Fewer rounds for the largest roots: they take seconds each.
                    measure([c], repeat if pods <= 500 else max(1, repeat // 2))
                    shutil.rmtree(root, ignore_errors=True)
                    if base is None:
                        base = c
                    per_pod = (c.cpu - base.cpu) / pods * 1e6 if pods else 0.0
                    rows.append(
                        [
                            mode,
                            driver,
                            pods,
                            ms(c.wall),
                            ms(c.cpu),
                            f"{c.maxrss_mib:.1f} MiB",
                            ratio(c.cpu, base.cpu),
                            f"{per_pod:.0f} us" if pods else "",
                            ",".join(map(str, sorted(c.returncodes))),
                        ]
                    )
    finally:
        shutil.rmtree(where, ignore_errors=True)
    headers = [
        "cgroup",
        "driver",
        "pods",
        "wall (median)",
        "cpu (median)",
        "peak rss",
        "cpu vs 0 pods",
        "cpu per pod",
        "exit",
    ]
    note = (
        f"median of {repeat} runs ({max(1, repeat // 2)} for 5,000 pods); `per pod` = "
        "(cpu - cpu at 0 pods) / pods; cpu is user+sys of the child (steadier than wall on a "
        "loaded machine); peak rss is the check's own (GNU time's %M)"
    )
    return f"{table(headers, rows)}\n\n{note}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    args = parser.parse_args()
    print(run(args.repeat, tuple(args.sizes)))


if __name__ == "__main__":
    main()
