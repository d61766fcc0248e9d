"""Benchmark 4: the node-problem-detector plugin, invoked as NPD invokes it.

NPD starts a fresh process per rule every ``invoke_interval`` (deploy/nodedoctor-monitor.json:
one plugin per problem family, ``check --root /host --format npd --only FAMILY``). Here the
host is this machine's ``/`` given as ``--root /`` (what the DaemonSet sees at ``/host``), run
by the zipapp with a warm cache (the DaemonSet's image and its emptyDir cache) and by the
console script. Measured: CPU seconds (user + sys) of each child, median over the runs.

Peer: ``python3 -c pass``, the least any Python plugin can cost. Target: < 0.1 s CPU a run.
"""

from __future__ import annotations

import json
import shutil
import tempfile

from bench.common import (
    REPO,
    SYSTEM_PYTHON,
    VENV_BIN,
    ZIPAPP,
    Contender,
    bench_env,
    measure,
    repeat_main,
    table,
)


def families() -> list[str]:
    """The families NPD's plugin config asks for, in its order."""
    config = REPO / "deploy" / "nodedoctor-monitor.json"
    if config.exists():
        rules = json.loads(config.read_text())["rules"]
        names = [r["args"][r["args"].index("--only") + 1] for r in rules if "--only" in r["args"]]
        if names:
            return names
    return ["CgroupDriverMismatch"]


def run(repeat: int = 11) -> str:
    cache = tempfile.mkdtemp(prefix="nodedoctor-bench-npd-")
    env = bench_env(NODEDOCTOR_CACHE_DIR=cache)
    floor = Contender("python3 -c pass", [SYSTEM_PYTHON, "-c", "pass"], env)
    contenders = [floor]
    for family in families():
        args = ["check", "--root", "/", "--format", "npd", "--only", family]
        contenders.append(Contender(f"zipapp {family}", [SYSTEM_PYTHON, str(ZIPAPP), *args], env))
        contenders.append(Contender(f"console {family}", [str(VENV_BIN / "nodedoctor"), *args]))
    measure(contenders, repeat)
    shutil.rmtree(cache, ignore_errors=True)
    rows = []
    totals = {"zipapp": 0.0, "console": 0.0}
    for c in contenders:
        kind = c.name.split()[0]
        if kind in totals:
            totals[kind] += c.cpu
        rows.append(
            [
                c.name,
                f"{c.cpu * 1000:.1f} ms",
                f"{c.wall * 1000:.1f} ms",
                f"{c.cpu / floor.cpu:.1f}x" if c is not floor else "1.0x",
                ",".join(map(str, sorted(c.returncodes))),
            ]
        )
    summary = ", ".join(
        f"{kind}: {total * 1000:.0f} ms CPU for all {len(families())} plugins"
        for kind, total in totals.items()
    )
    note = (
        f"median of {repeat} runs each, round-robin; exit codes are NPD's (0 OK, 1 problem, "
        f"2 unknown); one NPD round: {summary}"
    )
    return (
        f"{table(['plugin run', 'cpu (user+sys)', 'wall', 'vs python3 -c pass', 'exit'], rows)}"
        f"\n\n{note}\n"
    )


def main() -> None:
    repeat_main(__doc__, run, 11)


if __name__ == "__main__":
    main()
