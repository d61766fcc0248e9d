"""The Ansible collection with real ansible-core: one inventory whose hosts are the scenario
roots (local connection, each host's ``root`` a copy of a different tests/roots scenario),
run with forks. The modules run the single-file nodedoctor with the host's interpreter:
the system python3, and Python 3.9 for one host where pyenv has it.

Asserted per host: the findings the module returns are the engine's for that root; the
threshold fails exactly the hosts it should; check mode with --diff shows the fix plan's
diffs and changes nothing; applying changes the files, and a second apply plans nothing;
the preflight role saves reports that ``nodedoctor report`` turns into one page."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ansible.lab import ansible_env
from tests.helpers import ROOTS, case_dirs, check_root, load_expect, materialize_case

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = shutil.which("ansible-playbook", path=str(Path(sys.executable).parent))
SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin")
PYTHON39 = Path("/root/.pyenv/versions/3.9.18/bin/python3.9")
#: The issue's mixed inventory: besides every scenario, a node of each of these rules' first
#: bad case (a Raspberry Pi without the memory controller, a driver mismatch) once they exist.
FLEET_RULES = ("cgroup-controller-disabled", "cgroup-driver-mismatch")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(PLAYBOOK is None, reason="ansible-core is not installed"),
    pytest.mark.skipif(SYSTEM_PYTHON is None, reason="no system python3 for the targets"),
]


@dataclass(frozen=True)
class Host:
    name: str
    scenario: Path
    root: Path
    profile: str | None
    python: str


def _host_name(scenario: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", scenario.lower())


Lab = tuple[Path, list[Host], dict[str, str]]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    """A private Ansible home, the zipapp, the inventory and copies of the roots."""
    base = tmp_path_factory.mktemp("ansible")
    pyz = base / "nodedoctor.pyz"
    subprocess.run(
        [sys.executable, str(REPO / "scripts/build_zipapp.py"), str(pyz)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    hosts: list[Host] = []
    scenarios = sorted(p for p in ROOTS.iterdir() if (p / "root").is_dir())
    assert scenarios, "no scenario roots"
    for rule_id in FLEET_RULES:
        bad = [p for p in case_dirs() if p.parent.name == rule_id and p.name.startswith("bad")]
        scenarios += bad[:1]
    for i, scenario in enumerate(scenarios):
        copy = base / "roots" / scenario.parent.name / scenario.name
        if scenario.parent == ROOTS:
            shutil.copytree(scenario / "root", copy, symlinks=True)
        else:
            copy = materialize_case(scenario, copy)
        profile = load_expect(scenario / "expect.yaml").get("profile")
        python = str(PYTHON39) if i == 0 and PYTHON39.exists() else str(SYSTEM_PYTHON)
        hosts.append(
            Host(
                _host_name(scenario.name), scenario, copy, str(profile) if profile else None, python
            )
        )
    lines = ["[nodes]"]
    for h in hosts:
        line = (
            f"{h.name} ansible_connection=local ansible_python_interpreter={h.python} root={h.root}"
        )
        if h.profile:
            line += f" profile={h.profile}"
        lines.append(line)
    (base / "inventory.ini").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (base / "ansible.cfg").write_text("[defaults]\n", encoding="utf-8")
    (base / "results").mkdir()
    env = ansible_env(base, pyz)
    return base, hosts, env


def _play(
    base: Path, env: dict[str, str], text: str, *args: str, inventory: str = "inventory.ini"
) -> subprocess.CompletedProcess[str]:
    play = base / "play.yml"
    play.write_text(text, encoding="utf-8")
    assert PLAYBOOK is not None
    return subprocess.run(
        [PLAYBOOK, "-i", str(base / inventory), "--forks", "4", str(play), *args],
        cwd=base,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def _results(base: Path, kind: str) -> dict[str, dict[str, object]]:
    out = {}
    for path in (base / "results").glob(f"*.{kind}.json"):
        out[path.name.split(".")[0]] = json.loads(path.read_text(encoding="utf-8"))
    return out


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


SAVE = """
    - name: save
      delegate_to: localhost
      ansible.builtin.copy:
        content: "{{{{ {var} | to_json }}}}"
        dest: "{results}/{{{{ inventory_hostname }}}}.{kind}.json"
        mode: "0644"
      check_mode: false
