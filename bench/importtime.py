"""Start-up breakdown: where a command's import time goes, from ``python -X importtime``.

    python -m bench.importtime                 # live `check`, console script and zipapp
    python -m bench.importtime --save          # also write bench/importtime.txt

Each command runs ``--repeat`` times; every module's *self* time (its own body, not its
imports) is the median over the runs. The table groups modules (``nodedoctor.facts``,
``yaml``, the standard library, ...) and lists the costliest modules one by one.
``-X importtime`` itself slows imports down, so the totals are larger than a plain run; the
shares are what matter.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Sequence

from bench.common import REPO, SYSTEM_PYTHON, VENV_BIN, ZIPAPP, bench_env, table

COMMANDS: dict[str, tuple[list[str], dict[str, str]]] = {
    "console script: nodedoctor check": (
        [str(VENV_BIN / "python"), "-X", "importtime", str(VENV_BIN / "nodedoctor"), "check"],
        {},
    ),
    "zipapp (warm cache): python3 -I -S nodedoctor.pyz check": (
        [SYSTEM_PYTHON, "-X", "importtime", "-I", "-S", str(ZIPAPP), "check"],
        {"NODEDOCTOR_CACHE_DIR": "<cache>"},
    ),
}


def self_times(argv: Sequence[str], env: dict[str, str]) -> dict[str, int]:
    """Module -> self import time in microseconds, from one run."""
    proc = subprocess.run(
        list(argv), capture_output=True, text=True, env=bench_env(**env), check=False
    )
    out: dict[str, int] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        fields = line[len("import time:") :].split("|")
        module = fields[2].strip()
        out[module] = out.get(module, 0) + int(fields[0])
    return out


def group_of(module: str) -> str:
    top = module.split(".", maxsplit=1)[0]
    if top == "nodedoctor":
        parts = module.split(".")
        return ".".join(parts[:2]) if len(parts) > 1 else "nodedoctor"
    if top in ("yaml", "_yaml", "tomlkit"):
        return top
    if top in sys.stdlib_module_names or top.startswith("_"):
        return "stdlib"
    return f"other ({top})"


def breakdown(name: str, argv: list[str], env: dict[str, str], repeat: int) -> str:
    runs = [self_times(argv, env) for _ in range(repeat)]
    modules = sorted({m for r in runs for m in r})
    median = {m: statistics.median(r.get(m, 0) for r in runs) for m in modules}
    total = sum(median.values())
    groups: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for m, t in median.items():
        groups[group_of(m)] += t
        counts[group_of(m)] += 1
    rows = [
        [g, counts[g], f"{t / 1000:.1f} ms", f"{100 * t / total:.0f}%"]
        for g, t in sorted(groups.items(), key=lambda kv: -kv[1])
    ]
    top = sorted(median.items(), key=lambda kv: -kv[1])[:15]
    top_rows = [[m, f"{t / 1000:.2f} ms"] for m, t in top]
    return (
        f"### {name}\n\n`{' '.join(argv)}`\n\n"
        f"{len(modules)} modules, {total / 1000:.1f} ms of import self time "
        f"(median of {repeat} runs, under -X importtime)\n\n"
        f"{table(['group', 'modules', 'self time', 'share'], rows)}\n\n"
        f"{table(['costliest modules', 'self time'], top_rows)}\n"
    )


def run(repeat: int = 7) -> str:
    cache = tempfile.mkdtemp(prefix="nodedoctor-bench-importtime-")
    parts = []
    try:
        for name, (argv, template) in COMMANDS.items():
            env = {k: (cache if v == "<cache>" else v) for k, v in template.items()}
            # One run first: the zipapp unpacks, Python writes its bytecode caches.
            subprocess.run(argv, capture_output=True, env=bench_env(**env), check=False)
            parts.append(breakdown(name, argv, env, repeat))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--save", action="store_true", help="write bench/importtime.txt")
    args = parser.parse_args()
    text = run(args.repeat)
    print(text)
    if args.save:
        (REPO / "bench" / "importtime.txt").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
