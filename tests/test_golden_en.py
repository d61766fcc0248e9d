"""English output is byte-identical to the record (issue 16): every test root's and rule
case's report, fix and clean plans, every runbook and every command's help. A deliberate
change of English text is recorded with ``scripts/golden_en.py --write``, and the diff of
tests/golden/en shows it in review."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_english_output_is_as_recorded() -> None:
    run = subprocess.run(
        [sys.executable, str(REPO / "scripts/golden_en.py")],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        cwd=REPO,
    )
    assert run.returncode == 0, run.stdout + run.stderr