"""


def _fleet_page(reports: Path, page: Path) -> None:
    """``nodedoctor report`` of every saved report into ``page``; it must succeed."""
    saved = [str(p) for p in sorted(reports.glob("*.json"))]
    made = subprocess.run(
        [sys.executable, "-m", "nodedoctor", "report", *saved, "-o", str(page)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    # 1: some node was not checked (a row on the page, and the exit status says so)
    assert made.returncode in (0, 1), made.stderr
    assert page.exists()


def test_check_fix_plan_and_apply(lab: Lab) -> None:
    base, hosts, env = lab
    results = base / "results"
    before = {h.name: _tree_digest(h.root) for h in hosts}

    # 1. check (threshold error, failures ignored so every host reports) and, in check mode
    # with --diff, the fix plan.
    play = (
        """
- hosts: nodes
  gather_facts: false
  tasks:
    - name: check
      nodedoctor.node.check:
        root: "{{ root }}"
        profile: "{{ profile | default(omit) }}"
        fail_on: error
      register: checked
      ignore_errors: true
"""
        + SAVE.format(var="checked", results=results, kind="check")
        + """
    - name: plan
      nodedoctor.node.fix:
        root: "{{ root }}"
        profile: "{{ profile | default(omit) }}"
      register: planned
"""
        + SAVE.format(var="planned", results=results, kind="plan")
    )
    run = _play(base, env, play, "--check", "--diff")
    assert "PLAY RECAP" in run.stdout, run.stdout + run.stderr
    checked, planned = _results(base, "check"), _results(base, "plan")
    assert set(checked) == {h.name for h in hosts}, run.stdout
    assert set(planned) == set(checked), run.stdout

    failing_hosts = set()
    for h in hosts:
        result = checked[h.name]
        expected = check_root(h.root, profile=h.profile)
        got = sorted((f["rule"], f["severity"]) for f in result["findings"])  # type: ignore[attr-defined]
        assert got == sorted((f.rule, f.severity.value) for f in expected.findings), h.name
        assert result["report"]["schema"] == "nodedoctor/report/v1"  # type: ignore[index]
        if h.python == str(PYTHON39):
            assert str(result["python"]).startswith("3.9."), result["python"]
        errors = {f.rule for f in expected.findings if f.severity.value == "error"}
        assert bool(result.get("failed")) == bool(errors), (h.name, result.get("msg"))
        assert sorted(result["failing"]) == sorted(errors)  # type: ignore[call-overload]
        if errors:
            failing_hosts.add(h.name)
            assert all(rule in str(result["msg"]) for rule in errors)
    # The inventory has both: hosts that pass and hosts the threshold stops.
    assert failing_hosts
    assert failing_hosts != {h.name for h in hosts}

    # Check mode planned, showed the diff, and wrote nothing.
    with_edits = [h for h in hosts if planned[h.name]["plan"]["steps"]]  # type: ignore[index]
    assert with_edits, "no scenario has a fix to plan"
    for h in hosts:
        assert _tree_digest(h.root) == before[h.name], f"check mode changed {h.name}"
        steps = planned[h.name]["plan"]["steps"]  # type: ignore[index]
        assert planned[h.name]["changed"] == bool(steps or planned[h.name]["plan"]["commands"])  # type: ignore[index]
        for step in steps:
            assert step["diff"].splitlines()[0] in run.stdout

    # 2. apply, then apply again: the second plans nothing.
    apply_play = """
- hosts: nodes
  gather_facts: false
  tasks:
    - name: apply
      nodedoctor.node.fix:
        root: "{{ root }}"
        profile: "{{ profile | default(omit) }}"
      register: applied
      ignore_errors: true
