"""Benchmark 6: hostile input (issue 12), and clean's planning at 1,000 to 100,000 mounts.

Every root and input of the test corpus (tests/robustness/corpus.py) is run through the
commands a user runs on it, each under prlimit and GNU time as the tests run it (CPU and
address-space limits; %M is the command's own peak memory). The limits of the issue: under
5 s and under 300 MB for every one. Then ``clean --root`` plans the teardown of a node with
1,000, 10,000 and 100,000 leftover pod volume mounts: its CPU per 1,000 mounts should stay
flat (linear growth).

    .venv/bin/python -m bench.hostile                   # this checkout
    .venv/bin/python -m bench.hostile --src OLD/src     # another checkout's sources (before)
    .venv/bin/python -m bench.hostile --mounts 1000 10000 --only-clean

A run on older sources may hit the CPU limit (``--cpu-limit``, default 60 s): its row says
``killed``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tests.robustness.corpus import INPUT_CORPUS, ROOT_CORPUS, copy_root, mountinfo
from tests.robustness.limited import SRC, Limited, run_limited

from bench.common import table

MOUNTS = (1_000, 10_000, 100_000)


def _row(name: str, command: str, run: Limited, cpu_limit: int) -> list[object]:
    killed = run.cpu >= cpu_limit - 1
    return [
        name,
        command,
        f"{run.wall:.2f} s",
        f"{run.cpu:.2f} s",
        f"{run.peak_mib:.0f} MiB",
        "killed" if killed else run.returncode,
    ]


def corpus(src: Path, cpu_limit: int) -> str:
    rows: list[list[object]] = []
    where = Path(tempfile.mkdtemp(prefix="nodedoctor-bench-hostile-"))
    try:
        for hostile in ROOT_CORPUS:
            root = str(hostile.build(where / hostile.name))
            bundle = str(where / f"{hostile.name}.tar.gz")
            commands: Sequence[tuple[str, list[str]]] = (
                ("check", ["check", "--root", root, "--format", "json"]),
                ("clean", ["clean", "--root", root, "--format", "json"]),
                ("collect", ["collect", "--root", root, "-o", bundle]),
                ("check --bundle", ["check", "--bundle", bundle, "--format", "json"]),
            )
            for command, argv in commands:
                run = run_limited(argv, cpu_limit=cpu_limit, src=src)
                rows.append(_row(hostile.name, command, run, cpu_limit))
            shutil.rmtree(root, ignore_errors=True)
        for item in INPUT_CORPUS:
            path = where / item.filename
            path.write_bytes(item.content())
            argv = [str(path) if word == "{}" else word for word in item.argv]
            run = run_limited(argv, cpu_limit=cpu_limit, src=src, cwd=str(where))
            rows.append(_row(item.name, " ".join(item.argv[:2]), run, cpu_limit))
            path.unlink()
    finally:
        shutil.rmtree(where, ignore_errors=True)
    headers = ["input", "command", "wall", "cpu", "peak", "exit"]
    note = (
        "one run each; cpu is user+sys and peak the command's own maximum resident set (GNU "
        f"time), under prlimit --cpu={cpu_limit} and a 2 GiB address space"
    )
    return f"{table(headers, rows)}\n\n{note}\n"


def clean_scaling(src: Path, sizes: Sequence[int], cpu_limit: int) -> str:
    rows: list[list[object]] = []
    where = Path(tempfile.mkdtemp(prefix="nodedoctor-bench-clean-"))
    try:
        for mounts in sizes:
            root = copy_root("kubekey-teardown-calico", where / str(mounts))
            table_path = root / "proc/self/mountinfo"
            table_path.write_text(
                mountinfo(table_path.read_text(encoding="utf-8"), mounts), encoding="utf-8"
            )
            for fmt in ("text", "json"):
                argv = ["clean", "--root", str(root), "--format", fmt]
                run = run_limited(argv, cpu_limit=cpu_limit, src=src)
                per = run.cpu / mounts * 1000
                row = _row(f"{mounts:,} mounts", f"clean --format {fmt}", run, cpu_limit)
                rows.append([*row[:4], f"{per * 1000:.0f} ms", *row[4:]])
            shutil.rmtree(root, ignore_errors=True)
    finally:
        shutil.rmtree(where, ignore_errors=True)
    headers = ["node", "command", "wall", "cpu", "cpu per 1,000 mounts", "peak", "exit"]
    note = (
        "kubekey-teardown-calico's mount table plus N pod volume tmpfs mounts under "
        "/var/lib/kubelet (each a planned unmount); one run each"
    )
    return f"{table(headers, rows)}\n\n{note}\n"


def run(src: Path = SRC, sizes: Sequence[int] = MOUNTS, cpu_limit: int = 60) -> str:
    return corpus(src, cpu_limit) + "\n" + clean_scaling(src, sizes, cpu_limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=SRC, help="the sources to run (src/)")
    parser.add_argument("--mounts", type=int, nargs="+", default=list(MOUNTS))
    parser.add_argument("--cpu-limit", type=int, default=60)
    parser.add_argument("--only-clean", action="store_true", help="only clean's planning")
    args = parser.parse_args()
    if args.only_clean:
        print(clean_scaling(args.src, args.mounts, args.cpu_limit))
    else:
        print(run(args.src, args.mounts, args.cpu_limit))


if __name__ == "__main__":
    main()
