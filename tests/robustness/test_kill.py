"""SIGKILL during ``nodedoctor fix --apply --yes`` and ``nodedoctor rollback``, on copies of
real bad roots whose fix creates a systemd drop-in directory (MicroK8s), edits containerd's
TOML (Docker's containerd.io file) and edits a Raspberry Pi ``cmdline.txt``.

Each run copies the root, starts the real command in a subprocess and kills it: after a
random delay, or at a moment found by polling the filesystem (the journal's staging
directory appears, the entry is renamed into place, a temp file appears beside a target,
the first target is replaced, a created directory appears or, in rollback, a target is
restored or a created directory removed). After each kill:

* every target is byte for byte its old or its new content (no partial file);
* ``nodedoctor journal`` lists the apply once it got past the rename (interrupted unless it
  finished), and any incomplete staging directory;
* ``nodedoctor rollback`` (run until nothing is left to roll back) returns the whole tree to
  the original exactly: paths, file contents, modes, owners, link targets (the journal's
  own directory aside), with no temp file beside a target and no empty created directory.

The long series is ``slow`` (``make test``); :func:`test_targeted_kills` is the short one.
Figures of the long series: bench/RESULTS.md, "Issue 12: kills during fix and rollback".
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from nodedoctor.cli import main
from tests.robustness.conftest import CASES

REPO = Path(__file__).parents[2]
JOURNAL = "var/lib/nodedoctor/journal"

#: name: (bad root, extra fix arguments)
ROOTS: dict[str, tuple[Path, tuple[str, ...]]] = {
    "microk8s-dropin": (REPO / "tests/roots/microk8s-1.29-power-cut/root", ()),
    "containerd-toml": (REPO / "tests/roots/docker-containerd-io/root", ()),
    "rpi-cmdline": (
        REPO / "tests/fix/cases/rpi-bookworm-image/root",
        ("--only", "cgroup-controller-disabled"),
    ),
}

Tree = dict[str, tuple[str, int, int, int, str]]


def tree(root: Path) -> Tree:
    """Every path under ``root`` but the journal's: kind, mode, owner, content hash or link
    target."""
    out: Tree = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir == "var/lib/nodedoctor" or rel_dir.startswith("var/lib/nodedoctor/"):
            dirnames[:] = []
            continue
        for name in [*dirnames, *filenames]:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            if os.path.islink(p):
                kind, what = "link", os.readlink(p)
            elif os.path.isdir(p):
                kind, what = "dir", ""
            else:
                kind = "file"
                with open(p, "rb") as fh:
                    what = hashlib.sha256(fh.read()).hexdigest()
            out[os.path.relpath(p, root)] = (kind, st.st_mode & 0o7777, st.st_uid, st.st_gid, what)
    return out


def without_journal_parents(after: Tree, before: Tree) -> Tree:
    """``after`` without the journal's own directory and the parents it made for it."""
    return {
        k: v
        for k, v in after.items()
        if k in before or k not in ("var", "var/lib", "var/lib/nodedoctor")
    }


@dataclass
class Case:
    name: str
    source: Path
    args: tuple[str, ...]
    before: Tree
    targets: dict[str, tuple[bytes | None, bytes]]  # rel path: (old or None, new)
    created_dirs: list[str]
    apply_seconds: float
    rollback_seconds: float


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NODEDOCTOR_TEST")}
    env["PYTHONPATH"] = f"{REPO / 'src'}:{REPO}"
    return env


def _fix_argv(root: Path, args: tuple[str, ...]) -> list[str]:
    return [sys.executable, "-m", "nodedoctor", "fix", "--root", str(root), *args, "--apply"]


def _run_cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