"""
    first = _play(
        base, env, apply_play + SAVE.format(var="applied", results=results, kind="apply1")
    )
    assert "PLAY RECAP" in first.stdout, first.stdout + first.stderr
    applied = _results(base, "apply1")
    for h in with_edits:
        result = applied[h.name]
        assert result["changed"] is True, (h.name, result.get("msg"))
        assert result.get("journal"), h.name
        written = {p.lstrip("/") for p in result["applied"]["written"]}  # type: ignore[index]
        now = _tree_digest(h.root)
        changed_files = {p for p in now if before[h.name].get(p) != now[p]}
        assert {p for p in written if p in before[h.name]} <= changed_files
    # Every addressed finding is fixed, or waits for the reboot or restart the result names;
    # a fixed one no longer fires.
    for h in with_edits:
        result = applied[h.name]
        assert not result.get("failed"), (h.name, result.get("msg"))
        after = {f.rule for f in check_root(h.root, profile=h.profile).findings}
        for outcome in result["applied"]["outcomes"]:  # type: ignore[index]
            status = outcome["status"]
            assert status in ("fixed", "needs-reboot", "needs-restart", "manual"), (h.name, outcome)
            if status == "fixed":
                assert outcome["rule"] not in after, (h.name, outcome)
            if status == "needs-restart":
                assert result["restart_needed"], h.name
            if status == "needs-reboot":
                assert result["reboot"], h.name
            if status == "manual":
                assert outcome["rule"] in {i["rule"] for i in result["manual"]}, h.name  # type: ignore[attr-defined]
    second = _play(
        base, env, apply_play + SAVE.format(var="applied", results=results, kind="apply2")
    )
    assert "PLAY RECAP" in second.stdout
    again = _results(base, "apply2")
    for h in with_edits:
        assert again[h.name]["changed"] is False, (h.name, again[h.name].get("msg"))
        assert again[h.name]["plan"]["steps"] == []  # type: ignore[index]
    # Nothing is left on the targets: the copied nodedoctor.pyz went with the task's tmpdir.
    assert list((base / "tmp-remote").iterdir()) == []


def test_preflight_role_and_fleet_report(lab: Lab) -> None:
    base, hosts, env = lab
    reports = base / "reports"
    reports.mkdir(exist_ok=True)
    play = f"""
- hosts: nodes
  gather_facts: false
  tasks:
    - name: preflight
      ansible.builtin.include_role:
        name: nodedoctor.node.preflight
      vars:
        preflight_root: "{{{{ root }}}}"
        preflight_profile: "{{{{ profile | default('') }}}}"
        preflight_fail_on: warning
        preflight_report_dir: "{reports}"
"""
    run = _play(base, env, play)
    assert "PLAY RECAP" in run.stdout, run.stdout + run.stderr
    saved = sorted(p.stem for p in reports.glob("*.json"))
    assert saved == sorted(h.name for h in hosts)
    # Hosts with a warning or worse failed the play (the assert task), the others did not.
    recap = dict(
        re.findall(
            r"^(\S+)\s+: ok=\d+\s+changed=\d+\s+unreachable=\d+\s+failed=(\d+)", run.stdout, re.M
        )
    )
    for h in hosts:
        report = json.loads((reports / f"{h.name}.json").read_text(encoding="utf-8"))
        bad = report["summary"]["error"] + report["summary"]["warning"]
        assert (recap[h.name] != "0") == bool(bad), (h.name, report["summary"])
    page = base / "fleet.html"
    _fleet_page(reports, page)
    html = page.read_text(encoding="utf-8")
    assert html.count('<tr class="node"') == len(hosts)


def test_a_root_without_marks_fails_the_host_and_shows_as_not_checked(lab: Lab) -> None:
    """An unmounted image (an empty mount point) is never a healthy host: the check module
    fails, the role saves the host as not checked and fails it, and the fleet page shows it."""
    base, hosts, env = lab
    empty = base / "mnt" / "image"
    empty.mkdir(parents=True)
    healthy = hosts[-1]
    (base / "marks.ini").write_text(
        "[nodes]\n"
        f"unmounted ansible_connection=local ansible_python_interpreter={SYSTEM_PYTHON}"
        f" root={empty}\n"
        f"{healthy.name} ansible_connection=local ansible_python_interpreter={healthy.python}"
        f" root={healthy.root}\n",
        encoding="utf-8",
    )
    results, reports = base / "results-marks", base / "reports-marks"
    results.mkdir()
    reports.mkdir()
    check = """
