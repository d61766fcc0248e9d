"""JUnit against the Jenkins junit-10.xsd, SARIF against the SARIF 2.1.0 schema, the NPD
protocol, the Prometheus exposition text, and ``check --output`` end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
import xmlschema

from nodedoctor._record import replace
from nodedoctor.model import Report, Severity
from nodedoctor.render import Format, renderer
from nodedoctor.render.junit import render_junit, render_junit_many
from nodedoctor.render.npd import MAX_OUTPUT, npd_status
from nodedoctor.render.prometheus import render_prometheus
from nodedoctor.render.reports import report_from_json
from nodedoctor.render.sarif import sarif_log
from tests.helpers import ROOTS, check_root, load_expect
from tests.render import samples

HERE = Path(__file__).parent
JUNIT_XSD = xmlschema.XMLSchema(str(HERE / "junit-10.xsd"))
SARIF_SCHEMA = json.loads((HERE / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))

SAMPLES = pytest.mark.parametrize("make", samples.ALL, ids=[m.__name__ for m in samples.ALL])


def test_every_format_has_a_renderer() -> None:
    for fmt in Format:
        text = renderer(fmt)(samples.driver_mismatch(), False)
        assert text.endswith("\n")


@SAMPLES
def test_junit_validates_against_the_jenkins_schema(make: Callable[[], Report]) -> None:
    xml = render_junit(make())
    JUNIT_XSD.validate(xml)


def test_junit_one_suite_per_node_one_case_per_rule() -> None:
    reports = [samples.driver_mismatch(), samples.raspberry_pi(), samples.hostile()]
    xml = render_junit_many(reports)
    JUNIT_XSD.validate(xml)
    root = ET.fromstring(xml)  # noqa: S314 (our own output)
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites][:2] == ["worker-1", "rpi-worker-3"]
    first = {c.get("name"): c for c in suites[0].findall("testcase")}
    assert set(first) == set(reports[0].rules_checked)
    failure = first["cgroup-driver-mismatch"].find("failure")
    assert failure is not None
    assert failure.get("message") == "kubelet uses systemd, containerd uses cgroupfs"
    assert "/etc/containerd/config.toml:125: SystemdCgroup = false" in (failure.text or "")
    skipped = first["cloud-init-missing"].find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "not a GCE instance"
    assert list(first["kubepods-invalid"]) == []  # passed: an empty testcase
    assert suites[0].get("failures") == "2"
    assert suites[0].get("skipped") == "1"
    # The crashed rule is an error, and so is the internal-error finding itself.
    third = {c.get("name"): c for c in suites[2].findall("testcase")}
    assert third["qos-cgroups-disabled"].find("error") is not None
    assert third["internal-error"].find("error") is not None
    assert suites[2].get("errors") == "2"
    assert root.get("tests") == str(sum(int(s.get("tests") or 0) for s in suites))


@SAMPLES
def test_sarif_validates_against_the_2_1_0_schema(make: Callable[[], Report]) -> None:
    log = sarif_log(make())
    jsonschema.validate(log, SARIF_SCHEMA)


def test_sarif_rules_results_and_locations() -> None:
    log = sarif_log(samples.driver_mismatch())
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert "parse-error" in ids
    parse = rules[ids.index("parse-error")]
    assert "## Symptoms" in parse["help"]["markdown"]
    assert parse["help"]["text"]
    results = run["results"]
    assert [r["ruleId"] for r in results] == ["cgroup-driver-mismatch", "swap-enabled"]
    assert [r["level"] for r in results] == ["error", "warning"]
    loc = results[0]["locations"][1]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "etc/containerd/config.toml", "uriBaseId": "NODEROOT"}
    assert loc["region"]["startLine"] == 125
    assert run["originalUriBaseIds"]["NODEROOT"]["uri"] == "file:///"


def test_npd_protocol() -> None:
    status, line = npd_status(samples.driver_mismatch())
    assert status == 1
    assert line.startswith("cgroup-driver-mismatch: kubelet uses systemd")
    # Below the threshold is OK for NPD; at it, a problem.
    assert npd_status(samples.driver_mismatch(), Severity.ERROR)[0] == 1
    status, line = npd_status(samples.healthy())
    assert (status, line) == (0, "ok: 3 passed, 0 skipped")
    # Only an internal error: NPD must say Unknown, not OK.
    hostile = samples.hostile()
    only_crash = Report(
        hostile.tool_version,
        hostile.node,
        hostile.findings[1:],
        hostile.skipped,
        hostile.passed,
        rules_checked=hostile.rules_checked,
    )
    assert npd_status(only_crash)[0] == 2
    # Nothing evaluated (all skipped): Unknown with the reason.
    skipped = Report(
        "0.1.0",
        {},
        (),
        samples.raspberry_pi().skipped,
        ("parse-error",),
        rules_checked=("cgroup-driver-mismatch", "parse-error"),
    )
    assert npd_status(skipped) == (2, "unknown: no kubelet installed")
    # No rule of the selection exists (an empty family): OK, not unknown.
    empty = Report("0.1.0", {}, (), (), ("parse-error",), rules_checked=("parse-error",))
    assert npd_status(empty) == (0, "ok: no rule in this selection")


@SAMPLES
def test_npd_line_fits_the_default_limit(make: Callable[[], Report]) -> None:
    for severity in Severity:
        _, line = npd_status(make(), severity)
        assert len(line.encode("utf-8")) <= MAX_OUTPUT
        assert "\n" not in line
        assert line.isascii()
        assert line.isprintable()


def test_prometheus_text() -> None:
    text = render_prometheus(samples.driver_mismatch())
    lines = text.splitlines()
    assert 'nodedoctor_finding{rule="cgroup-driver-mismatch",severity="error"} 1' in lines
    assert 'nodedoctor_finding{rule="swap-enabled",severity="warning"} 1' in lines
    assert "nodedoctor_rules_checked 6" in lines
    assert "nodedoctor_last_run_timestamp_seconds 1795460000.000" in lines
    for name in ("nodedoctor_finding", "nodedoctor_check_duration_seconds"):
        assert f"# TYPE {name} gauge" in lines
        assert any(x.startswith(f"# HELP {name} ") for x in lines)
    hostile = samples.hostile()
    odd = replace(hostile.findings[0], rule='a"b\\c\nd')
    escaped = render_prometheus(replace(hostile, findings=(odd,)))
    assert 'nodedoctor_finding{rule="a\\"b\\\\c\\nd",severity="error"} 1' in escaped


def test_reports_survive_a_json_round_trip() -> None:
    for make in samples.ALL:
        report = make()
        back = report_from_json(json.loads(json.dumps(report.to_json())))
        assert back.findings == report.findings
        assert back.skipped == report.skipped
        assert back.passed == report.passed


def _nodedoctor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nodedoctor", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def _tiny_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text('ID=debian\nVERSION_ID="12"\n', encoding="utf-8")
    (root / "proc").mkdir()
    (root / "proc/cmdline").write_text("BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro\n", encoding="utf-8")
    return root


def test_check_output_is_written_atomically(tmp_path: Path) -> None:
    root = _tiny_root(tmp_path)
    out = tmp_path / "textfile" / "nodedoctor.prom"
    out.parent.mkdir()
    out.write_text("old\n", encoding="utf-8")
    result = _nodedoctor("check", "--root", str(root), "--format", "prometheus", "-o", str(out))
    assert result.returncode in (0, 1), result.stderr
    assert result.stdout == ""
    assert "nodedoctor_rules_checked" in out.read_text(encoding="utf-8")
    assert os.listdir(out.parent) == ["nodedoctor.prom"]  # no temp file left behind
    missing = _nodedoctor("check", "--root", str(root), "-o", str(tmp_path / "no/such/file"))
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr


def test_check_npd_exit_codes_and_family_selection(tmp_path: Path) -> None:
    root = _tiny_root(tmp_path)
    for family in ("CgroupDriverMismatch", "BootstrapBroken", "NodeTeardownLeftovers"):
        result = _nodedoctor("check", "--root", str(root), "--format", "npd", "--only", family)
        assert result.returncode in (0, 1, 2), result.stderr
        assert len(result.stdout.encode()) <= MAX_OUTPUT + 1
        assert result.stdout.count("\n") == 1
    bad = _nodedoctor("check", "--root", str(root), "--format", "npd", "--only", "NoSuchFamily")
    assert bad.returncode == 2
    assert "unknown rule family" in bad.stderr


SCENARIOS = sorted(p for p in ROOTS.iterdir() if (p / "root").is_dir())


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_scenario_reports_in_every_format(scenario: Path) -> None:
    profile = load_expect(scenario / "expect.yaml").get("profile")
    report = check_root(scenario / "root", profile=str(profile) if profile else None)
    JUNIT_XSD.validate(render_junit(report))
    jsonschema.validate(sarif_log(report), SARIF_SCHEMA)
    status, line = npd_status(report)
    assert status == (1 if report.count(Severity.ERROR) else 0) or status == 2
    assert len(line.encode()) <= MAX_OUTPUT
    text = render_prometheus(report)
    for f in report.findings:
        assert f'nodedoctor_finding{{rule="{f.rule}",severity="{f.severity.value}"}} 1' in text