def prepare(name: str, work: Path) -> Case:
    """Apply the fix once, whole, to learn its targets and how long apply and rollback take."""
    source, args = ROOTS[name]
    root = work / f"{name}-probe"
    shutil.copytree(source, root, symlinks=True)
    before = tree(root)
    started = time.monotonic()
    subprocess.run(
        [*_fix_argv(root, args), "--yes"], env=_env(), cwd=REPO, check=True, capture_output=True
    )
    apply_seconds = time.monotonic() - started
    after = without_journal_parents(tree(root), before)
    targets: dict[str, tuple[bytes | None, bytes]] = {}
    for rel, value in after.items():
        if value[0] == "file" and before.get(rel) != value:
            old = (source / rel).read_bytes() if rel in before else None
            targets[rel] = (old, (root / rel).read_bytes())
    created = sorted(rel for rel, v in after.items() if v[0] == "dir" and rel not in before)
    assert targets, f"{name}: the fix wrote nothing"
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "nodedoctor", "rollback", "--root", str(root)],
        env=_env(),
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    rollback_seconds = time.monotonic() - started
    assert without_journal_parents(tree(root), before) == before
    shutil.rmtree(root)
    return Case(name, source, args, before, targets, created, apply_seconds, rollback_seconds)


# -- moments found by polling ------------------------------------------------------
Moment = Callable[[Path, Case], bool]


def _journal_names(root: Path) -> list[str]:
    try:
        return os.listdir(root / JOURNAL)
    except OSError:
        return []


def staging_appeared(root: Path, case: Case) -> bool:
    return any(n.startswith(".") and n.endswith(".tmp") for n in _journal_names(root))


def entry_renamed(root: Path, case: Case) -> bool:
    return any(n[:1].isdigit() for n in _journal_names(root))


def temp_beside_target(root: Path, case: Case) -> bool:
    return bool(_temps(root, case))


def first_target_replaced(root: Path, case: Case) -> bool:
    return any(_read(root / rel) == new for rel, (_, new) in case.targets.items())


def created_dir_appeared(root: Path, case: Case) -> bool:
    return any((root / d).is_dir() for d in case.created_dirs)


def target_restored(root: Path, case: Case) -> bool:
    return any(_read(root / rel) == old for rel, (old, _) in case.targets.items())


def created_dir_removed(root: Path, case: Case) -> bool:
    return not all((root / d).is_dir() for d in case.created_dirs)


APPLY_MOMENTS: dict[str, Moment] = {
    "staging dir appears": staging_appeared,
    "entry renamed": entry_renamed,
    "created dir appears": created_dir_appeared,
    "temp beside a target": temp_beside_target,
    "first target replaced": first_target_replaced,
}
ROLLBACK_MOMENTS: dict[str, Moment] = {
    "temp beside a target": temp_beside_target,
    "target restored": target_restored,
    "created dir removed": created_dir_removed,
}


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None


def _temps(root: Path, case: Case) -> list[str]:
    out = []
    for rel in case.targets:
        directory = (root / rel).parent
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        out += [str(directory / n) for n in names if ".nodedoctor-" in n]
    return out