- hosts: nodes
  gather_facts: false
  tasks:
    - name: check
      nodedoctor.node.check:
        root: "{{ root }}"
        fail_on: never
      register: checked
      ignore_errors: true
""" + SAVE.format(var="checked", results=results, kind="check")
    run = _play(base, env, check, inventory="marks.ini")
    assert "PLAY RECAP" in run.stdout, run.stdout + run.stderr
    checked = {p.name.split(".")[0]: json.loads(p.read_text()) for p in results.glob("*.json")}
    assert checked["unmounted"]["failed"] is True
    assert checked["unmounted"]["rc"] == 2
    assert f"{empty} does not look like a node's root" in checked["unmounted"]["msg"]
    assert "report" not in checked["unmounted"]
    assert not checked[healthy.name].get("failed"), checked[healthy.name].get("msg")

    role = f"""
- hosts: nodes
  gather_facts: false
  tasks:
    - name: preflight
      ansible.builtin.include_role:
        name: nodedoctor.node.preflight
      vars:
        preflight_root: "{{{{ root }}}}"
        preflight_profile: ""
        preflight_fail_on: never
        preflight_report_dir: "{reports}"
"""
    run = _play(base, env, role, inventory="marks.ini")
    recap = dict(re.findall(r"^(\S+)\s+: ok=\d+.*?failed=(\d+)", run.stdout, re.M))
    assert recap == {"unmounted": "1", healthy.name: "0"}, run.stdout
    assert "nodedoctor could not check unmounted" in run.stdout
    saved = json.loads((reports / "unmounted.json").read_text(encoding="utf-8"))
    assert saved["schema"] == "nodedoctor/batch-error/v1"
    assert saved["host"] == "unmounted"
    assert f"{empty} does not look like a node's root" in saved["error"]
    page = base / "fleet-marks.html"
    _fleet_page(reports, page)
    html = page.read_text(encoding="utf-8")
    assert '<tr class="node unchecked" data-node="unmounted">' in html
    assert html.count('<tr class="node"') == 1


@pytest.mark.parametrize("module", ["nodedoctor.node.check", "nodedoctor.node.fix"])
def test_module_documentation_parses(module: str, tmp_path: Path) -> None:
    ansible_doc = Path(str(PLAYBOOK)).with_name("ansible-doc")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_COLLECTIONS_PATH": str(REPO),
    }
    result = subprocess.run(
        [str(ansible_doc), "--json", module],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)[module]
    assert doc["doc"]["options"]["root"]["default"] == "/"
    assert doc["return"]


def _kubespray_inventory(base: Path, extra_vars: str = "") -> str:
    """A Kubespray-shaped inventory (kube_control_plane, kube_node, k8s_cluster) whose hosts
    are case roots: a one-CPU 1 GB machine for the control plane, a 1 GB and a 24 GB worker."""
    cases = REPO / "tests/cases/resources-below-minimum"
    hosts = {
        "cp1": cases / "bad-kubeadm-1-cpu",
        "pi3": cases / "bad-kubespray-1gb-before-install",
        "big": cases / "good-kubeadm-2-cpus-24-gb",
    }
    roots = {}
    for name, case in hosts.items():
        dest = base / "kubespray-roots" / name
        if not dest.exists():
            root = materialize_case(case, dest)
            if name == "cp1":
                meminfo = (cases / "bad-kubespray-1gb-before-install/root/proc/meminfo").read_text()
                (root / "proc/meminfo").write_text(meminfo)
        roots[name] = dest / "root"

    def line(name: str) -> str:
        return (
            f"{name} ansible_connection=local ansible_python_interpreter={SYSTEM_PYTHON}"
            f" root={roots[name]}"
        )

    inventory = (
        "[kube_control_plane]\n"
        + line("cp1")
        + "\n[kube_node]\n"
        + line("pi3")
        + "\n"
        + line("big")
        + "\n[k8s_cluster:children]\nkube_control_plane\nkube_node\n"
        + (f"[k8s_cluster:vars]\n{extra_vars}\n" if extra_vars else "")
    )
    name = "kubespray-" + hashlib.sha256(inventory.encode()).hexdigest()[:8] + ".ini"
    (base / name).write_text(inventory, encoding="utf-8")
    return name


def test_preflight_role_takes_the_role_from_kubesprays_groups(lab: Lab) -> None:
    """Before cluster.yml: the control plane with one CPU and 1 GB and the 1 GB worker fail the
    play, each listing its findings; the 24 GB worker passes. The role comes from the groups
    (kube_control_plane: control-plane, kube_node: worker), the deployer is kubespray."""
    base, _, env = lab
    inventory = _kubespray_inventory(base)
    reports = base / "groups-reports"
    reports.mkdir()
    play = f"""
