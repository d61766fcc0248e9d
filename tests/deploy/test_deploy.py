"""deploy/: every manifest validates offline against the Kubernetes schemas
(kubernetes-validate ships them), the NPD config passes NPD's own start-up validation and
covers every family, and the plugin commands it names obey NPD's protocol when run as the
Containerfile installs them (the zipapp at /usr/local/bin/nodedoctor, run by a plain
``python3``; the container image itself is not built here: no registry is reachable)."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from nodedoctor.model import Finding, Report
from nodedoctor.render.npd import MAX_OUTPUT, npd_status
from nodedoctor.rules import all_rules
from nodedoctor.rules.families import DEFAULT_FAMILY, FAMILIES, family_of, rules_in
from tests.helpers import ROOTS, case_dirs, case_root

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
MANIFESTS = sorted(DEPLOY.glob("*.yaml"))
MONITOR = json.loads((DEPLOY / "nodedoctor-monitor.json").read_text(encoding="utf-8"))
#: The oldest Kubernetes the manifests are meant for, and the newest schemas shipped.
VERSIONS = ("1.28.0", kubernetes_validate.latest_version())


def _documents(path: Path) -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    assert all(isinstance(d, dict) for d in docs)
    return docs


def _all_documents() -> list[dict[str, Any]]:
    return [d for path in MANIFESTS for d in _documents(path)]


def _containers(kind: str, name: str) -> list[dict[str, Any]]:
    for doc in _all_documents():
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            spec = doc["spec"]["template"]["spec"]
            return list(spec["containers"])
    raise AssertionError(f"no {kind} {name}")


def test_there_are_manifests() -> None:
    names = {p.name for p in MANIFESTS}
    assert {"npd-daemonset.yaml", "textfile-daemonset.yaml", "collect-job.yaml"} <= names


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", MANIFESTS, ids=[p.name for p in MANIFESTS])
def test_manifest_validates_offline(path: Path, version: str) -> None:
    for doc in _documents(path):
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_can_fail() -> None:
    doc = _documents(DEPLOY / "textfile-daemonset.yaml")[0]
    doc["spec"]["template"]["spec"]["containers"][0]["volumeMount"] = []  # misspelt key
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, VERSIONS[-1], strict=True)


def test_host_is_read_only_everywhere() -> None:
    for doc in _all_documents():
        if doc["kind"] not in ("DaemonSet", "Job"):
            continue
        spec = doc["spec"]["template"]["spec"]
        host_volumes = {
            v["name"] for v in spec["volumes"] if v.get("hostPath", {}).get("path") == "/"
        }
        assert host_volumes, doc["metadata"]["name"]
        for container in spec["containers"]:
            assert not container["securityContext"].get("privileged")
            for mount in container["volumeMounts"]:
                if mount["name"] in host_volumes:
                    assert mount["mountPath"] == "/host"
                    assert mount["readOnly"] is True


def test_configmap_carries_the_monitor_config() -> None:
    (configmap,) = [d for d in _all_documents() if d["kind"] == "ConfigMap"]
    assert json.loads(configmap["data"]["nodedoctor-monitor.json"]) == MONITOR
    (npd,) = _containers("DaemonSet", "nodedoctor-npd")
    assert "--config.custom-plugin-monitor=/config/nodedoctor-monitor.json" in npd["command"]


def test_monitor_config_passes_npd_validation() -> None:
    """What NPD checks at start-up (pkg/custompluginmonitor/types/config.go Validate)."""
    assert MONITOR["plugin"] == "custom"
    assert MONITOR["pluginConfig"]["max_output_length"] == MAX_OUTPUT

    def seconds(text: str) -> int:
        match = re.fullmatch(r"(\d+)(s|m)", text)
        assert match, text
        return int(match.group(1)) * (60 if match.group(2) == "m" else 1)

    global_timeout = seconds(MONITOR["pluginConfig"]["timeout"])
    defaults = {c["type"] for c in MONITOR["conditions"]}
    for rule in MONITOR["rules"]:
        assert seconds(rule["timeout"]) <= global_timeout
        assert rule["type"] == "permanent"
        assert rule["condition"] in defaults


def test_one_condition_per_family() -> None:
    conditions = [c["type"] for c in MONITOR["conditions"]]
    assert sorted(conditions) == sorted(f for f in FAMILIES if f != "NodedoctorInput")
    for rule in MONITOR["rules"]:
        # deploy/nodedoctor-npd FAMILY [SEVERITY]: one evaluation a cycle, shared through
        # the pod's emptyDir (nodedoctor.npdcycle), else the family's check
        assert rule["path"] == "/usr/local/bin/nodedoctor-npd"
        assert rule["args"] in (
            [rule["condition"]],
            [rule["condition"], "warning"],
            [rule["condition"], "info"],
        )
    # Every registered rule lands in some condition (the engine's own rules run in all).
    for r in all_rules():
        assert family_of(r) in FAMILIES


def _argv(rule: dict[str, Any], host: str, cache: Path | None) -> list[str]:
    """The check deploy/nodedoctor-npd runs for ``rule``, with the node at ``host`` and the
    shared evaluation in ``cache`` (never the pod's /cache/npd on this machine), or the
    family's check alone (``None``)."""
    family, *severity = rule["args"]
    args = ["check", "--root", host, "--format", "npd", "--only", family]
    args += ["--fail-on", severity[0]] if severity else []
    return args + (["--npd-cache", str(cache)] if cache is not None else [])


def _plugin_args(rule: dict[str, Any], host: str = "/host") -> argparse.Namespace:
    from nodedoctor.cli import build_parser

    return build_parser("check").parse_args(_argv(rule, host, None))


#: The conditions whose families have rules in this version (a family without any reports
#: OK until a rule lands there).
RAISABLE = [r for r in MONITOR["rules"] if rules_in(r["condition"], all_rules())]


def test_every_condition_has_a_rule() -> None:
    """The default family has rules too since the preflight rules (kernel-config-missing,
    kubernetes-port-in-use, required-command-missing) landed there."""
    assert {r["condition"] for r in MONITOR["rules"]} - {r["condition"] for r in RAISABLE} == set()
    assert rules_in(DEFAULT_FAMILY, all_rules())


@pytest.mark.parametrize("rule", RAISABLE, ids=[r["condition"] for r in RAISABLE])
def test_every_condition_can_be_raised(rule: dict[str, Any]) -> None:
    """A finding of the family's rules at their highest severity makes the plugin exit 1
    with the config's own arguments: a condition whose rules all report warnings but whose
    plugin fails only on errors could never be raised."""
    args = _plugin_args(rule)
    rules = rules_in(rule["condition"], all_rules())
    highest = max(rules, key=lambda r: r.severity.rank)
    finding = Finding(highest.id, highest.severity, highest.title, "", ())
    report = Report("0", {}, (finding,), (), (), 0.0, 0.0, (highest.id,))
    status, line = npd_status(report, args.fail_on)
    assert status == 1, (rule["condition"], highest.id, highest.severity, args.fail_on)
    assert line.startswith(f"{highest.id}: ")


@pytest.mark.parametrize(
    ("condition", "scenario", "rule_id"),
    [
        ("NodeTeardownLeftovers", "kubekey-teardown-calico", "foreign-cgroup-mount"),
        ("BootstrapBroken", "gce-rocky9-no-cloud-init", "cloud-init-missing"),
    ],
)
def test_warning_families_raise_their_condition_on_real_roots(
    condition: str,
    scenario: str,
    rule_id: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """The plugin as NPD runs it, on a root whose only problem in the family is a warning."""
    from nodedoctor.cli import main

    (rule,) = [r for r in MONITOR["rules"] if r["condition"] == condition]
    args = _argv(rule, str(ROOTS / scenario / "root"), tmp_path / "npd")
    assert main(args) == 1
    assert capsys.readouterr().out.startswith(f"{rule_id}: ")
    # With the default threshold (what the config had) the same node reports OK.
    assert main([a for a in args if a not in ("--fail-on", "warning")]) == 0
    assert capsys.readouterr().out.startswith("ok: ")


def _containerfile_copies() -> dict[str, str]:
    text = (REPO / "Containerfile").read_text(encoding="utf-8")
    copies = {}
    for line in text.splitlines():
        if line.startswith(("COPY --from=", "COPY --chmod=")):
            parts = line.split()
            copies[parts[-1]] = parts[-2]
    return copies


def test_containerfile_installs_what_the_manifests_run() -> None:
    copies = _containerfile_copies()
    assert copies["/usr/local/bin/nodedoctor"] == "/src/dist/nodedoctor.pyz"
    assert copies["/usr/local/bin/node-problem-detector"] == "/node-problem-detector"
    assert copies["/usr/local/bin/nodedoctor-npd"] == "deploy/nodedoctor-npd"
    (npd,) = _containers("DaemonSet", "nodedoctor-npd")
    assert npd["command"][0] == "/usr/local/bin/node-problem-detector"
    assert {r["path"] for r in MONITOR["rules"]} == {"/usr/local/bin/nodedoctor-npd"}
    text = (REPO / "Containerfile").read_text(encoding="utf-8")
    stages = re.findall(r"^FROM \S+ AS (\S+)$", text, re.MULTILINE)
    assert stages == ["build", "runtime", "npd-release", "npd", "nodedoctor"]
    for source in ("pyproject.toml", "scripts/", "src/"):
        assert f"COPY {source}" in text
        assert (REPO / source).exists()
    assert "scripts/build_zipapp.py dist/nodedoctor.pyz" in text


def _npd_run(command: list[str], env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run a plugin the way NPD does: 4 KiB of stdout at most, trimmed, cut to
    max_output_length bytes; exit 0 OK, 1 NonOK, anything else Unknown."""
    proc = subprocess.run(command, capture_output=True, check=False, timeout=timeout, env=env)
    output = proc.stdout[: 4 * 1024].decode("utf-8", "replace").strip()
    status = proc.returncode if proc.returncode in (0, 1) else 2
    return status, output


def _scenario_roots() -> list[Path]:
    roots = [p / "root" for p in sorted(ROOTS.iterdir()) if (p / "root").is_dir()]
    bad = [c for c in case_dirs() if c.name.startswith("bad")][:6]
    roots += [case_root(c) for c in bad]
    return roots


@pytest.mark.slow
def test_plugins_obey_the_npd_protocol(tmp_path: Path) -> None:
    python3 = shutil.which("python3")
    if python3 is None:
        pytest.skip("no python3 on PATH")
    # The Containerfile's build and runtime stages, without the container.
    pyz = tmp_path / "usr/local/bin/nodedoctor"
    pyz.parent.mkdir(parents=True)
    subprocess.run(
        [sys.executable, str(REPO / "scripts/build_zipapp.py"), str(pyz)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    os.chmod(pyz, 0o700)
    # The system python3, as in the image: not the test venv.
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path)}
    env["NODEDOCTOR_CACHE_DIR"] = str(tmp_path / "cache")

    def plugin_env(root: Path) -> dict[str, str]:
        """deploy/nodedoctor-npd's paths moved off the pod's: the zipapp, the node and
        the cycle's shared evaluation."""
        return {
            "NODEDOCTOR_BIN": str(pyz),
            "NODEDOCTOR_NPD_ROOT": str(root),
            "NODEDOCTOR_NPD_CACHE": str(tmp_path / "npd"),
        }

    roots = _scenario_roots()
    assert roots, "no scenario roots to run the plugins on"
    seen: dict[str, set[int]] = {}
    for root in roots:
        for rule in MONITOR["rules"]:
            plugin = ["/bin/sh", str(REPO / "deploy/nodedoctor-npd"), *rule["args"]]
            status, message = _npd_run(plugin, {**env, **plugin_env(root)}, timeout=30)
            assert len(message.encode()) <= MAX_OUTPUT, message
            assert message, f"{rule['condition']} on {root}: no message"
            assert "\n" not in message
            seen.setdefault(rule["condition"], set()).add(status)
            # The same verdict as the installed package gives for the family alone.
            direct = subprocess.run(
                [sys.executable, "-m", "nodedoctor", *_argv(rule, str(root), None)],
                capture_output=True,
                text=True,
                check=False,
                timeout=60,
            )
            assert direct.returncode == status, (rule["condition"], root, direct.stderr)
            assert direct.stdout.strip() == message
    # The bad cases make at least one condition report a problem.
    assert any(1 in statuses for statuses in seen.values()), seen
