"""The text report's layout, without a terminal: one line per finding and the verdict first,
then the details; wrapping at the given width that never breaks a word; commands whole on
lines of their own; ``-q``/``-v``; the width the CLI picks (issue 15)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodedoctor.model import Evidence, Finding, FixHint, Report, Severity, Skipped
from nodedoctor.render.text import render_text, report_width, wrap
from tests.helpers import ROOTS

REPO = Path(__file__).resolve().parents[2]
RPI = ROOTS / "rocky9-rpi4-before-kubespray" / "root"
TEARDOWN = ROOTS / "kubekey-teardown-calico" / "root"

LONG_PATH = (
    "/var/lib/kubelet/pods/d4c3b2a1-0f9e-4d8c-b7a6-958473625140/volumes/"
    "kubernetes.io~projected/kube-api-access-h2v8d"
)
GRUBBY = 'grubby --update-kernel=ALL --remove-args="cgroup_disable=memory"'


def _report(*findings: Finding, node: dict[str, object] | None = None) -> Report:
    return Report(
        tool_version="0",
        node={"hostname": "n1", "root": "/"} if node is None else node,
        findings=findings,
        skipped=(Skipped("crio-conmon-cgroup-invalid", "CRI-O is not installed"),),
        passed=("swap-enabled",),
        rules_checked=tuple(f.rule for f in findings),
    )


def _finding(severity: Severity = Severity.ERROR, **fix: object) -> Finding:
    return Finding(
        rule="cgroup-controller-disabled",
        severity=severity,
        title="the kernel gives no memory cgroup controller",
        message=f"run `{GRUBBY}` and unmount {LONG_PATH} with --remove-args= and args= words",
        evidence=(Evidence("/proc/self/mountinfo", f"1303 29 0:103 / {LONG_PATH} rw", 17),),
        impact="the kubelet exits",
        fix=FixHint(
            summary=f"run `{GRUBBY}`, then reboot",
            commands=(GRUBBY, f"umount {LONG_PATH}"),
            reboot=True,
            **fix,  # type: ignore[arg-type]
        ),
    )


@pytest.mark.parametrize("severity", list(Severity))
def test_the_severity_and_the_rule_id_never_run_together(severity: Severity) -> None:
    report = _report(Finding(rule="some-rule", severity=severity, title="a title", message="m"))
    head = next(line for line in render_text(report).splitlines() if "some-rule" in line)
    assert re.match(rf"^{severity.value.upper()} +some-rule: a title$", head), head
    assert head.index("some-rule") == len("WARNING") + 2


words = st.text(alphabet="abc-=/_.", min_size=1, max_size=120)


@given(st.lists(words, min_size=1, max_size=40), st.integers(min_value=20, max_value=120))
def test_wrap_never_breaks_a_word_and_keeps_to_the_width(parts: list[str], width: int) -> None:
    lines = wrap(" ".join(parts), width, "  fix: ", "    ")
    assert lines[0].startswith("  fix: ")
    assert all(line.startswith("    ") for line in lines[1:])
    assert " ".join(lines).split()[1:] == parts  # every word whole, in order ("fix:" first)
    for i, line in enumerate(lines):
        words_here = line.split()[1:] if i == 0 else line.split()
        # Longer than the width only when one word alone is.
        assert len(line) <= width or len(words_here) == 1, (width, line)


def test_wrap_keeps_paths_and_options_whole_at_hyphens() -> None:
    text = f"unmount {LONG_PATH}, then run {GRUBBY} with --remove-args= and args= words"
    for width in (40, 60, 80):
        lines = wrap(text, width, "  ")
        joined = [w for line in lines for w in line.split()]
        assert LONG_PATH + "," in joined
        assert '--remove-args="cgroup_disable=memory"' in joined
        assert "--remove-args=" in joined
        assert all(not line.endswith("-") for line in lines), lines


def test_a_code_span_that_fits_stays_on_one_line() -> None:
    lines = wrap(f"first run `{GRUBBY}`, then reboot the node", 80, "  fix: ", "    ")
    assert any(f"`{GRUBBY}`" in line for line in lines), lines


def test_the_summary_leads_and_the_details_follow() -> None:
    report = _report(_finding(Severity.WARNING), _finding(Severity.ERROR))
    lines = render_text(report).splitlines()
    blank = lines.index("")  # after the header
    error, warning = (
        "ERROR    cgroup-controller-disabled: the kernel gives no memory cgroup",
        "WARNING  cgroup-controller-disabled: the kernel gives no memory cgroup",
    )
    assert lines[blank + 1 : blank + 6] == [
        error,
        "         controller",
        warning,
        "         controller",
        "1 error · 1 warning · 0 info · 1 passed · 1 skipped (-v: why)",
    ]
    details = lines[blank + 6 :]
    assert details[:3] == ["", error, "         controller"]
    assert details.count("  more: nodedoctor explain cgroup-controller-disabled") == 2
    assert details.index(warning) > details.index(error)


def test_quiet_prints_the_summary_alone_and_verbose_the_skipped() -> None:
    report = _report(_finding())
    quiet = render_text(report, verbosity=-1).splitlines()
    assert quiet == [
        "ERROR    cgroup-controller-disabled: the kernel gives no memory cgroup",
        "         controller",
        "1 error · 0 warnings · 0 info · 1 passed · 1 skipped",
    ]
    normal = render_text(report)
    assert "CRI-O is not installed" not in normal
    verbose = render_text(report, verbosity=1)
    assert "skipped:\n  crio-conmon-cgroup-invalid: CRI-O is not installed\n" in verbose
    assert "(-v: why)" not in verbose


@pytest.mark.parametrize("width", [40, 60, 80, 100])
def test_commands_stand_alone_whole_and_the_rest_keeps_to_the_width(width: int) -> None:
    finding = _finding(available=True)
    text = render_text(_report(finding, node={"hostname": "n1", "root": "/mnt/img"}), width=width)
    commands = []
    for line in text.splitlines():
        if line.lstrip().startswith("$ "):
            commands.append(line.lstrip()[2:])
        else:
            assert len(line) <= width or len(line.split()) == 1, line
    explain = "nodedoctor explain cgroup-controller-disabled"
    assert commands == [
        GRUBBY,
        f"umount {LONG_PATH}",
        "nodedoctor fix --root /mnt/img --only cgroup-controller-disabled --apply",
        *([explain] if width < len("  more: " + explain) else []),
    ]
    assert shlex.split(commands[0]) == [
        "grubby",
        "--update-kernel=ALL",
        "--remove-args=cgroup_disable=memory",
    ]


def test_the_width_follows_the_terminal_within_bounds() -> None:
    assert report_width(None) == 80
    assert report_width(132) == 100
    assert report_width(72) == 72
    assert report_width(12) == 40


def _check(*args: str, columns: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env["NO_COLOR"] = "1"
    if columns is not None:
        env["COLUMNS"] = columns
    out = subprocess.run(
        [sys.executable, "-m", "nodedoctor", "check", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode in (0, 1), out.stderr
    return out.stdout


def _widest(text: str) -> int:
    return max(len(line) for line in text.splitlines() if not line.lstrip().startswith("$ "))


def test_a_pipe_gets_80_columns_and_columns_is_honoured() -> None:
    piped = _check("--root", str(RPI))
    assert 70 < _widest(piped) <= 80
    wide = _check("--root", str(RPI), columns="100")
    assert 80 < _widest(wide) <= 100
    narrow = _check("--root", str(RPI), columns="60")
    assert _widest(narrow) <= 60


def test_the_cli_quiet_and_verbose() -> None:
    quiet = _check("--root", str(RPI), "-q").splitlines()
    assert quiet[-1].startswith("1 error · 0 warnings")
    assert all(line.startswith(("ERROR ", "  ")) for line in quiet[:-1]), quiet
    normal = _check("--root", str(RPI))
    assert "skipped:" not in normal
    assert "(-v: why)" in normal
    verbose = _check("--root", str(RPI), "-v")
    assert "skipped:\n  cgroup-controller-not-delegated: no kubelet is installed" in verbose


def test_a_bundle_says_fix_runs_on_the_node(tmp_path: Path) -> None:
    bundle = tmp_path / "rpi.tar.gz"
    collected = subprocess.run(
        [sys.executable, "-m", "nodedoctor", "collect", "--root", str(RPI), "-o", str(bundle)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert collected.returncode == 0, collected.stderr
    text = _check("--bundle", str(bundle))
    lines = text.splitlines()
    i = lines.index("    $ nodedoctor fix --only cgroup-controller-disabled --apply")
    assert lines[i - 1] == "    nodedoctor does it on rpi-worker-3 itself (a bundle is a copy):"


def test_teardown_findings_point_to_clean_with_the_root() -> None:
    text = _check("--root", str(TEARDOWN), "--profile", "kubekey")
    shown = [line.strip() for line in text.splitlines() if "nodedoctor clean" in line]
    expected = f"$ nodedoctor clean --root {TEARDOWN} --profile kubekey"
    from nodedoctor.rules import rule_by_id
    from tests.helpers import check_root

    report = check_root(TEARDOWN, profile="kubekey")
    cleaned = [f for f in report.findings if (r := rule_by_id(f.rule)) and r.clean_removes]
    # foreign-cgroup-mount, kubelet-mounts-left, orphaned-pod-dirs, cni-network-left
    assert len(cleaned) >= 2
    assert shown.count(expected) == len(cleaned), shown