# -- one kill -----------------------------------------------------------------------
def _start(argv: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv, env=_env(), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _kill(proc: subprocess.Popen[bytes], root: Path, case: Case, moment: Moment | float) -> bool:
    """Kill ``proc`` after ``moment`` seconds or when the moment is seen; whether the kill
    landed before the process finished (a missed moment lets it run to the end)."""
    if isinstance(moment, float):
        deadline = time.monotonic() + moment
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(min(0.002, max(deadline - time.monotonic(), 0)))
    else:
        while proc.poll() is None and not moment(root, case):
            pass
    alive = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return alive


def assert_whole(root: Path, case: Case) -> int:
    """Every target is its old or its new content; how many are new."""
    newer = 0
    for rel, (old, new) in case.targets.items():
        now = _read(root / rel)
        assert now in (old, new), f"{case.name}: {rel} is neither old nor new after a kill"
        newer += now == new and now != old
    return newer


def journal_listing(root: Path) -> list[dict[str, object]]:
    code, out = _run_cli("journal", "--root", str(root), "--format", "json")
    assert code == 0, out
    listed: list[dict[str, object]] = json.loads(out)
    return listed


def check_listing(root: Path, case: Case, newer: int) -> str:
    """``journal`` lists what is on disk; the state of the entry (or what the journal holds
    otherwise)."""
    listed = journal_listing(root)
    names = _journal_names(root)
    entries = [e for e in listed if e["state"] not in ("staging", "damaged")]
    assert not [e for e in listed if e["state"] == "damaged"], listed
    staged = [n for n in names if n.startswith(".") and n.endswith(".tmp")]
    assert sorted(str(e["id"]) for e in listed if e["state"] == "staging") == sorted(
        n[1:-4] for n in staged
    )
    on_disk = [n for n in names if n[:1].isdigit()]
    assert sorted(str(e["id"]) for e in entries) == sorted(on_disk), (listed, names)
    if newer or created_dir_appeared(root, case) or _temps(root, case):
        assert entries, f"{case.name}: the node was touched without a journal entry"
    for e in entries:
        assert e["interrupted"] == (e["state"] not in ("applied", "rolled-back")), e
    if not entries:
        return "staging" if staged else "no journal"
    return str(entries[-1]["state"])


def roll_back_fully(root: Path, case: Case) -> None:
    """``rollback`` until nothing is pending; then the tree is the original."""
    for _ in range(3):
        pending = [e for e in journal_listing(root) if e["state"] not in ("rolled-back", "staging")]
        if not pending:
            break
        code, out = _run_cli("rollback", "--root", str(root), "--format", "json")
        assert code == 0, out
        result = json.loads(out)
        if any(rel.startswith("etc/systemd/system/") for rel in case.targets):
            touched = result["restored"] + result["removed"]
            if touched:  # the drop-in went: the output says the node must reload
                assert [n["command"] for n in result["not_run"]] == ["systemctl daemon-reload"]
    assert not [e for e in journal_listing(root) if e["state"] not in ("rolled-back", "staging")]
    assert _temps(root, case) == [], f"{case.name}: temp files left beside targets"
    after = without_journal_parents(tree(root), case.before)
    assert after == case.before, _tree_diff(case.before, after)


def _tree_diff(before: Tree, after: Tree) -> str:
    lines = [f"missing {k}" for k in sorted(set(before) - set(after))]
    lines += [f"extra {k}" for k in sorted(set(after) - set(before))]
    lines += [f"differs {k}" for k in sorted(set(before) & set(after)) if before[k] != after[k]]
    return "\n".join(lines)


@dataclass
class Tally:
    kills: int = 0
    missed: int = 0
    outcomes: Counter[str] | None = None

    def add(self, what: str) -> None:
        if self.outcomes is None:
            self.outcomes = Counter()
        self.outcomes[what] += 1


def kill_apply(work: Path, case: Case, n: int, moment: Moment | float, tally: Tally) -> None:
    root = work / f"{case.name}-a{n}"
    shutil.copytree(case.source, root, symlinks=True)
    landed = _kill(_start([*_fix_argv(root, case.args), "--yes"]), root, case, moment)
    tally.kills += landed
    tally.missed += not landed
    newer = assert_whole(root, case)
    state = check_listing(root, case, newer)
    tally.add(f"apply killed: {state}, {newer}/{len(case.targets)} new")
    roll_back_fully(root, case)
    shutil.rmtree(root)


def kill_rollback(
    work: Path,
    case: Case,
    n: int,
    moment: Moment | float,
    tally: Tally,
    *,
    apply_kill: float | None,
) -> None:
    """Apply (whole, or killed after ``apply_kill`` seconds), then kill a rollback."""
    root = work / f"{case.name}-r{n}"
    shutil.copytree(case.source, root, symlinks=True)
    if apply_kill is None:
        code, out = _run_cli("fix", "--root", str(root), *case.args, "--apply", "--yes")
        assert code in (0, 1), out
    else:
        _kill(_start([*_fix_argv(root, case.args), "--yes"]), root, case, apply_kill)
    assert_whole(root, case)
    argv = [sys.executable, "-m", "nodedoctor", "rollback", "--root", str(root)]
    landed = _kill(_start(argv), root, case, moment)
    tally.kills += landed
    tally.missed += not landed
    newer = assert_whole(root, case)
    state = check_listing(root, case, newer)
    tally.add(f"rollback killed: {state}, {newer}/{len(case.targets)} new")
    roll_back_fully(root, case)
    shutil.rmtree(root)


def _report(name: str, tally: Tally, seconds: float) -> None:
    CASES[f"kills ({name})"] += tally.kills
    sys.stderr.write(
        f"\n{name}: {tally.kills} kills, {tally.missed} runs finished first, {seconds:.0f}s\n"
    )
    for what, count in sorted((tally.outcomes or Counter()).items()):
        sys.stderr.write(f"  {count:4d}  {what}\n")


class AfterJournal:
    """The moment ``delay`` seconds after the journal directory appears (the apply took
    the lock: what follows is the apply itself)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.at: float | None = None

    def __call__(self, root: Path, case: Case) -> bool:
        if self.at is None:
            if not os.path.isdir(root / JOURNAL):
                return False
            self.at = time.monotonic() + self.delay
        return time.monotonic() >= self.at


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Case]:
    work = tmp_path_factory.mktemp("kill-cases")
    return {name: prepare(name, work) for name in ROOTS}


@pytest.mark.parametrize("name", sorted(ROOTS))
def test_targeted_kills(tmp_path: Path, cases: dict[str, Case], name: str) -> None:
    """A few kills at the moments that broke before: right after the staging directory
    appears, at the temp file beside a target, after the first target is replaced, and in
    the rollback after the first file is restored."""
    case = cases[name]
    tally = Tally()
    for n, moment in enumerate(
        (staging_appeared, entry_renamed, temp_beside_target, first_target_replaced)
    ):
        kill_apply(tmp_path, case, n, moment, tally)
    kill_rollback(tmp_path, case, 0, target_restored, tally, apply_kill=None)
    # A moment a poll can miss (the temp file lives for an fsync) only weakens a run:
    # the runs still end in the checks above; most land.
    assert tally.kills >= 3, tally


#: Runs per root in the long series.
RANDOM_APPLY = int(os.environ.get("NODEDOCTOR_KILL_RANDOM", "40"))
TARGETED_REPEAT = int(os.environ.get("NODEDOCTOR_KILL_TARGETED", "4"))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ROOTS))
def test_many_kills(tmp_path: Path, cases: dict[str, Case], name: str) -> None:
    case = cases[name]
    rng = random.Random(f"kill-{name}")  # noqa: S311 - a fixed seed so failures reproduce
    tally = Tally()
    started = time.monotonic()
    n = 0
    # Random delays over the whole command (most land in the check before the apply or in
    # the re-check after it), and short ones after the journal directory appears (inside
    # the apply itself).
    for _ in range(RANDOM_APPLY):
        n += 1
        kill_apply(tmp_path, case, n, rng.uniform(0.0, case.apply_seconds), tally)
    for _ in range(RANDOM_APPLY):
        n += 1
        kill_apply(tmp_path, case, n, AfterJournal(rng.uniform(0.0, 0.05)), tally)
    for moment in APPLY_MOMENTS.values():
        for _ in range(TARGETED_REPEAT):
            n += 1
            kill_apply(tmp_path, case, n, moment, tally)
    for _ in range(RANDOM_APPLY // 2):
        n += 1
        kill_rollback(
            tmp_path, case, n, rng.uniform(0.0, case.rollback_seconds), tally, apply_kill=None
        )
    for moment in ROLLBACK_MOMENTS.values():
        for _ in range(TARGETED_REPEAT):
            n += 1
            kill_rollback(tmp_path, case, n, moment, tally, apply_kill=None)
    for _ in range(RANDOM_APPLY // 4):  # an apply killed, then its rollback killed too
        n += 1
        kill_rollback(
            tmp_path,
            case,
            n,
            rng.uniform(0.0, case.rollback_seconds),
            tally,
            apply_kill=rng.uniform(0.0, case.apply_seconds),
        )
    _report(name, tally, time.monotonic() - started)
    outcomes = tally.outcomes or Counter()
    # The kills reached inside the apply and the rollback, not only before or after them.
    assert any("apply killed: prepared" in k for k in outcomes), outcomes
    assert any(k.startswith("rollback killed: rolling-back") for k in outcomes), outcomes
