"""``nodedoctor check --root DIR1 DIR2 ...`` (or ``--bundle F1 F2 ...``): many nodes, one run.

The roots are checked by a pool of worker processes, one per CPU this process may run on
(``--jobs`` to choose), in chunks. The reports are streamed as JSON Lines: one compact
``nodedoctor/report/v1`` object per line, **in input order** (line *n* is the *n*-th root
given), each written as soon as it and every root before it are done. A root that cannot be
opened (not a directory, an unsafe bundle) gives a ``nodedoctor/batch-error/v1`` line in its
place::

    {"schema": "nodedoctor/batch-error/v1", "root": "/srv/n7", "exit": 2, "error": "..."}

The exit code is the worst over all roots: 3 (internal error) over 2 (unreadable input) over
1 (findings at or above ``--fail-on``) over 0.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from collections.abc import Iterator, Sequence

from nodedoctor._record import record
from nodedoctor.cli.common import (
    EXIT_FINDINGS,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    open_target,
)
from nodedoctor.model import Severity

ERROR_SCHEMA = "nodedoctor/batch-error/v1"
#: Roots per task sent to a worker, at most: big enough to amortise the pipe, small enough
#: that the input-order stream does not wait long behind one slow chunk.
MAX_CHUNK = 16


@record
class Target:
    """One node to check: ``kind`` is ``root`` (a directory) or ``bundle`` (a .tar.gz)."""

    kind: str
    path: str


@record
class Options:
    """What every worker needs to know; small and picklable."""

    profile: str | None
    only: tuple[str, ...]
    skip: tuple[str, ...]
    fail_on: Severity
    role: str | None = None
    kubernetes_version: str | None = None


def available_cpus() -> int:
    """CPUs this process may run on (respects ``taskset`` and cgroup cpusets)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def chunk_size(targets: int, jobs: int) -> int:
    """About four chunks per worker, so the pool stays balanced when roots differ in size.

    >>> chunk_size(1000, 2), chunk_size(10, 2), chunk_size(1, 8)
    (16, 1, 1)
    """
    return max(1, min(MAX_CHUNK, targets // (jobs * 4)))


def check_one(target: Target, options: Options) -> tuple[str, int]:
    """One root's JSON line and exit code. Runs in a worker; never raises."""
    from nodedoctor import engine
    from nodedoctor.facts import Facts
    from nodedoctor.rules import all_rules

    try:
        root = open_target(target.kind, target.path)
    except UsageError as exc:
        return _error_line(target, EXIT_USAGE, str(exc)), EXIT_USAGE
    try:
        facts = Facts(
            root,
            profile=options.profile,
            role=options.role,
            kubernetes_version=options.kubernetes_version,
        )
        report = engine.run(facts, engine.select_rules(all_rules(), options.only, options.skip))
        line = json.dumps(report.to_json(), separators=(",", ":"))
    except Exception as exc:
        message = f"internal error: {type(exc).__name__}: {exc}"
        return _error_line(target, EXIT_INTERNAL, message), EXIT_INTERNAL
    finally:
        close = getattr(root, "close", None)
        if close is not None:
            close()  # a bundle's extracted files go now, not when the worker exits
    worst = report.worst()
    code = EXIT_FINDINGS if worst is not None and worst.at_least(options.fail_on) else EXIT_OK
    return line, code


def _error_line(target: Target, code: int, message: str) -> str:
    return json.dumps(
        {
            "schema": ERROR_SCHEMA,
            "root": target.path,
            "kind": target.kind,
            "exit": code,
            "error": message,
        },
        separators=(",", ":"),
    )


# Set in each worker by the pool's initializer: the options are sent once, not per root.
_worker_options: Options | None = None


def _init_worker(options: Options) -> None:
    global _worker_options  # noqa: PLW0603 - per-process state of a pool worker
    _worker_options = options


def _work(target: Target) -> tuple[str, int]:
    if _worker_options is None:
        raise RuntimeError("a batch worker ran before its initializer")
    return check_one(target, _worker_options)


def check_many(
    targets: Sequence[Target], options: Options, jobs: int | None = None
) -> Iterator[tuple[str, int]]:
    """(JSON line, exit code) per target, in input order, computed ``jobs`` at a time."""
    jobs = min(jobs or available_cpus(), len(targets))
    if jobs <= 1:
        for target in targets:
            yield check_one(target, options)
        return
    # The rule set is built once here and inherited by every forked worker.
    from nodedoctor import engine  # noqa: F401
    from nodedoctor.rules import all_rules

    all_rules()
    methods = multiprocessing.get_all_start_methods()
    # fork: workers start in a millisecond with everything already imported, and it needs
    # no importable __main__ (the zipapp). Linux always has it.
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with context.Pool(jobs, initializer=_init_worker, initargs=(options,)) as pool:
        yield from pool.imap(_work, targets, chunksize=chunk_size(len(targets), jobs))


def run_batch(
    targets: Sequence[Target], options: Options, jobs: int | None, output: str | None
) -> int:
    """Check ``targets``, write JSON Lines to stdout (or atomically to ``output``)."""
    worst = EXIT_OK
    lines: list[str] = []
    out = sys.stdout
    for line, code in check_many(targets, options, jobs):
        worst = max(worst, code)
        if output:
            lines.append(line)
        else:
            out.write(line + "\n")
            out.flush()
    if output:
        from nodedoctor.cli.output import write_atomic

        write_atomic(output, "".join(f"{line}\n" for line in lines))
    return worst
