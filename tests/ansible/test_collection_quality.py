"""The collection as its ecosystem checks it (issue 15), with real ansible-core.

Plays with a local connection whose hosts are scenario roots (tests/roots), as in
test_collection.py: the preflight role detects the deployer (a MicroK8s node's two errors stop
it with no profile given), warns when a given profile contradicts the node, relays warning
findings, is idempotent (a second run has no ``changed``), and its argument spec rejects a bad
value. The built tarball installs and runs without a checkout. ``ansible-test sanity`` and
``ansible-lint`` pass."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ansible.lab import ansible_env

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PLAYBOOK = shutil.which("ansible-playbook", path=str(BIN))
SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin")
ROOTS = REPO / "tests/roots"
MICROK8S = ROOTS / "microk8s-1.29-power-cut/root"  # expect: two errors
MICROK8S_LEFT = ROOTS / "microk8s-1.29-workaround-left/root"  # expect: one warning
HEALTHY = ROOTS / "kubeadm-healthy-v2/root"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(PLAYBOOK is None, reason="ansible-core is not installed"),
    pytest.mark.skipif(SYSTEM_PYTHON is None, reason="no system python3 for the targets"),
]

RECAP = re.compile(
    r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", re.MULTILINE
)


def _recap(out: str) -> dict[str, tuple[int, int, int]]:
    """host -> (ok, changed, failed) of the play recap."""
    return {m[0]: (int(m[1]), int(m[2]), int(m[3])) for m in RECAP.findall(out)}


class Lab:
    def __init__(self, base: Path, pyz: Path) -> None:
        self.base = base
        path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"
        self.env = ansible_env(base, pyz, path)
        (base / "ansible.cfg").write_text("[defaults]\n", encoding="utf-8")

    def inventory(self, name: str, hosts: dict[str, Path]) -> Path:
        """An inventory of local hosts, each checking a copy of a scenario root."""
        lines = ["[nodes]"]
        for host, root in hosts.items():
            copy = self.base / "roots" / name / host
            if not copy.exists():
                shutil.copytree(root, copy, symlinks=True)
            lines.append(
                f"{host} ansible_connection=local ansible_python_interpreter={SYSTEM_PYTHON}"
                f" root={copy}"
            )
        path = self.base / f"{name}.ini"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def play(
        self, inventory: Path, text: str, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        play = self.base / "play.yml"
        play.write_text(text, encoding="utf-8")
        assert PLAYBOOK is not None
        return subprocess.run(
            [PLAYBOOK, "-i", str(inventory), str(play), *args],
            cwd=self.base,
            env=env or self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    base = tmp_path_factory.mktemp("ansible-quality")
    pyz = base / "nodedoctor.pyz"
    subprocess.run(
        [sys.executable, str(REPO / "scripts/build_zipapp.py"), str(pyz)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return Lab(base, pyz)


def _role_play(reports: Path | None = None, **variables: str) -> str:
    lines = ['        preflight_root: "{{ root }}"']
    if reports is not None:
        lines.append(f'        preflight_report_dir: "{reports}"')
    lines += [f"        {k}: {v}" for k, v in variables.items()]
    return (
        """
- hosts: nodes
  gather_facts: false
  roles:
    - role: nodedoctor.node.preflight
      vars:
