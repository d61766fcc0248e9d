"""Benchmark 1: a live ``nodedoctor check`` of this machine against its peers.

Peers: ``python3 -c pass`` (the interpreter's floor: nothing can start faster) and
``lxc-checkconfig`` (Debian's ``lxc``: the shell script people run to ask "can this kernel
run containers?"). Targets: the full check within 2x the floor, faster than lxc-checkconfig.

The zipapp is measured as a node runs it: with the system Python and ``-I -S``, after its
first run unpacked it into the cache (``warm``), on that first run (``first run``), and with
the cache off (``NODEDOCTOR_CACHE_DIR=off``: compiled from the zip on every start).
"""

from __future__ import annotations

import shutil
import tempfile

from bench.common import (
    SYSTEM_PYTHON,
    VENV_BIN,
    ZIPAPP,
    Contender,
    bench_env,
    measure,
    ms,
    ratio,
    repeat_main,
    run_once,
    table,
)


def run(repeat: int = 21) -> str:
    cache = tempfile.mkdtemp(prefix="nodedoctor-bench-cache-")
    env = bench_env()
    warm_env = {**env, "NODEDOCTOR_CACHE_DIR": cache}
    off_env = {**env, "NODEDOCTOR_CACHE_DIR": "off"}
    zip_check = [SYSTEM_PYTHON, "-I", "-S", str(ZIPAPP), "check"]
    floor_sys = Contender("python3 -c pass (system, floor)", [SYSTEM_PYTHON, "-c", "pass"])
    floor_venv = Contender("python -c pass (venv, floor)", [str(VENV_BIN / "python"), "-c", "pass"])
    console = Contender(
        "nodedoctor check (console script)", [str(VENV_BIN / "nodedoctor"), "check"]
    )
    zip_warm = Contender("python3 -I -S nodedoctor.pyz check (warm)", zip_check, warm_env)
    zip_off = Contender("python3 -I -S nodedoctor.pyz check (cache off)", zip_check, off_env)
    contenders = [floor_sys, floor_venv, console, zip_warm, zip_off]
    lxc = shutil.which("lxc-checkconfig")
    peer = Contender("lxc-checkconfig", [lxc]) if lxc else None
    if peer:
        contenders.append(peer)

    # The first run of a fresh cache, measured on its own cache each time.
    first = Contender("python3 -I -S nodedoctor.pyz check (first run, unpacks)", zip_check)
    for _ in range(5):
        fresh = tempfile.mkdtemp(prefix="nodedoctor-bench-first-")
        first.samples.append(run_once(zip_check, {**env, "NODEDOCTOR_CACHE_DIR": fresh}))
        shutil.rmtree(fresh, ignore_errors=True)
    measure(contenders, repeat)
    shutil.rmtree(cache, ignore_errors=True)

    rows = []
    for c in [*contenders, first]:
        own_floor = floor_venv if c is console else floor_sys
        is_floor = c in (floor_sys, floor_venv)
        rows.append(
            [
                c.name,
                ms(c.wall),
                ms(c.cpu),
                "1.00x" if is_floor else ratio(c.wall, own_floor.wall),
                "1.00x" if is_floor else ratio(c.cpu, own_floor.cpu),
                ratio(c.wall, peer.wall) if peer else "n/a",
                ratio(c.cpu, peer.cpu) if peer else "n/a",
                ",".join(map(str, sorted(c.returncodes))),
            ]
        )
    headers = [
        "live check of this machine",
        "wall (median)",
        "cpu (median)",
        "vs floor, wall",
        "vs floor, cpu",
        "vs lxc, wall",
        "vs lxc, cpu",
        "exit",
    ]
    note = (
        f"{repeat} rounds, round-robin, 1 warm-up round (5 fresh caches for the first run); "
        "'vs floor' divides by the same interpreter's `-c pass` (venv for the console "
        "script, system for the zipapp); cpu is user+sys of the child and of the processes "
        "it waited for (wait4), so lxc-checkconfig's grep/zcat children and nodedoctor's "
        "`--version` commands count; on a loaded machine cpu is the steadier measure"
    )
    return f"{table(headers, rows)}\n\n{note}\n"


def main() -> None:
    repeat_main(__doc__, run, 21)


if __name__ == "__main__":
    main()
