"""The Prometheus textfile, read by the real node exporter (Debian's prometheus-node-exporter,
installed by scripts/install-system-deps) with only its textfile collector on a private port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodedoctor.render.prometheus import render_prometheus
from tests.render import samples

EXPORTER = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(EXPORTER is None, reason="prometheus-node-exporter is not installed"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def textfile_dir(tmp_path: Path) -> Path:
    d = tmp_path / "textfile"
    d.mkdir()
    return d


@pytest.fixture
def scrape(textfile_dir: Path) -> Iterator[str]:
    """The exporter's URL; it runs for the test's length and is stopped after it."""
    assert EXPORTER is not None
    port = _free_port()
    proc = subprocess.Popen(
        [
            EXPORTER,
            f"--web.listen-address=127.0.0.1:{port}",
            "--collector.disable-defaults",
            "--collector.textfile",
            f"--collector.textfile.directory={textfile_dir}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    pytest.fail(f"node exporter did not start: {err}")
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()


def _metrics(url: str) -> list[str]:
    body: bytes = urllib.request.urlopen(url, timeout=5).read()  # noqa: S310 (local URL)
    return body.decode().splitlines()


def test_node_exporter_reads_the_textfile(textfile_dir: Path, scrape: str) -> None:
    report = samples.driver_mismatch()
    (textfile_dir / "nodedoctor.prom").write_text(render_prometheus(report), encoding="utf-8")
    lines = _metrics(scrape)
    assert "node_textfile_scrape_error 0" in lines
    assert 'nodedoctor_finding{rule="cgroup-driver-mismatch",severity="error"} 1' in lines
    assert 'nodedoctor_finding{rule="swap-enabled",severity="warning"} 1' in lines
    assert "nodedoctor_rules_checked 6" in lines
    assert any(x.startswith("nodedoctor_check_duration_seconds ") for x in lines)
    assert "nodedoctor_last_run_timestamp_seconds 1.79546e+09" in lines


def test_node_exporter_reads_hostile_and_empty_reports(textfile_dir: Path, scrape: str) -> None:
    (textfile_dir / "a.prom").write_text(render_prometheus(samples.hostile()), encoding="utf-8")
    (textfile_dir / "b.prom").write_text(render_prometheus(samples.healthy()), encoding="utf-8")
    lines = _metrics(scrape)
    assert "node_textfile_scrape_error 0" in lines
    assert 'nodedoctor_finding{rule="internal-error",severity="error"} 1' in lines


def test_the_exporter_would_flag_a_broken_file(textfile_dir: Path, scrape: str) -> None:
    """The check above can fail: a malformed file sets the error metric."""
    (textfile_dir / "bad.prom").write_text("nodedoctor_finding{rule= 1\n", encoding="utf-8")
    assert "node_textfile_scrape_error 1" in _metrics(scrape)


def test_check_writes_the_textfile_the_exporter_reads(
    textfile_dir: Path, scrape: str, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text('ID=debian\nVERSION_ID="12"\n', encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "nodedoctor",
            "check",
            "--root",
            str(root),
            "--format",
            "prometheus",
            "--output",
            str(textfile_dir / "nodedoctor.prom"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode in (0, 1), result.stderr
    lines = _metrics(scrape)
    assert "node_textfile_scrape_error 0" in lines
    assert any(x.startswith("nodedoctor_rules_checked ") for x in lines)
