"""Crash safety: SIGKILL the apply at many points; every file is wholly old or wholly new,
and rollback returns the root to its old state.

The apply runs in a subprocess. ``NODEDOCTOR_TEST_PAUSE_BETWEEN_STEPS`` makes it announce
each stage on stderr (journal written, each file written) and pause there, so the test can
kill it at each stage exactly; a second series kills it after random delays, without pauses,
with files large enough (about 1 MB each) that some kills land inside a write. (The files
are planned as plain text: re-parsing 1 MB of TOML would only slow the test down.)
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nodedoctor.fix import engine, journal, undo
from nodedoctor.sources.root import directory_root
from tests.fix.helpers import snapshot, write

REPO = Path(__file__).parents[2]
FILES = [f"/etc/app/conf{i}.toml" for i in range(5)]

APPLY = """
import sys
from pathlib import Path
from nodedoctor.fix import engine
from nodedoctor.sources.root import directory_root
from tests.fix.helpers import plan_edits
root = Path(sys.argv[1])
edits = {}
for i, path in enumerate(sys.argv[2:]):
    old = (root / path.lstrip("/")).read_text()
    edits[path] = (old.replace("value = 'old'", "value = 'new'"), "text")
plan = plan_edits(root, edits)
sys.stderr.write("nodedoctor-test: planned\\n")
sys.stderr.flush()
engine.apply(directory_root(str(root)), plan)
sys.stderr.write("nodedoctor-test: done\\n")
"""


def _content(i: int, value: str) -> str:
    filler = "".join(f"# line {n} of file {i}: {'x' * 60}\n" for n in range(12000))
    return f"{filler}[section]\n  value = '{value}'\n"


def _make_root(tmp_path: Path) -> tuple[Path, dict[str, str], dict[str, str]]:
    root = tmp_path / "node"
    old: dict[str, str] = {}
    new: dict[str, str] = {}
    for i, path in enumerate(FILES):
        write(root, path, _content(i, "old"), 0o640)
        os.chown(root / path.lstrip("/"), 1000 + i, 2000 + i)
        old[path] = hashlib.sha256(_content(i, "old").encode()).hexdigest()
        new[path] = hashlib.sha256(_content(i, "new").encode()).hexdigest()
    return root, old, new


def _start(root: Path, pause: str | None, at: str | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": f"{REPO}:{REPO / 'src'}"}
    env.pop(engine.PAUSE_ENV, None)
    env.pop(engine.PAUSE_AT_ENV, None)
    if pause:
        env[engine.PAUSE_ENV] = pause
    if at:
        env[engine.PAUSE_AT_ENV] = at
    return subprocess.Popen(
        [sys.executable, "-c", APPLY, str(root), *FILES],
        cwd=REPO,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )


def _assert_whole_and_rollback(root: Path, old: dict[str, str], new: dict[str, str]) -> int:
    """Each file is old or new; rollback (if a journal exists) restores all. Returns how
    many files were new."""
    newer = 0
    for path in FILES:
        p = root / path.lstrip("/")
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
        assert digest in (old[path], new[path]), f"{path} is neither old nor new"
        st = p.stat()
        i = FILES.index(path)
        assert (st.st_mode & 0o777, st.st_uid, st.st_gid) == (0o640, 1000 + i, 2000 + i)
        newer += digest == new[path]
    r = directory_root(str(root))
    entries = journal.entries(r)
    if newer:
        assert entries, "files were written without a journal entry"
    if entries:
        result = undo.rollback(r, entries[-1])
        assert not result.refused, result.changed_since
    for path in FILES:
        digest = hashlib.sha256((root / path.lstrip("/")).read_bytes()).hexdigest()
        assert digest == old[path]
    # No temp file of ours is left next to the files.
    assert sorted(os.listdir(root / "etc/app")) == sorted(f"conf{i}.toml" for i in range(5))
    return newer


STAGES = ["journal written", *[f"wrote {p}" for p in FILES]]


@pytest.mark.slow
@pytest.mark.parametrize("stage", STAGES)
def test_kill_at_each_stage(tmp_path: Path, stage: str) -> None:
    root, old, new = _make_root(tmp_path)
    before = snapshot(root)
    proc = _start(root, pause="30", at=stage)
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line.strip())
        if line.strip() == f"nodedoctor-test: {stage}":
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    assert f"nodedoctor-test: {stage}" in seen, seen
    newer = _assert_whole_and_rollback(root, old, new)
    assert newer == STAGES.index(stage)
    assert snapshot(root) == before


@pytest.mark.slow
def test_kill_at_random_moments(tmp_path: Path) -> None:
    rng = random.Random(4)  # noqa: S311 - fixed seed so failures reproduce; not crypto
    # How long an apply takes here, from "planned" to exit: kills land inside that window.
    root, old, new = _make_root(tmp_path / "timing")
    proc = _start(root, pause=None)
    assert proc.stderr is not None
    proc.stderr.readline()
    started = time.monotonic()
    proc.wait()
    proc.stderr.close()
    window = time.monotonic() - started
    assert _assert_whole_and_rollback(root, old, new) == len(FILES)
    outcomes: dict[int, int] = {}
    interrupted = 0
    for n in range(24):
        root, old, new = _make_root(tmp_path / f"run{n}")
        before = snapshot(root)
        proc = _start(root, pause=None)
        assert proc.stderr is not None
        # Wait until the plan is made (imports and reads take varying time), then kill
        # somewhere inside the apply.
        line = proc.stderr.readline()
        assert "planned" in line, line
        time.sleep(rng.uniform(0.0, window))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
        entries = journal.entries(directory_root(str(root)))
        interrupted += any(e.state == "prepared" for e in entries)
        newer = _assert_whole_and_rollback(root, old, new)
        outcomes[newer] = outcomes.get(newer, 0) + 1
        assert snapshot(root) == before
    # The kills landed at different points, some of them inside the apply (journal written,
    # not every file yet).
    assert len(outcomes) >= 2, outcomes
    assert interrupted >= 1, outcomes


@pytest.mark.slow
def test_kill_the_cli_apply_then_rollback(tmp_path: Path) -> None:
    """``nodedoctor fix --apply --yes`` on the Docker containerd.io scenario, killed right
    after its journal is written and again after its file is written; ``nodedoctor
    rollback`` restores the root each time."""
    scenario = REPO / "tests/roots/docker-containerd-io/root"
    for stage in ("journal written", "wrote /etc/containerd/config.toml"):
        root = tmp_path / stage.replace(" ", "-").replace("/", "_")
        shutil.copytree(scenario, root, symlinks=True)
        before = snapshot(root)
        env = {**os.environ, "PYTHONPATH": f"{REPO}:{REPO / 'src'}"}
        env[engine.PAUSE_ENV] = "30"
        env[engine.PAUSE_AT_ENV] = stage
        proc = subprocess.Popen(
            [sys.executable, "-m", "nodedoctor", "fix", "--root", str(root), "--apply", "--yes"],
            cwd=REPO,
            env=env,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.strip() == f"nodedoctor-test: {stage}":
                break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
        config = (root / "etc/containerd/config.toml").read_text()
        assert ('disabled_plugins = ["cri"]' in config) == (stage == "journal written")
        rolled = subprocess.run(
            [sys.executable, "-m", "nodedoctor", "rollback", "--root", str(root)],
            cwd=REPO,
            env={k: v for k, v in env.items() if not k.startswith("NODEDOCTOR_TEST")},
            capture_output=True,
            text=True,
            check=False,
        )
        assert rolled.returncode == 0, rolled.stdout + rolled.stderr
        assert snapshot(root) == before