"""
        + "\n".join(lines)
        + "\n"
    )


def test_microk8s_errors_fail_the_host_with_detection(lab: Lab) -> None:
    """No profile given: nodedoctor detects MicroK8s and its two errors stop the host; the
    failure lists each finding with its fix and says where nodedoctor can be run."""
    inventory = lab.inventory("detect", {"mk8s": MICROK8S, "healthy": HEALTHY})
    reports = lab.base / "detect-reports"
    reports.mkdir()
    run = lab.play(inventory, _role_play(reports))
    out = run.stdout
    assert _recap(out)["mk8s"][2] == 1, out + run.stderr
    assert _recap(out)["healthy"][2] == 0, out
    saved = json.loads((reports / "mk8s.json").read_text(encoding="utf-8"))
    assert saved["node"]["kubelet"]["deployer"] == "microk8s"
    assert {(f["rule"], f["severity"]) for f in saved["findings"]} == {
        ("cgroup-controller-not-delegated", "error"),
        ("kubepods-invalid", "error"),
    }
    failure = next(line for line in out.splitlines() if line.startswith("fatal: [mk8s]"))
    assert "2 finding(s) at or above error on mk8s" in failure
    for finding in saved["findings"]:
        assert finding["rule"] in failure
        assert ("fix: " + finding["fix"]["summary"][:40]) in failure
    # Nothing is installed on the host: the runbook command names the controller's file.
    assert "nodedoctor is not installed on mk8s" in failure
    pyz = lab.env["NODEDOCTOR_PYZ"]
    assert f"`python3 {pyz} explain RULE` on the controller" in failure
    explained = subprocess.run(
        [SYSTEM_PYTHON or "python3", pyz, "explain", "kubepods-invalid"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert explained.returncode == 0, explained.stderr


def test_a_profile_contradicting_the_node_warns(lab: Lab) -> None:
    inventory = lab.inventory("profile", {"mk8s": MICROK8S, "healthy": HEALTHY})
    run = lab.play(inventory, _role_play(preflight_profile="kubespray", preflight_fail_on="never"))
    out = re.sub(r"\s+", " ", run.stdout + run.stderr)
    assert {h: f for h, (_, _, f) in _recap(run.stdout).items()} == {"mk8s": 0, "healthy": 0}, out
    assert "profile kubespray was given, but nodedoctor detects a microk8s node" in out, out
    # The kubeadm node is detected as kubeadm: the same warning, naming it.
    assert "nodedoctor detects a kubeadm node" in out, out
    assert out.count("profile kubespray was given") == 2, out
    # The profile that matches warns nothing.
    inventory = lab.inventory("profile-ok", {"mk8s": MICROK8S})
    run = lab.play(inventory, _role_play(preflight_profile="microk8s"))
    assert _recap(run.stdout)["mk8s"][2] == 1, run.stdout  # its two errors stop it
    assert "was given, but nodedoctor detects" not in run.stdout + run.stderr


def test_warning_findings_reach_the_play_output(lab: Lab) -> None:
    inventory = lab.inventory("warnings", {"left": MICROK8S_LEFT})
    run = lab.play(inventory, _role_play())
    out = run.stdout + run.stderr
    assert _recap(run.stdout)["left"][2] == 0, out
    assert re.search(r"\[WARNING\]: qos-cgroups-disabled: ", out), out


def test_a_second_run_changes_nothing(lab: Lab) -> None:
    inventory = lab.inventory(
        "idempotent", {"mk8s": MICROK8S, "left": MICROK8S_LEFT, "healthy": HEALTHY}
    )
    reports = lab.base / "idempotent-reports"
    reports.mkdir()
    play = _role_play(reports, preflight_fail_on="never")
    first = lab.play(inventory, play, "--diff")
    recap = _recap(first.stdout)
    assert set(recap) == {"mk8s", "left", "healthy"}, first.stdout + first.stderr
    assert all(changed == 1 and failed == 0 for _, changed, failed in recap.values()), recap
    written = {p.name: p.read_bytes() for p in reports.iterdir()}
    second = lab.play(inventory, play, "--diff")
    recap = _recap(second.stdout)
    assert all(changed == 0 and failed == 0 for _, changed, failed in recap.values()), second.stdout
    # The reports were not rewritten (their timestamps differ, their findings do not), and
    # no diff of a report was printed.
    assert {p.name: p.read_bytes() for p in reports.iterdir()} == written
    assert '"schema": "nodedoctor/report/v1"' not in first.stdout + second.stdout
    # A saved report that says something else (an earlier run's findings) is rewritten.
    stale = json.loads(written["mk8s.json"])
    stale["findings"] = []
    (reports / "mk8s.json").write_text(json.dumps(stale), encoding="utf-8")
    third = lab.play(inventory, play)
    assert {h: c for h, (_, c, _) in _recap(third.stdout).items()} == {
        "mk8s": 1,
        "left": 0,
        "healthy": 0,
    }, third.stdout
    assert len(json.loads((reports / "mk8s.json").read_text(encoding="utf-8"))["findings"]) == 2


@pytest.mark.parametrize(
    ("variable", "value", "choices"),
    [
        ("preflight_fail_on", "warn", "error, warning, info, never"),
        ("preflight_profile", "microk8", ", kubeadm, kubespray, microk8s"),
    ],
)
def test_the_argument_spec_rejects_a_bad_value(
    lab: Lab, variable: str, value: str, choices: str
) -> None:
    inventory = lab.inventory("spec", {"healthy": HEALTHY})
    run = lab.play(inventory, _role_play(), "-e", f"{variable}={value}")
    out = re.sub(r"\s+", " ", run.stdout + run.stderr)
    assert run.returncode != 0, out
    assert "Validating arguments against arg spec" in out, out
    assert f"value of {variable} must be one of: {choices}" in out, out
    assert f"got: {value}" in out, out
    # It stops before any nodedoctor task, and not inside a template.
    assert "Check the node with nodedoctor" not in out, out
    assert "TemplateError" not in out, out
    assert "KeyError" not in out, out


def test_the_built_collection_installs_and_runs_without_a_checkout(lab: Lab) -> None:
    dist = lab.base / "dist"
    built = subprocess.run(
        [sys.executable, str(REPO / "scripts/build_collection.py"), "--output-dir", str(dist)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr
    tarball = Path(built.stdout.strip().splitlines()[-1])
    assert tarball.name == "nodedoctor-node-0.1.0.tar.gz", built.stdout
    listed = subprocess.run(
        ["tar", "tzf", str(tarball)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "files/nodedoctor.pyz" in listed
    assert "roles/preflight/meta/argument_specs.yml" in listed
    assert "changelogs/changelog.yaml" in listed

    installed = lab.base / "installed"
    env = {**lab.env, "ANSIBLE_COLLECTIONS_PATH": str(installed)}
    del env["NODEDOCTOR_PYZ"]
    galaxy = BIN / "ansible-galaxy"
    done = subprocess.run(
        [str(galaxy), "collection", "install", "--offline", str(tarball), "-p", str(installed)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    shipped = installed / "ansible_collections/nodedoctor/node/files/nodedoctor.pyz"
    assert shipped.is_file()

    results = lab.base / "installed-results"
    results.mkdir()
    inventory = lab.inventory("installed", {"mk8s": MICROK8S})
    run = lab.play(
        inventory,
        f"""
