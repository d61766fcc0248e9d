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

from nodedoctor.cli import COMMANDS
from nodedoctor.rules import module_name
from nodedoctor.rules.families import ENGINE_RULES, FAMILIES, RULE_FAMILIES, rule_ids_in
from tests.helpers import ROOTS

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
    # other subcommands (cli/__init__ imports the one that runs)
    "nodedoctor.cli.why",
    "nodedoctor.cli.fix",
    "nodedoctor.cli.report",
    "nodedoctor.cli.collect",
    "nodedoctor.cli.clean",
    "nodedoctor.cli.rules_cmd",
    "nodedoctor.rules.symptoms",
    "nodedoctor.parsers.bls",  # only where /boot/loader/entries exists (RHEL 8+)
    "nodedoctor.buildinfo",  # --version only
    "nodedoctor.sources.commands",  # an offline root runs no command
    "subprocess",
    "shutil",  # argparse's terminal width: cli/__init__ works it out without it
    "tempfile",  # --output only (cli/output.py)
    "dataclasses",  # value classes are nodedoctor._record records (class creation is cheap)
    "inspect",
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


#: Every rule's module, by rule id.
RULE_MODULES = {rule_id: module_name(rule_id) for rule_id in RULE_FAMILIES}


def rules_loaded(modules: set[str]) -> set[str]:
    """The rules whose modules a run imported."""
    return {rule_id for rule_id, module in RULE_MODULES.items() if module in modules}


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


@pytest.fixture(scope="module")
def kubeadm_node(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kubeadm node with containerd and a few pods: every family has files to read."""
    return generate(tmp_path_factory.mktemp("kubeadm"), 3, "v2", "systemd")


#: Facts of the container runtimes, which the kernel's and the kubelet's families never need.
RUNTIME_FACTS = (
    "nodedoctor.facts.containerd",
    "nodedoctor.facts.crio",
    "nodedoctor.facts.docker",
    "nodedoctor.facts.runtime",
    "nodedoctor.parsers.containerd",
    "tomllib",
    "tomlkit",
)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_an_npd_plugin_run_imports_only_its_familys_rules(
    tmp_path: Path, kubeadm_node: Path, family: str
) -> None:
    """``check --only FAMILY --format npd`` (one NPD plugin, a fresh process every 30 s)
    imports the modules of that family's rules and of the engine's own, no other, and no other
    subcommand or renderer."""
    modules, stdout = modules_after(
        tmp_path, "check", "--root", str(kubeadm_node), "--only", family, "--format", "npd"
    )
    assert stdout
    assert rules_loaded(modules) == ENGINE_RULES | set(rule_ids_in(family))
    for name in NOT_FOR_A_CHECK:
        assert not imported(modules, name), f"{name} imported by check --only {family}"
    renderers = {m for m in modules if m.startswith("nodedoctor.render.")}
    assert renderers == {"nodedoctor.render.npd"}


@pytest.mark.parametrize("family", ["KernelCgroupsMissing", "KubeletCgroupsBroken"])
def test_kernel_and_kubelet_families_import_no_runtime_facts(
    tmp_path: Path, kubeadm_node: Path, family: str
) -> None:
    modules, stdout = modules_after(
        tmp_path, "check", "--root", str(kubeadm_node), "--only", family, "--format", "npd"
    )
    assert stdout
    for name in RUNTIME_FACTS:
        assert not imported(modules, name), f"check --only {family} imported {name}"


def test_one_rule_imports_only_its_module(tmp_path: Path, kubeadm_node: Path) -> None:
    modules, stdout = modules_after(
        tmp_path, "check", "--root", str(kubeadm_node), "--only", "cloud-init-missing"
    )
    assert stdout
    assert rules_loaded(modules) == ENGINE_RULES | {"cloud-init-missing"}


def test_the_whole_registry_is_imported_without_only(tmp_path: Path, kubeadm_node: Path) -> None:
    """The other side of the above: the probe does see rule modules when they are used."""
    modules, _ = modules_after(tmp_path, "check", "--root", str(kubeadm_node), "--format", "json")
    assert rules_loaded(modules) == set(RULE_MODULES)


@pytest.mark.parametrize(
    ("argv", "module"),
    [
        (["rules"], "rules_cmd"),
        (["explain", "swap-enabled"], "rules_cmd"),
        (["journal", "--root", "/nonexistent"], "fix"),
    ],
)
def test_a_subcommand_imports_its_own_cli_module_only(
    tmp_path: Path, argv: list[str], module: str
) -> None:
    modules, _ = modules_after(tmp_path, *argv)
    cli = {m.removeprefix("nodedoctor.cli.") for m in modules if m.startswith("nodedoctor.cli.")}
    # besides its own: the shared option code, and the help texts and name matching
    assert cli - {"common", "output", "helptext", "names"} == {module}


def test_help_still_lists_every_command(tmp_path: Path) -> None:
    _, stdout = modules_after(tmp_path, "--help")
    for commands in COMMANDS.values():
        for command in commands:
            assert f"    {command} " in stdout, command


def test_writing_the_textfile_imports_only_the_atomic_write(
    tmp_path: Path, kubeadm_node: Path
) -> None:
    """The node exporter DaemonSet runs ``check --format prometheus --output`` every minute.
    Its atomic write takes its temp file from tempfile (with shutil and random: ~11 M
    instructions, 3% of that run, once a minute); nothing else beyond a check's modules."""
    out = tmp_path / "nodedoctor.prom"
    modules, _ = modules_after(
        tmp_path, "check", "--root", str(kubeadm_node), "--format", "prometheus", "-o", str(out)
    )
    assert "nodedoctor_rules_checked" in out.read_text(encoding="utf-8")
    assert "tempfile" in modules  # the write, not a leftover of another test
    for name in NOT_FOR_A_CHECK:
        if name not in ("tempfile", "shutil", "nodedoctor.render.prometheus"):
            assert not imported(modules, name), name


def test_a_healthy_node_plans_no_remedy(tmp_path: Path) -> None:
    """A remedy is planned with the finding it fixes: a check that finds nothing imports no
    ``nodedoctor.remedies`` module (they are imported where a rule yields a finding)."""
    modules, stdout = modules_after(
        tmp_path, "check", "--root", str(ROOTS / "kubeadm-healthy-v2" / "root"), "--format", "json"
    )
    assert json.loads(stdout)["findings"] == []
    assert not imported(modules, "nodedoctor.remedies"), sorted(
        m for m in modules if m.startswith("nodedoctor.remedies")
    )
