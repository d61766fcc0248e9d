"""``fix``, ``rollback`` and ``clean --stop`` on a real systemd (issue 14).

No container on these machines gets cgroup v2 controllers (the host is hybrid: cpuset, cpu and
memory are bound to v1), so the suite boots a VM: Debian 12's kernel 6.1 and systemd 252 on pure
cgroup v2 with every controller, under QEMU's software emulation (research/real-systemd-vm.md).
scripts/build_vm_image builds the image from Debian packages and caches it; tests/vm/machine.py
boots it with a 9p share holding the zipapp and the scenario (tests/vm/guest/scenario.py), which
records what happens in ``result.json``; the tests below judge each step.

The node is MicroK8s 1.29 after a power cut (canonical/microk8s#4378, #4361; the files of
tests/nodes/microk8s-debian12-cpuset-not-delegated) and, for ``clean``, a kubeadm node, with
stand-ins for kubelite, the kubelet and containerd (tests/vm/guest) under the real unit files.
The VM runs once per module; skipped only where it cannot run: no QEMU, or no image and no way
to build one (debootstrap, root).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nodedoctor._record import record
from tests.vm import machine
from tests.vm.guest.kubelet_standin import ERROR as KUBELET_1_29_ERROR

pytestmark = [pytest.mark.system, pytest.mark.slow, pytest.mark.xdist_group("vm")]

KUBELITE = "snap.microk8s.daemon-kubelite.service"
DROPIN = f"/etc/systemd/system/{KUBELITE}.d/delegate.conf"
INCIDENT_RULES = {"cgroup-controller-not-delegated", "kubepods-invalid"}
#: The controllers the kubelet validates on kubepods (kubelet-cgroups.md §1.2).
KUBELET_CONTROLLERS = ("cpu", "cpuset", "memory", "hugetlb", "pids")


@record
class VmRun:
    boot: machine.Boot
    share: Path
    result: dict[str, Any]
    build_seconds: float

    def context(self) -> str:
        """The ends of the guest's output and console, for a failure's message."""
        log = self.share / "run.log"
        run_log = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        return (
            f"\n--- run.log (end)\n{run_log[-3000:]}\n--- console (end)\n"
            f"{self.boot.console[-3000:]}\n--- qemu\n{self.boot.qemu_log[-1000:]}"
        )

    def phase(self, name: str) -> dict[str, Any]:
        """A phase's record; a failure names the phase, its traceback and the guest's output."""
        phases: dict[str, dict[str, Any]] = self.result.get("phases", {})
        assert name in phases, f"the scenario never reached {name!r}{self.context()}"
        error = self.result.get("errors", {}).get(name)
        assert error is None, f"the scenario's {name!r} phase failed:\n{error}{self.context()}"
        return phases[name]


@pytest.fixture(scope="module")
def vm(tmp_path_factory: pytest.TempPathFactory) -> VmRun:
    reason = machine.why_not()
    if reason is not None:
        pytest.skip(reason)
    image, build_seconds = machine.build_image()
    work = tmp_path_factory.mktemp("vm")
    share = work / "share"
    machine.prepare_share(share)
    boot = machine.boot(image, share, work)
    result_file = share / "result.json"
    result = json.loads(result_file.read_text(encoding="utf-8")) if result_file.exists() else {}
    return VmRun(boot, share, result, build_seconds)


def ran(step: dict[str, Any], what: str) -> str:
    """A command's record, worded for a failure's message."""
    return (
        f"{what}: `{' '.join(step.get('argv', []))}` exited {step.get('rc')}\n"
        f"stdout: {str(step.get('stdout'))[-2000:]}\nstderr: {str(step.get('stderr'))[-2000:]}"
    )


def errors(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["rule"]: f for f in report["findings"] if f["severity"] == "error"}


def words(text: str | None) -> set[str]:
    return set((text or "").split())


def test_the_vm_ran_the_scenario_and_no_qemu_is_left(vm: VmRun) -> None:
    assert not vm.boot.timed_out, f"QEMU ran over {machine.BOOT_TIMEOUT} s{vm.context()}"
    assert vm.boot.returncode == 0, f"QEMU exited {vm.boot.returncode}{vm.context()}"
    rc = (vm.share / "run.rc").read_text(encoding="utf-8").strip()
    assert rc == "0", f"the scenario exited {rc}{vm.context()}"
    assert vm.result.get("done") is True, f"the scenario stopped early{vm.context()}"
    assert vm.boot.left_behind == (), f"processes still use the share: {vm.boot.left_behind}"
    # A stand-in that ignores SIGTERM would also make `systemctl stop` wait for its timeout.
    killed = [line for line in vm.boot.console.splitlines() if "Sending SIGKILL to PID" in line]
    assert killed == [], killed


def test_the_guest_is_systemd_252_on_pure_cgroup_v2_with_every_controller(vm: VmRun) -> None:
    node = vm.phase("node")
    assert node["pid1"] == "systemd"
    assert node["systemd"].startswith("systemd 252 "), node["systemd"]
    controllers = words(node["cgroups"]["root_controllers"])
    assert set(KUBELET_CONTROLLERS) <= controllers, controllers
    # /proc/cgroups: hierarchy 0 for every controller, none bound to a v1 hierarchy.
    bound = [
        line.split()[0] for line in node["proc_cgroups"].splitlines()[1:] if line.split()[1] != "0"
    ]
    assert bound == [], f"controllers on cgroup v1 in the guest: {bound}"
    cgroup_fs = [m for m in node["cgroup_mounts"] if " /sys/fs/cgroup " in m]
    assert len(cgroup_fs) == 1, node["cgroup_mounts"]
    assert " - cgroup2 " in cgroup_fs[0], cgroup_fs


def test_kubelite_crash_loops_with_the_kubelet_1_29_error_after_a_daemon_reload(
    vm: VmRun,
) -> None:
    incident = vm.phase("incident")
    containerd = incident["containerd_unit"]
    assert containerd["ActiveState"] == "active", f"MicroK8s's containerd: {containerd}"
    assert incident["containerd_socket"], "MicroK8s's containerd socket is missing"
    race = incident["attempts"][-1]
    assert race["reload_in_window"], (
        f"in {len(incident['attempts'])} attempts the stand-in validated kubepods before "
        f"`systemctl daemon-reload` was done{vm.context()}"
    )
    before = words(race["before_reload"]["root_subtree_control"])
    after = words(race["after_reload"]["root_subtree_control"])
    assert {"cpu", "cpuset"} <= before, (
        f"the stand-in did not enable the root's controllers: {before}"
    )
    assert not {"cpu", "cpuset"} & after, f"systemd's reload left the root with {after}"
    assert incident["crash_looping"], f"no crash loop: {incident['unit']}{vm.context()}"
    failures = [line for line in incident["journal"] if line.endswith(KUBELET_1_29_ERROR)]
    assert len(failures) >= 2, "\n".join(incident["journal"])
    kubepods = words(incident["cgroups"]["kubepods"]["kubepods"]["controllers"])
    assert "cpuset" not in kubepods, kubepods


def test_live_check_finds_cpuset_not_delegated_and_kubepods_invalid(vm: VmRun) -> None:
    check = vm.phase("incident")["check"]
    assert check["rc"] == 1, ran(check, "check")
    found = errors(check["json"])
    assert set(found) >= INCIDENT_RULES, ran(check, "check")
    assert "cpuset" in found["cgroup-controller-not-delegated"]["title"]
    assert DROPIN in found["cgroup-controller-not-delegated"]["fix"]["files"]
    assert KUBELET_1_29_ERROR in found["kubepods-invalid"]["message"]


def test_why_says_the_journal_line_is_caused_by_both_rules_here(vm: VmRun) -> None:
    why = vm.phase("incident")["why"]
    assert why["rc"] == 0, ran(why, "why")
    verdicts = {m["rule"]: m["verdict"] for m in why["json"]["matches"]}
    assert verdicts == dict.fromkeys(INCIDENT_RULES, "finding"), ran(why, "why")


def test_a_bundle_collected_in_the_vm_gives_the_same_findings_outside(vm: VmRun) -> None:
    collect = vm.phase("incident")["collect"]
    assert collect["rc"] == 0, ran(collect, "collect")
    live = vm.phase("incident")["check"]["json"]
    argv = [
        sys.executable,
        "-m",
        "nodedoctor",
        "check",
        "--bundle",
        str(vm.share / "bundle.tar.gz"),
    ]
    env = {**os.environ, "PYTHONPATH": f"{machine.REPO}:{machine.REPO / 'src'}"}
    done = subprocess.run(
        [*argv, "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    bundle = json.loads(done.stdout)

    def outcome(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
        return sorted(
            (f["rule"], f["severity"], f["title"], f["message"])
            for f in report["findings"]
            if f["rule"] in INCIDENT_RULES
        )

    assert [o[0] for o in outcome(bundle)] == sorted(INCIDENT_RULES), bundle["findings"]
    assert outcome(bundle) == outcome(live)


def test_fix_apply_writes_the_delegate_dropin_and_reloads_systemd(vm: VmRun) -> None:
    fix = vm.phase("fix")
    plan = fix["plan"]
    assert plan["rc"] == 1, ran(plan, "fix (plan)")
    steps = plan["json"]["plan"]["steps"]
    assert ("create", DROPIN) in [(s["kind"], s["path"]) for s in steps], ran(plan, "fix")
    commands = [c["argv"] for c in plan["json"]["plan"]["commands"]]
    assert ["systemctl", "daemon-reload"] in commands, commands
    apply = fix["apply"]
    assert apply["rc"] == 0, ran(apply, "fix --apply --yes")
    applied = apply["json"]["applied"]
    assert DROPIN in applied["written"], applied["written"]
    reloads = [c for c in applied["commands"] if c["argv"] == ["systemctl", "daemon-reload"]]
    assert [c["returncode"] for c in reloads] == [0], applied["commands"]
    assert fix["dropin"] is not None, f"no {DROPIN} after the apply"
    assert "[Service]\nDelegate=yes" in fix["dropin"], fix["dropin"]
    unit = fix["unit_after_apply"]
    # systemd has loaded the drop-in: the reload ran.
    assert unit["Delegate"] == "yes", unit
    assert unit["DropInPaths"] == DROPIN, unit
    assert unit["NeedDaemonReload"] == "no", unit


def test_after_a_restart_cpuset_is_delegated_and_kubelite_runs_without_error(vm: VmRun) -> None:
    fix = vm.phase("fix")
    assert fix["restart"]["rc"] == 0, ran(fix["restart"], "systemctl restart")
    assert fix["validated"], f"the restarted stand-in never validated kubepods{vm.context()}"
    assert fix["main_pid_kept"], f"kubelite restarted again: {fix['unit_running']}"
    assert fix["unit_running"]["ActiveState"] == "active", fix["unit_running"]
    cgroups = fix["cgroups"]
    assert "cpuset" in words(cgroups["root_subtree_control"]), cgroups
    assert "cpuset" in words(cgroups["system_slice_subtree_control"]), cgroups
    assert {"cpuset", "cpu", "io", "memory", "pids"} <= words(fix["unit_controllers"])
    for when in ("cgroups", "cgroups_after_reload"):
        kubepods = words(fix[when]["kubepods"]["kubepods"]["controllers"])
        assert set(KUBELET_CONTROLLERS) <= kubepods, f"{when}: {kubepods}"
    check = fix["check"]
    assert check["rc"] == 0, ran(check, "check after the fix")
    assert check["json"]["summary"]["error"] == 0, errors(check["json"])


def test_rollback_removes_the_dropin_and_reloads_systemd(vm: VmRun) -> None:
    rollback = vm.phase("rollback")
    done = rollback["rollback"]
    assert done["rc"] == 0, ran(done, "rollback")
    assert DROPIN in done["json"]["removed"], done["json"]
    assert not rollback["dropin_exists"]
    unit = rollback["unit"]
    assert (unit["NeedDaemonReload"], unit["DropInPaths"]) == ("no", ""), (
        "rollback removed the drop-in but systemd was not reloaded: it still reports "
        f"Delegate={unit['Delegate']} from {unit['DropInPaths'] or 'no drop-in'} "
        f"(NeedDaemonReload={unit['NeedDaemonReload']}); rollback must run "
        "`systemctl daemon-reload` as the apply did"
    )
    assert unit["Delegate"] == "no", unit


def test_clean_plans_the_rmdirs_and_names_the_units_that_block(vm: VmRun) -> None:
    clean = vm.phase("clean")
    assert clean["kubelet_ready"], f"the kubelet stand-in never made its QoS cgroups{vm.context()}"
    plan = clean["plan"]
    assert plan["rc"] == 1, ran(plan, "clean (plan)")
    steps = [(s["action"], s["path"]) for s in plan["json"]["plan"]["steps"]]
    assert steps == [
        ("rmdir", "/sys/fs/cgroup/kubepods/besteffort"),
        ("rmdir", "/sys/fs/cgroup/kubepods/burstable"),
        ("rmdir", "/sys/fs/cgroup/kubepods"),
    ]
    units = clean["units_before"]
    blockers = [
        (b["role"], b["comm"], b["pid"], b["unit"]) for b in plan["json"]["plan"]["blockers"]
    ]
    assert blockers == [
        ("kubelet", "kubelet", int(units["kubelet.service"]["MainPID"]), "kubelet.service"),
        (
            "runtime",
            "containerd",
            int(units["containerd.service"]["MainPID"]),
            "containerd.service",
        ),
    ]


def test_clean_apply_without_stop_refuses_and_changes_nothing(vm: VmRun) -> None:
    clean = vm.phase("clean")
    refused = clean["apply_without_stop"]
    assert refused["rc"] == 2, ran(refused, "clean --apply --yes")
    assert "still running: kubelet" in refused["stderr"], refused["stderr"]
    assert "containerd" in refused["stderr"], refused["stderr"]
    assert {u: s["ActiveState"] for u, s in clean["units_after_refusal"].items()} == {
        "kubelet.service": "active",
        "containerd.service": "active",
    }
    assert clean["cgroups_after_refusal"]["kubepods"] == clean["cgroups_before"]["kubepods"]


def test_clean_stop_stops_kubelet_then_containerd_and_removes_the_cgroups(vm: VmRun) -> None:
    clean = vm.phase("clean")
    applied = clean["apply_stop"]
    assert applied["rc"] == 0, ran(applied, "clean --apply --yes --stop")
    result = applied["json"]
    assert result["stopped"] == ["kubelet.service", "containerd.service"], result["stopped"]
    stopped = [j["unit"] for j in clean["stop_jobs"] if j["result"] == "done"]
    assert stopped == ["kubelet.service", "containerd.service"], clean["journal"]
    assert [(o["path"], o["status"]) for o in result["outcomes"]] == [
        ("/sys/fs/cgroup/kubepods/besteffort", "done"),
        ("/sys/fs/cgroup/kubepods/burstable", "done"),
        ("/sys/fs/cgroup/kubepods", "done"),
    ]
    assert result["complete"] is True, result["left"]
    assert result["left"]["steps"] == [], result["left"]
    assert not clean["kubepods_exists_after"], clean["cgroups_after"]
    assert {u: s["ActiveState"] for u, s in clean["units_after"].items()} == {
        "kubelet.service": "inactive",
        "containerd.service": "inactive",
    }
    second = clean["second_plan"]
    assert second["rc"] == 0, ran(second, "a second clean")
    assert second["json"]["plan"]["steps"] == []
