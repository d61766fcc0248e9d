"""Benchmark 6: hostile input (issue 12), and clean's planning at 1,000 to 100,000 mounts.

Three tables, every run under prlimit and GNU time as the tests run it (CPU and
address-space limits; ``%M`` is the command's own peak memory); the issue's bounds are under
5 s and under 300 MB for every one:

- ``issue``: each input the issue names, through the commands it names, with the result it
  states checked on the run's output (the ``result`` column; ``NOT MET`` when it is not):
  an alias bomb, a 20,000-part dotted key and a 10,000-deep kubelet config through check,
  clean, collect and check --bundle; deep JSON to report; clean of a MicroK8s node; why -
  of a 2 MiB paste and check --logs of 50 MB logs with the error on their last line;
  collect of a 200 MB repetitive config and check --bundle of what it wrote; and a 5,000-pod
  node (bench/gen_roots.py, kubelet stopped) on cgroup v2 and v1: check, collect, check
  --bundle, whose findings must be the root's.
- ``corpus``: every root and input of the test corpus (tests/robustness/corpus.py), the
  worst of its commands.
- ``clean``: ``clean --root`` planning the teardown of 1,000, 10,000 and 100,000 leftover pod
  volume mounts: its CPU per 1,000 mounts should stay flat (linear growth).

    .venv/bin/python -m bench.hostile                       # this checkout, all three
    .venv/bin/python -m bench.hostile --part issue          # one table
    .venv/bin/python -m bench.hostile --src OLD/src         # another checkout's sources
    .venv/bin/python -m bench.hostile --part clean --mounts 1000 10000

A run on older sources may hit the CPU limit (``--cpu-limit``, default 60 s): its row says
``killed``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.robustness.corpus import (
    BUSY_LINE,
    HEALTHY,
    INPUT_CORPUS,
    ROOT_CORPUS,
    ROOTS,
    SYMPTOM_LINE,
    HostileRoot,
    copy_root,
    mountinfo,
)
from tests.robustness.limited import MAX_PEAK_MIB, MAX_SECONDS, SRC, Limited, run_limited

from bench.common import table

MOUNTS = (1_000, 10_000, 100_000)
PARTS = ("issue", "corpus", "clean")
MICROK8S_KUBELET = "/var/snap/microk8s/common/var/lib/kubelet"


def _killed(run: Limited, cpu_limit: int) -> bool:
    return run.cpu >= cpu_limit - 1


def _row(name: str, command: str, run: Limited, cpu_limit: int) -> list[object]:
    return [
        name,
        command,
        f"{run.wall:.2f} s",
        f"{run.cpu:.2f} s",
        f"{run.peak_mib:.0f} MiB",
        "killed" if _killed(run, cpu_limit) else run.returncode,
    ]


# --------------------------------------------------------------------------------------
# The issue's inputs

#: What a run must show: the result column's text, or an AssertionError saying what is not.
Verify = Callable[[Limited], str]


@dataclass(frozen=True)
class Run:
    command: str
    argv: list[str]
    verify: Verify
    stdin: bytes = b""


def _json(run: Limited) -> dict[str, object]:
    data = json.loads(run.stdout)
    assert isinstance(data, dict), run.stdout[:200]
    return data


def _rules(run: Limited) -> list[str]:
    findings = _json(run)["findings"]
    assert isinstance(findings, list)
    return sorted(f["rule"] for f in findings)


def _parse_error(message: str) -> Verify:
    def verify(run: Limited) -> str:
        findings = _json(run)["findings"]
        assert isinstance(findings, list)
        errors = [f["message"] for f in findings if f["rule"] == "parse-error"]
        assert any(message in m for m in errors), f"no parse-error with {message!r}: {errors}"
        assert "internal-error" not in _rules(run)
        return f"parse-error: {message}"

    return verify


def _exit(*codes: int) -> Verify:
    def verify(run: Limited) -> str:
        assert run.returncode in codes, f"exit {run.returncode}: {run.stderr[-300:]}"
        assert "Traceback" not in run.stderr
        return f"exit {run.returncode}, no traceback"

    return verify


def _refused(message: str) -> Verify:
    def verify(run: Limited) -> str:
        assert run.returncode == 2, f"exit {run.returncode}"
        (line,) = run.stderr.splitlines()
        assert message in line, line
        return f"exit 2: {message}"

    return verify


def _shows(text: str, result: str) -> Verify:
    def verify(run: Limited) -> str:
        assert text in run.stdout, f"{text!r} not in the output"
        return result

    return verify


def _hostile_root(name: str, where: Path) -> tuple[HostileRoot, Path]:
    (hostile,) = [h for h in ROOT_CORPUS if h.name == name]
    return hostile, hostile.build(where / name)


def _four_commands(hostile: HostileRoot, root: Path, bundle: Path) -> list[Run]:
    assert hostile.message is not None
    return [
        Run(
            "check",
            ["check", "--root", str(root), "--format", "json"],
            _parse_error(hostile.message),
        ),
        Run("clean", ["clean", "--root", str(root), "--format", "json"], _exit(0, 1)),
        Run("collect", ["collect", "--root", str(root), "-o", str(bundle)], _exit(0)),
        Run(
            "check --bundle",
            ["check", "--bundle", str(bundle), "--format", "json"],
            _parse_error(hostile.message),
        ),
    ]


def _microk8s_plan(mounts: int) -> Verify:
    def verify(run: Limited) -> str:
        plan = _json(run)["plan"]
        assert isinstance(plan, dict)
        steps = [
            s
            for s in plan["steps"]
            if s["path"].startswith(f"{MICROK8S_KUBELET}/pods/") and s["kind"] == "kubelet"
        ]
        assert len(steps) == mounts, f"{len(steps)} of {mounts} pod volumes planned"
        return f"{mounts:,} pod volumes under {MICROK8S_KUBELET} planned as the kubelet's"

    return verify


def kubelet_journal(size: int, seed: int = 1) -> Iterator[bytes]:
    """``size`` bytes of a busy kubelet's journal in blocks: the shapes of real lines
    (kubernetes/kubeadm#1426, kubernetes/minikube#4789, coredns/coredns#3555: pod sync
    errors with CrashLoopBackOff, node status, SyncLoop probe and PLEG events) with their own
    times, pod names and UIDs."""
    rng = random.Random(seed)  # noqa: S311 - repeatable bench data
    written = t = 0
    while written < size:
        lines = []
        for _ in range(2000):
            t += 1
            clock = f"17:{t // 60000 % 60:02d}:{t // 1000 % 60:02d}"
            stamp = f"0717 {clock}.{t % 1000:03d}{rng.randrange(1000):03d}"
            uid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            pod = f"coredns-{rng.getrandbits(40):010x}-{rng.getrandbits(20):05x}"
            head = f"Jul 17 {clock} ut012380 kubelet[52392]: "
            kind = rng.randrange(4)
            if kind == 0:
                text = (
                    f'E{stamp}   52392 pod_workers.go:190] Error syncing pod {uid} ("{pod}_kube-'
                    f'system({uid})"), skipping: failed to "StartContainer" for "coredns" with '
                    f'CrashLoopBackOff: "Back-off 1m20s restarting failed container=coredns '
                    f'pod={pod}_kube-system({uid})"'
                )
            elif kind == 1:
                text = (
                    f"W{stamp}   52392 kubelet_node_status.go:505] Failed to set some node "
                    "status fields: failed to validate nodeIP: nodeIP can't be loopback address"
                )
            elif kind == 2:
                text = (
                    f'I{stamp}   52392 kubelet.go:1963] SyncLoop (container unhealthy): "{pod}_'
                    f'kube-system({uid})"'
                )
            else:
                text = (
                    f'I{stamp}   52392 kubelet.go:1930] SyncLoop (PLEG): "{pod}_kube-system('
                    f'{uid})", event: &pleg.PodLifecycleEvent{{ID:"{uid}", Type:"Container'
                    f'Started", Data:"{rng.getrandbits(256):064x}"}}'
                )
            lines.append(head + text + "\n")
        block = "".join(lines).encode()
        written += len(block)
        yield block


def _write(path: Path, blocks: Iterator[bytes] | Sequence[bytes]) -> Path:
    with open(path, "wb") as f:
        for block in blocks:
            f.write(block)
    return path


def _lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))


def _pod_node(where: Path, cgroup: str, driver: str) -> Path:
    """bench/gen_roots.py's 5,000-pod node with its kubelet stopped: pods, mounts and pod
    cgroups left behind."""
    from bench.gen_roots import generate

    root = generate(where / f"pods-{cgroup}", 5000, cgroup, driver)
    kubelet = [p.parent for p in (root / "proc").glob("*/comm") if p.read_text() == "kubelet\n"]
    for proc in kubelet:
        shutil.rmtree(proc)
    return root


def _same_findings(expected: list[str]) -> Verify:
    def verify(run: Limited) -> str:
        rules = _rules(run)
        assert rules == expected, f"{rules}, the root gave {expected}"
        skipped = _json(run)["skipped"]
        assert isinstance(skipped, list)
        why = [s["reason"] for s in skipped if s["rule"] == "orphaned-pod-cgroups"]
        unknown = f"; orphaned-pod-cgroups skipped: {why[0][:60]}..." if why else ""
        return f"the root's findings ({', '.join(rules)}){unknown}"

    return verify


def _findings(expected: list[str]) -> Verify:
    def verify(run: Limited) -> str:
        rules = _rules(run)
        assert rules == expected, rules
        return f"findings: {', '.join(rules)}"

    return verify


def issue_inputs(where: Path) -> Iterator[tuple[str, list[Run]]]:
    """Each input the issue names and the runs it goes through, built as they are needed."""
    for name, label in (
        ("kubelet-alias-bomb", "kubelet config: alias bomb (1 KB)"),
        ("containerd-dotted-key", "containerd config: 20,000-part dotted key"),
        ("kubelet-deep-flow", "kubelet config nested 10,000 deep"),
    ):
        hostile, root = _hostile_root(name, where)
        yield label, _four_commands(hostile, root, where / f"{name}.tar.gz")

    deep = _write(where / "deep.json", [b"[" * 100_000 + b"]" * 100_000 + b"\n"])
    yield (
        "report: JSON nested 100,000 deep",
        [
            Run("report", ["report", str(deep)], _refused("nested deeper than 64")),
        ],
    )

    microk8s = copy_root("microk8s-1.29-power-cut", where / "microk8s")
    table_path = microk8s / "proc/self/mountinfo"
    table_path.write_text(
        mountinfo(table_path.read_text(encoding="utf-8"), 1000, MICROK8S_KUBELET),
        encoding="utf-8",
    )
    yield (
        "MicroK8s node, 1,000 pod volumes left",
        [
            Run(
                "clean",
                ["clean", "--root", str(microk8s), "--format", "json"],
                _microk8s_plan(1000),
            ),
        ],
    )

    healthy = str(ROOTS / HEALTHY / "root")
    paste = BUSY_LINE * 35_545 + SYMPTOM_LINE
    yield (
        f"why -: a {len(paste) / 2**20:.1f} MiB paste, the error on its last line",
        [
            Run(
                "why -",
                ["why", "--root", healthy, "--format", "json"],
                lambda run: _last_line_matched(run, 35_546),
                stdin=paste,
            ),
        ],
    )

    for label, log in (
        ("check --logs: 50 MB corpus log", _write(where / "busy.log", [BUSY_LINE * 850_000])),
        (
            "check --logs: 50 MB kubelet journal",
            _write(where / "journal.log", kubelet_journal(50_000_000)),
        ),
    ):
        with open(log, "ab") as f:
            f.write(SYMPTOM_LINE)
        last = _lines(log)
        yield (
            f"{label}, the error on its last line",
            [
                Run(
                    "check --logs",
                    ["check", "--logs", str(log), "--root", healthy],
                    _shows(
                        f"kubepods-invalid: 1 line(s), first at line {last} (passes here)",
                        f"found on line {last:,} of {last:,}",
                    ),
                ),
            ],
        )
        log.unlink()

    hostile, root = _hostile_root("containerd-200-mb-repetitive", where)
    bundle = where / "repetitive.tar.gz"
    yield (
        "collect of a 200 MB repetitive containerd config",
        [
            Run(
                "collect",
                ["collect", "--root", str(root), "-o", str(bundle)],
                _shows(
                    "left out  /etc/containerd/config.toml (compresses more than 100 times",
                    "the config left out: it compresses more than 100 times",
                ),
            ),
            Run(
                "check --bundle",
                ["check", "--bundle", str(bundle), "--format", "json"],
                _parse_error("left out of the bundle: compresses more than 100 times"),
            ),
        ],
    )
    shutil.rmtree(root)

    for cgroup, driver in (("v2", "systemd"), ("v1", "cgroupfs")):
        root = _pod_node(where, cgroup, driver)
        expected = ["kubelet-mounts-left"] + (["cgroup-v1-unsupported"] if cgroup == "v1" else [])
        bundle = where / f"pods-{cgroup}.tar.gz"
        yield (
            f"5,000 pods, cgroup {cgroup} {driver}, kubelet stopped",
            [
                Run(
                    "check",
                    ["check", "--root", str(root), "--format", "json"],
                    _findings(sorted(expected)),
                ),
                Run("collect", ["collect", "--root", str(root), "-o", str(bundle)], _exit(0)),
                Run(
                    "check --bundle",
                    ["check", "--bundle", str(bundle), "--format", "json"],
                    _same_findings(sorted(expected)),
                ),
            ],
        )
        shutil.rmtree(root)


def _last_line_matched(run: Limited, line: int) -> str:
    matches = _json(run)["matches"]
    assert isinstance(matches, list)
    lines = {m["line"] for m in matches}
    assert line in lines, f"matched lines {sorted(lines)}"
    rules = sorted({m["rule"] for m in matches})
    return f"line {line:,} (the last) matched: {', '.join(rules)}"


def issue(src: Path, cpu_limit: int) -> str:
    rows: list[list[object]] = []
    where = Path(tempfile.mkdtemp(prefix="nodedoctor-bench-issue-"))
    try:
        for name, runs in issue_inputs(where):
            for i, step in enumerate(runs):
                run = run_limited(step.argv, cpu_limit=cpu_limit, src=src, stdin=step.stdin)
                try:
                    result = step.verify(run)
                    if run.cpu >= MAX_SECONDS or run.peak_mib >= MAX_PEAK_MIB:
                        result = f"NOT MET (over the bounds): {result}"
                except (AssertionError, ValueError, KeyError, TypeError) as exc:
                    result = f"NOT MET: {exc}"
                rows.append([*_row(name if i == 0 else "", step.command, run, cpu_limit), result])
    finally:
        shutil.rmtree(where, ignore_errors=True)
    headers = ["input", "command", "wall", "cpu", "peak", "exit", "result"]
    note = (
        "one run each; cpu is user+sys and peak the command's own maximum resident set (GNU "
        f"time), under prlimit --cpu={cpu_limit} and a 2 GiB address space"
    )
    return f"{table(headers, rows)}\n\n{note}\n"


# --------------------------------------------------------------------------------------
# The test corpus


def corpus(src: Path, cpu_limit: int) -> str:
    """The worst CPU and peak of each corpus root's four commands, and each input's run."""
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
            runs = [
                (command, run_limited(argv, cpu_limit=cpu_limit, src=src))
                for command, argv in commands
            ]
            cpu_command, slowest = max(runs, key=lambda r: r[1].cpu)
            codes = sorted(
                {"killed" if _killed(r, cpu_limit) else str(r.returncode) for _, r in runs}
            )
            rows.append(
                [
                    hostile.name,
                    f"{slowest.cpu:.2f} s ({cpu_command})",
                    f"{max(r.peak_mib for _, r in runs):.0f} MiB",
                    ", ".join(codes),
                ]
            )
            shutil.rmtree(root, ignore_errors=True)
        for item in INPUT_CORPUS:
            path = where / item.filename
            content = item.content()
            if not item.stdin:
                path.write_bytes(content)
            argv = [str(path) if word == "{}" else word for word in item.argv]
            stdin = content if item.stdin else b""
            run = run_limited(argv, cpu_limit=cpu_limit, src=src, cwd=str(where), stdin=stdin)
            command = item.argv[0]
            if item.argv[1] in ("--bundle", "--logs"):
                command += f" {item.argv[1]}"
            if item.stdin:
                command += " -"
            rows.append(
                [
                    item.name,
                    f"{run.cpu:.2f} s ({command})",
                    f"{run.peak_mib:.0f} MiB",
                    "killed" if _killed(run, cpu_limit) else run.returncode,
                ]
            )
            path.unlink(missing_ok=True)
    finally:
        shutil.rmtree(where, ignore_errors=True)
    headers = ["input", "worst cpu", "worst peak", "exit codes"]
    note = (
        "a root: the worst of check, clean, collect and check --bundle of what collect wrote; "
        "an input: the command named; one run each"
    )
    return f"{table(headers, rows)}\n\n{note}\n"


# --------------------------------------------------------------------------------------
# Clean's planning


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


def run(
    src: Path = SRC,
    sizes: Sequence[int] = MOUNTS,
    cpu_limit: int = 60,
    parts: Sequence[str] = PARTS,
) -> str:
    out = []
    if "issue" in parts:
        out.append(issue(src, cpu_limit))
    if "corpus" in parts:
        out.append(corpus(src, cpu_limit))
    if "clean" in parts:
        out.append(clean_scaling(src, sizes, cpu_limit))
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=SRC, help="the sources to run (src/)")
    parser.add_argument("--mounts", type=int, nargs="+", default=list(MOUNTS))
    parser.add_argument("--cpu-limit", type=int, default=60)
    parser.add_argument("--part", choices=PARTS, nargs="+", default=list(PARTS))
    args = parser.parse_args()
    print(run(args.src, args.mounts, args.cpu_limit, args.part))


if __name__ == "__main__":
    main()
