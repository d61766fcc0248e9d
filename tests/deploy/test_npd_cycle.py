"""One evaluation per node-problem-detector cycle (nodedoctor.npdcycle): every family's line
from the shared evaluation is the line that family's plugin prints when run alone, on every
test root (those with unparsable files included: a family's parse-error names only the
files its own facts read); the cycle's other runs print it from the cache without importing
a rule; a document that is stale, foreign, damaged or too large is never used."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nodedoctor import engine, npdcycle
from nodedoctor.facts import Facts
from nodedoctor.facts.tracing import TracingFacts
from nodedoctor.model import Severity
from nodedoctor.render.npd import cycle_lines, npd_status
from nodedoctor.rules import all_rules
from nodedoctor.rules.families import ENGINE_RULES, FAMILIES, expand_families
from nodedoctor.sources.root import directory_root
from tests.helpers import ROOTS, case_dirs, case_root

REPO = Path(__file__).resolve().parents[2]
NODES = REPO / "tests" / "nodes"
HEALTHY = ROOTS / "kubeadm-healthy-v2" / "root"


def _alone(root: Path) -> npdcycle.Lines:
    """Each family evaluated as ``check --only FAMILY`` does: its own Facts."""
    rules = all_rules()
    out: npdcycle.Lines = {}
    for family in FAMILIES:
        only = expand_families([family], rules) or sorted(ENGINE_RULES)
        facts = Facts(directory_root(str(root)))
        report = engine.run(facts, engine.select_rules(rules, only), summary=False)
        out[family] = {s: npd_status(report, Severity(s)) for s in npdcycle.SEVERITIES}
    return out


def _unparsable(base: Path, dest: Path) -> Path:
    """``base`` copied with the kubelet's config and containerd's config broken: files read
    by the facts of several families, each family seeing only its own."""
    root = dest / "root"
    shutil.copytree(base, root, symlinks=True)
    kubelet = root / "var/lib/kubelet/config.yaml"
    kubelet.write_text("cgroupDriver: [systemd\n", encoding="utf-8")
    containerd = root / "etc/containerd/config.toml"
    containerd.parent.mkdir(parents=True, exist_ok=True)
    containerd.write_text('version = 2\n[plugins."io.containerd.grpc.v1.cri"\n', encoding="utf-8")
    return root


def _roots() -> list[Path]:
    roots = [p / "root" for p in sorted(ROOTS.iterdir()) if (p / "root").is_dir()]
    roots += [p / "root" for p in sorted(NODES.iterdir()) if (p / "root").is_dir()]
    return roots


@pytest.mark.parametrize("root", _roots(), ids=lambda p: p.parent.name)
def test_each_familys_line_is_the_line_it_gives_alone(root: Path) -> None:
    shared = cycle_lines(TracingFacts(directory_root(str(root))), FAMILIES)
    assert shared == _alone(root)


def test_case_roots_give_the_same_lines_shared_and_alone() -> None:
    for case in case_dirs():
        root = case_root(case)
        shared = cycle_lines(TracingFacts(directory_root(str(root))), FAMILIES)
        assert shared == _alone(root), case


def test_parse_errors_count_only_for_the_families_that_read_the_file(tmp_path: Path) -> None:
    root = _unparsable(HEALTHY, tmp_path)
    alone = _alone(root)
    assert cycle_lines(TracingFacts(directory_root(str(root))), FAMILIES) == alone
    lines = {family: alone[family]["error"] for family in FAMILIES}
    broken = [f for f, (_code, line) in lines.items() if line.startswith("parse-error: ")]
    # The files are read by some families and not by others: the shared run must keep that.
    assert broken
    assert set(FAMILIES) - set(broken), lines


def _run(*argv: str, probe: bool = False) -> subprocess.CompletedProcess[str]:
    """``nodedoctor ARGV`` in a fresh interpreter; with ``probe``, the nodedoctor modules it
    imported are printed to stderr as JSON."""
    code = "import sys; from nodedoctor.entry import main; rc = main(sys.argv[1:])\n"
    if probe:
        code += (
            "import json; sys.stderr.write(json.dumps(sorted(m for m in sys.modules "
            "if m.startswith('nodedoctor'))))\n"
        )
    code += "sys.exit(rc)"
    env = dict(os.environ, PYTHONPATH=f"{REPO / 'src'}:{REPO}")
    return subprocess.run(
        [sys.executable, "-c", code, *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=env,
    )


def _plugin(root: Path, family: str, cache: Path, *extra: str) -> list[str]:
    return [
        "check",
        "--root",
        str(root),
        "--format",
        "npd",
        "--only",
        family,
        *extra,
        "--npd-cache",
        str(cache),
    ]


def test_the_cycles_other_runs_print_from_the_cache_importing_no_rule(tmp_path: Path) -> None:
    root = ROOTS / "kubekey-teardown-calico" / "root"
    cache = tmp_path / "npd"
    first = _run(*_plugin(root, "NodeTeardownLeftovers", cache, "--fail-on", "warning"))
    assert first.returncode == 1, first.stderr
    assert first.stdout.startswith("foreign-cgroup-mount: ")
    key = npdcycle.cache_key(str(root), None)
    assert key is not None
    written = npdcycle.read_cached(str(cache), key, npdcycle.DEFAULT_TTL)
    assert written is not None
    assert set(written) == set(FAMILIES)
    for family in FAMILIES:
        later = _run(*_plugin(root, family, cache, "--fail-on", "warning"), probe=True)
        alone = _run(*_plugin(root, family, cache, "--fail-on", "warning")[:-2])
        assert (later.returncode, later.stdout) == (alone.returncode, alone.stdout), family
        imported = json.loads(later.stderr)
        assert "nodedoctor.npdcycle" in imported
        assert not [m for m in imported if m.startswith(("nodedoctor.cli", "nodedoctor.rules"))]
    assert sorted(os.listdir(cache)) == [npdcycle.LOCK_NAME, npdcycle.CACHE_NAME]


def _lie(cache: Path, spoil: str) -> None:
    """Rewrite the document in ``cache`` so that every line is a problem, then spoil it."""
    path = cache / npdcycle.CACHE_NAME
    fmt, key, when, *_records = path.read_text(encoding="ascii").split("\n")
    lie = (1, "cgroup-controller-disabled: a lie from the cache")
    lines = {f: dict.fromkeys(npdcycle.SEVERITIES, lie) for f in FAMILIES}
    started = int(when)
    if spoil == "stale":
        started = int(time.time() - npdcycle.DEFAULT_TTL - 1)
    elif spoil == "future":
        started = int(time.time() + 60)
    elif spoil == "other-version":
        key = "0.0.1" + key[key.index("\t") :]
    elif spoil == "other-root":
        key = npdcycle.cache_key("/elsewhere", None) or ""
    text = npdcycle.document(key, started, lines)
    if spoil == "not-a-record":
        text = text.replace("\terror\t1\t", "\terror\t7\t", 1)
    elif spoil == "too-large":
        text = text + "x" * npdcycle.MAX_BYTES
    elif spoil == "cut":
        text = text[: len(text) // 2]
    elif spoil == "not-ascii":
        text = text.replace("a lie", "a l\u00efe")
    path.write_bytes(text.encode("utf-8"))
    assert fmt == npdcycle.FORMAT


@pytest.mark.parametrize(
    "spoil",
    [
        "stale",
        "future",
        "other-version",
        "other-root",
        "not-a-record",
        "too-large",
        "cut",
        "not-ascii",
    ],
)
def test_a_document_that_does_not_fit_is_never_used(tmp_path: Path, spoil: str) -> None:
    """A damaged or foreign document says the healthy node has a problem; it must be
    evaluated afresh (and replaced) instead."""
    cache = tmp_path / "npd"
    family = "KernelCgroupsMissing"
    assert _run(*_plugin(HEALTHY, family, cache)).returncode == 0
    _lie(cache, spoil)
    again = _run(*_plugin(HEALTHY, family, cache))
    assert (again.returncode, again.stdout.startswith("ok: ")) == (0, True), again.stdout
    text = (cache / npdcycle.CACHE_NAME).read_text(encoding="ascii")
    assert "a lie" not in text  # evaluated afresh and replaced


def test_a_fitting_document_is_used(tmp_path: Path) -> None:
    """The other side of the above: the same lie, unspoiled, is what the plugin prints (so
    the test above fails if the cache were never read at all)."""
    cache = tmp_path / "npd"
    assert _run(*_plugin(HEALTHY, "KernelCgroupsMissing", cache)).returncode == 0
    _lie(cache, "none")
    lied = _run(*_plugin(HEALTHY, "KernelCgroupsMissing", cache))
    assert (lied.returncode, lied.stdout) == (
        1,
        "cgroup-controller-disabled: a lie from the cache\n",
    )


def test_concurrent_runs_agree_and_leave_no_temporary_file(tmp_path: Path) -> None:
    """NPD runs two plugins at a time: both start on an empty cache."""
    cache = tmp_path / "npd"
    env = dict(os.environ, PYTHONPATH=f"{REPO / 'src'}:{REPO}")
    root = ROOTS / "kubekey-teardown-calico" / "root"
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "nodedoctor", *_plugin(root, family, cache)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for family in ("NodeTeardownLeftovers", "KernelCgroupsMissing")
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    key = npdcycle.cache_key(str(root), None)
    assert key is not None
    lines = npdcycle.read_cached(str(cache), key, npdcycle.DEFAULT_TTL)
    assert lines is not None
    for proc, (out, err), family in zip(
        procs, outs, ("NodeTeardownLeftovers", "KernelCgroupsMissing")
    ):
        assert (proc.returncode, out.rstrip("\n")) == lines[family]["error"], err
    assert sorted(os.listdir(cache)) == [npdcycle.LOCK_NAME, npdcycle.CACHE_NAME]


def test_a_wrong_selection_or_ttl_is_a_usage_error(tmp_path: Path) -> None:
    cache = tmp_path / "npd"
    wrong = _run(
        "check", "--root", str(HEALTHY), "--only", "swap-enabled", "--npd-cache", str(cache)
    )
    assert wrong.returncode == 2
    assert "--npd-cache needs --format npd and --only with one family" in wrong.stderr
    assert not cache.exists()
    ttl = _run(*_plugin(HEALTHY, "BootstrapBroken", cache, "--npd-cache-ttl", "-5"))
    assert ttl.returncode == 2


def test_the_cached_path_takes_only_the_arguments_npd_passes() -> None:
    """Anything else goes through argparse and the full path."""
    base = ["check", "--root", "/host", "--format", "npd", "--only", "X", "--npd-cache", "/c"]
    assert npdcycle.options(base) is not None
    assert npdcycle.options([*base, "--skip", "swap-enabled"]) is None
    assert npdcycle.options([*base, "--only", "Y"]) is None
    assert npdcycle.options(["check", "--format=npd", *base[3:]]) is None
    assert npdcycle.options([base[0], *base[3:]]) == {
        "--format": "npd",
        "--only": "X",
        "--npd-cache": "/c",
    }
    assert npdcycle.options(["fix", *base[1:]]) is None


PLUGIN = REPO / "deploy" / "nodedoctor-npd"


def _shell_plugin(
    tmp_path: Path, root: Path, cache: Path, *args: str, program: str | None = None
) -> subprocess.CompletedProcess[str]:
    """deploy/nodedoctor-npd as NPD runs it, under /bin/sh (dash on Debian, as in the
    image), with nodedoctor at ``program`` (default: this checkout, through a wrapper)."""
    if program is None:
        wrapper = tmp_path / "nodedoctor"
        if not wrapper.exists():
            wrapper.write_text(
                f'#!/bin/sh\nexec {sys.executable} -m nodedoctor "$@"\n', encoding="utf-8"
            )
            wrapper.chmod(0o755)
        program = str(wrapper)
    env = dict(
        os.environ,
        PYTHONPATH=f"{REPO / 'src'}:{REPO}",
        NODEDOCTOR_BIN=program,
        NODEDOCTOR_NPD_ROOT=str(root),
        NODEDOCTOR_NPD_CACHE=str(cache),
    )
    return subprocess.run(
        ["/bin/sh", str(PLUGIN), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=env,
    )


def test_the_shell_plugin_prints_the_cached_line_without_python(tmp_path: Path) -> None:
    root = ROOTS / "kubekey-teardown-calico" / "root"
    cache = tmp_path / "npd"
    first = _shell_plugin(tmp_path, root, cache, "NodeTeardownLeftovers", "warning")
    assert first.returncode == 1, first.stderr
    assert first.stdout.startswith("foreign-cgroup-mount: ")
    for family in FAMILIES:
        for severity in npdcycle.SEVERITIES:
            # No nodedoctor at all: only the cached document can answer.
            cached = _shell_plugin(
                tmp_path, root, cache, family, severity, program="/nonexistent/nodedoctor"
            )
            alone = _run(*_plugin(root, family, cache, "--fail-on", severity)[:-2])
            assert (cached.returncode, cached.stdout) == (alone.returncode, alone.stdout), (
                family,
                severity,
                cached.stderr,
            )


@pytest.mark.parametrize(
    "spoil",
    ["stale", "future", "other-version", "other-root", "not-a-record", "cut"],
)
def test_the_shell_plugin_never_uses_a_document_that_does_not_fit(
    tmp_path: Path, spoil: str
) -> None:
    cache = tmp_path / "npd"
    family = "KernelCgroupsMissing"
    assert _shell_plugin(tmp_path, HEALTHY, cache, family).returncode == 0
    _lie(cache, spoil)
    if spoil == "other-version":
        # The plugin trusts the image's own version (the emptyDir lives as long as the
        # pod): only the Python side checks it.
        return
    missed = _shell_plugin(tmp_path, HEALTHY, cache, family, program="/nonexistent/nodedoctor")
    assert missed.returncode not in (0, 1), missed.stdout  # it had to run nodedoctor
    again = _shell_plugin(tmp_path, HEALTHY, cache, family)
    assert (again.returncode, again.stdout.startswith("ok: ")) == (0, True), again.stdout


def test_the_shell_plugin_checks_its_arguments(tmp_path: Path) -> None:
    """A family or severity it cannot vouch for goes to nodedoctor, which says what is
    wrong (exit 2: NPD's Unknown)."""
    cache = tmp_path / "npd"
    assert _shell_plugin(tmp_path, HEALTHY, cache, "BootstrapBroken").returncode == 0
    for args in (("Bootstrap Broken",), ("BootstrapBroken", "fatal"), ("",)):
        result = _shell_plugin(tmp_path, HEALTHY, cache, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
