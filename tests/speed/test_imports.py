"""Start-up cost, structurally: a command imports only what it uses (no timing here; the
timings are in bench/). Each case runs the CLI in a fresh interpreter and lists the modules
it ended up with."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bench.gen_roots import generate

PROBE = (
    "import sys, json\n"
    "from nodedoctor.cli import main\n"
    "code = main(sys.argv[2:])\n"
    "open(sys.argv[1], 'w').write(json.dumps(sorted(sys.modules)))\n"
)

#: Never needed to check a node and print its report as text or JSON.
NOT_FOR_A_CHECK = (
    "tomlkit",  # writing TOML is the fix engine's job; reading it is lazy
    "socket",  # live runtime sockets only
    "nodedoctor.fix",
    "nodedoctor.clean",
    "nodedoctor.collect",
    "nodedoctor.render.html",
    "nodedoctor.render.junit",
    "nodedoctor.render.sarif",
    "nodedoctor.render.prometheus",
    "nodedoctor.sources.bundle",
    "tarfile",
    "gzip",
    "multiprocessing",
    "xml.etree.ElementTree",
    "html",
    "email",
    "http",
)


def modules_after(tmp_path: Path, *args: str) -> tuple[set[str], str]:
    out = tmp_path / "modules.json"
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert out.exists(), proc.stderr
    return set(json.loads(out.read_text())), proc.stdout


def imported(modules: set[str], name: str) -> bool:
    return name in modules or any(m.startswith(name + ".") for m in modules)


@pytest.fixture(scope="module")
def node_before_kubeadm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A machine with no kubelet and no runtime yet: nothing that needs YAML or TOML."""
    return generate(tmp_path_factory.mktemp("bare"), 0, "v2", "systemd", kubernetes=False)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_check_of_a_node_without_kubernetes_imports_no_yaml_toml_or_extras(
    tmp_path: Path, node_before_kubeadm: Path, fmt: str
) -> None:
    modules, stdout = modules_after(
        tmp_path, "check", "--root", str(node_before_kubeadm), "--format", fmt
    )
    assert stdout
    assert "nodedoctor.engine" in modules  # the check did run
    assert not imported(modules, "yaml"), "no file needed YAML, yet yaml was imported"
    for name in NOT_FOR_A_CHECK:
        assert not imported(modules, name), f"{name} imported by a plain check"


def test_version_and_rules_do_not_gather_facts(tmp_path: Path) -> None:
    modules, stdout = modules_after(tmp_path, "--version")
    for name in ("nodedoctor.engine", "nodedoctor.facts", "nodedoctor.rules", "yaml", "tomlkit"):
        assert not imported(modules, name), f"--version imported {name}"
    modules, stdout = modules_after(tmp_path, "rules")
    assert stdout
    for name in ("nodedoctor.engine", "yaml", "tomlkit", "nodedoctor.render"):
        assert not imported(modules, name), f"'rules' imported {name}"


def test_only_the_chosen_renderer_is_imported(tmp_path: Path, node_before_kubeadm: Path) -> None:
    modules, _ = modules_after(
        tmp_path, "check", "--root", str(node_before_kubeadm), "--format", "sarif"
    )
    assert "nodedoctor.render.sarif" in modules
    for other in ("html", "junit", "prometheus", "text"):
        assert f"nodedoctor.render.{other}" not in modules, other