- hosts: nodes
  gather_facts: false
  tasks:
    - name: check
      nodedoctor.node.check:
        root: "{{{{ root }}}}"
        fail_on: never
      register: checked
    - name: save
      delegate_to: localhost
      ansible.builtin.copy:
        content: "{{{{ checked | to_json }}}}"
        dest: "{results}/{{{{ inventory_hostname }}}}.json"
        mode: "0644"
""",
        env=env,
    )
    assert _recap(run.stdout)["mk8s"][2] == 0, run.stdout + run.stderr
    checked = json.loads((results / "mk8s.json").read_text(encoding="utf-8"))
    assert checked["nodedoctor_pyz"] == str(shipped)
    assert checked["detected_deployer"] == "microk8s"
    assert len(checked["findings"]) == 2


def test_ansible_test_sanity_and_ansible_lint_pass(tmp_path: Path) -> None:
    """CI's gate: every ansible-test sanity test that applies, then ansible-lint --strict
    (production profile). The work directory (ansible-test's virtual environments) is the
    script's default under the temp dir, kept so that a second run reuses them."""
    if shutil.which("ansible-lint", path=str(BIN)) is None:
        pytest.skip("ansible-lint is not installed (pip install -e '.[test]')")
    run = subprocess.run(
        [sys.executable, str(REPO / "scripts/ansible_sanity.py")],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-6000:]
    assert "$ " + str(BIN / "ansible-lint") in out
    assert "Passed: 0 failure(s), 0 warning(s)" in out, out[-3000:]
