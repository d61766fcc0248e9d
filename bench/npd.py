"""Benchmark 4: the node-problem-detector plugin, invoked as NPD invokes it.

NPD starts a fresh process per rule every ``invoke_interval`` (deploy/nodedoctor-monitor.json:
one plugin per problem family, ``deploy/nodedoctor-npd FAMILY``, which runs ``check --root
/host --format npd --only FAMILY`` when the cycle's shared evaluation is not fresh; the
per-family rows below are that check, and :func:`cycle` measures whole cycles). Here the
host is this machine's ``/`` given as ``--root /`` (what the DaemonSet sees at ``/host``), run
by the zipapp with a warm cache (the DaemonSet's image and its emptyDir cache) and by the
console script. Measured: CPU seconds (user + sys) of each child, median over the runs.

Peer: ``python3 -c pass``, the least any Python plugin can cost. Target: < 0.1 s CPU a run.
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
from pathlib import Path

from bench.common import (
    REPO,
    SYSTEM_PYTHON,
    VENV_BIN,
    ZIPAPP,
    Contender,
    bench_env,
    measure,
    ms,
    repeat_main,
    table,
)

PLUGIN = REPO / "deploy" / "nodedoctor-npd"


def families() -> list[str]:
    """The families NPD's plugin config asks for, in its order."""
    config = REPO / "deploy" / "nodedoctor-monitor.json"
    if config.exists():
        rules = json.loads(config.read_text())["rules"]
        # deploy/nodedoctor-npd FAMILY [SEVERITY]
        names = [r["args"][0] for r in rules if r["args"]]
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
        f"\n\n{note}\n\n{cycle(repeat)}"
    )


def _plugin_rules() -> list[list[str]]:
    """deploy/nodedoctor-npd's arguments, one list per condition, in the config's order."""
    config = REPO / "deploy" / "nodedoctor-monitor.json"
    return [list(r["args"]) for r in json.loads(config.read_text())["rules"]]


def cycle(repeat: int) -> str:
    """A whole NPD cycle (every condition once, in the config's order) against one full
    check (``check --root / --format npd``, every rule): each family's check alone (before
    the shared evaluation), each sharing one evaluation through ``--npd-cache`` (a fresh
    directory per cycle, so its first run evaluates every family), and the DaemonSet's
    plugin, deploy/nodedoctor-npd, which prints a cached line without starting Python."""
    from bench.common import run_once

    runners = {
        "zipapp": [SYSTEM_PYTHON, str(ZIPAPP)],
        "console": [str(VENV_BIN / "python"), "-m", "nodedoctor"],
    }
    rows = []
    for kind, start in runners.items():
        zipcache = tempfile.mkdtemp(prefix="nodedoctor-bench-npd-")
        env = bench_env(NODEDOCTOR_CACHE_DIR=zipcache)
        wrapper = Path(zipcache) / "nodedoctor"
        wrapper.write_text(f'#!/bin/sh\nexec {" ".join(start)} "$@"\n', encoding="utf-8")
        wrapper.chmod(0o755)
        check = [*start, "check", "--root", "/", "--format", "npd"]
        samples: dict[str, list[float]] = {"full": [], "alone": [], "shared": [], "plugin": []}
        for round_no in range(repeat + 1):
            npd_dir = tempfile.mkdtemp(prefix="nodedoctor-bench-cycle-")
            plugin_dir = tempfile.mkdtemp(prefix="nodedoctor-bench-cycle-")
            plugin_env = {
                **env,
                "NODEDOCTOR_BIN": str(wrapper),
                "NODEDOCTOR_NPD_ROOT": "/",
                "NODEDOCTOR_NPD_CACHE": plugin_dir,
            }
            got = {
                "full": run_once(check, env).cpu,
                "alone": sum(run_once([*check, "--only", f], env).cpu for f in families()),
                "shared": sum(
                    run_once([*check, "--only", f, "--npd-cache", npd_dir], env).cpu
                    for f in families()
                ),
                "plugin": sum(
                    run_once(["/bin/sh", str(PLUGIN), *args], plugin_env).cpu
                    for args in _plugin_rules()
                ),
            }
            shutil.rmtree(npd_dir, ignore_errors=True)
            shutil.rmtree(plugin_dir, ignore_errors=True)
            if round_no:  # the first round warms the zipapp's cache
                for name, value in got.items():
                    samples[name].append(value)
        shutil.rmtree(zipcache, ignore_errors=True)
        med = {name: statistics.median(values) for name, values in samples.items()}
        full = med["full"]
        row = [kind, ms(full)]
        for name in ("alone", "shared", "plugin"):
            row += [ms(med[name]), f"{med[name] / full:.2f}x"]
        rows.append(row)
    head = ["runner", "one full check", "cycle: alone", "vs check", "shared", "vs check"]
    head += ["plugin", "vs check"]
    return (
        f"{table(head, rows)}\n\nCPU (user+sys), medians of {repeat} cycles of "
        f"{len(families())} conditions on this machine's / as the node's root.\n"
    )


def main() -> None:
    repeat_main(__doc__, run, 11)


if __name__ == "__main__":
    main()