- hosts: k8s_cluster
  gather_facts: false
  roles:
    - role: nodedoctor.node.preflight
      vars:
        preflight_root: "{{{{ root }}}}"
        preflight_profile: kubespray
        preflight_report_dir: "{reports}"
"""
    run = _play(base, env, play, inventory=inventory)
    out = run.stdout
    assert "PLAY RECAP" in out, out + run.stderr
    saved = {p.stem: json.loads(p.read_text()) for p in reports.glob("*.json")}
    recap = dict(re.findall(r"^(\S+)\s+: ok=\d+.*?failed=(\d+)", out, re.M))
    assert recap == {"cp1": "1", "pi3": "1", "big": "0"}, out
    cp1 = {(f["rule"], f["severity"]) for f in saved["cp1"]["findings"]}
    assert ("resources-below-minimum", "error") in cp1
    assert any("[ERROR NumCPU]" in f["message"] for f in saved["cp1"]["findings"])
    pi3 = [f for f in saved["pi3"]["findings"] if f["rule"] == "resources-below-minimum"]
    assert [f["severity"] for f in pi3] == ["error"]
    assert "minimal_node_memory_mb" in pi3[0]["message"]
    assert not [f for f in saved["big"]["findings"] if f["severity"] in ("error", "warning")]
    # The failure lists the findings, with the file that made each fire.
    assert "resources-below-minimum" in out
    assert "/sys/devices/system/cpu/online" in out
    assert "/proc/meminfo" in out


def test_preflight_role_passes_kube_version(lab: Lab) -> None:
    """Kubespray's kube_version (the inventory's, or kubespray_defaults' when loaded) is the
    version nodedoctor judges against (--kubernetes-version)."""
    base, _, env = lab
    inventory = _kubespray_inventory(base, "kube_version=1.33.4")
    results = base / "version-results"
    results.mkdir()
    play = """
- hosts: k8s_cluster
  gather_facts: false
  tasks:
    - block:
        - name: preflight
          ansible.builtin.include_role:
            name: nodedoctor.node.preflight
          vars:
            preflight_root: "{{ root }}"
            preflight_profile: kubespray
            preflight_fail_on: never
      always:
""" + textwrap.indent(SAVE.format(var="preflight_check", results=results, kind="check"), "    ")
    run = _play(base, env, play, inventory=inventory)
    assert "PLAY RECAP" in run.stdout, run.stdout + run.stderr
    # Until nodedoctor takes --kubernetes-version, each host is "not checked" (exit 2).
    assert not re.search(r"nodedoctor could not check \w+:", run.stdout), run.stdout
    checked = {
        p.name.split(".")[0]: json.loads(p.read_text()) for p in results.glob("*.check.json")
    }
    assert set(checked) == {"cp1", "pi3", "big"}
    for host, result in checked.items():
        assert "report" in result, (host, result.get("msg"))
        command = result["command"]
        assert command[command.index("--kubernetes-version") + 1] == "1.33.4", command
        assert command[command.index("--profile") + 1] == "kubespray", command
    assert checked["cp1"]["command"][checked["cp1"]["command"].index("--role") + 1] == (
        "control-plane"
    )
