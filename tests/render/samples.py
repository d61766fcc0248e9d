"""Reports for the renderer tests: realistic findings, and hostile text where a report from
another machine could carry it (markup, quotes, control characters, non-ASCII)."""

from __future__ import annotations

from nodedoctor.model import Evidence, Finding, FixHint, Report, Severity, Skipped

HOSTILE = "<script>alert(\"x\")</script> & 'q' \x00\x1b[31m “ü”"


def driver_mismatch(hostname: str = "worker-1") -> Report:
    return Report(
        tool_version="0.1.0",
        node={
            "hostname": hostname,
            "root": "/",
            "os": {"id": "ubuntu", "version_id": "22.04", "pretty_name": "Ubuntu 22.04.4 LTS"},
            "kernel": "5.15.0-105-generic",
            "arch": "x86_64",
            "cgroup": {"mode": "v2"},
            "kubelet": {"version": "1.29.4", "cgroup_driver": "systemd"},
            "runtime": {"name": "containerd", "version": "1.6.28", "cgroup_driver": "cgroupfs"},
        },
        findings=(
            Finding(
                rule="cgroup-driver-mismatch",
                severity=Severity.ERROR,
                title="kubelet uses systemd, containerd uses cgroupfs",
                message="the kubelet's cgroupDriver is systemd but containerd's runc runtime "
                "has SystemdCgroup = false",
                evidence=(
                    Evidence("/var/lib/kubelet/config.yaml", "cgroupDriver: systemd", 12),
                    Evidence("/etc/containerd/config.toml", "SystemdCgroup = false", 125),
                ),
                fix=FixHint(
                    summary="set SystemdCgroup = true for the runc runtime in containerd",
                    available=True,
                    files=("/etc/containerd/config.toml",),
                    restart=("containerd", "kubelet"),
                ),
                impact="pods restart with SandboxChanged every few minutes",
            ),
            Finding(
                rule="swap-enabled",
                severity=Severity.WARNING,
                title="swap is on",
                message="/swap.img is active",
                evidence=(Evidence("/proc/swaps", "/swap.img file 2097148 0 -2", 2),),
            ),
        ),
        skipped=(Skipped("cloud-init-missing", "not a GCE instance"),),
        passed=("cgroup-controller-disabled", "kubepods-invalid", "parse-error"),
        duration_seconds=0.0123,
        timestamp=1795460000.0,
        rules_checked=(
            "cgroup-controller-disabled",
            "kubepods-invalid",
            "cgroup-driver-mismatch",
            "swap-enabled",
            "cloud-init-missing",
            "parse-error",
        ),
    )


def raspberry_pi(hostname: str = "rpi-worker-3") -> Report:
    return Report(
        tool_version="0.1.0",
        node={
            "hostname": hostname,
            "root": "/",
            "os": {"id": "rocky", "version_id": "9.3"},
            "kernel": "6.1.31-v8.1.el9.altarch",
            "arch": "aarch64",
            "cgroup": {"mode": "v2"},
        },
        findings=(
            Finding(
                rule="cgroup-controller-disabled",
                severity=Severity.ERROR,
                title="the kernel gives no memory cgroup controller",
                message="memory is missing from /sys/fs/cgroup/cgroup.controllers",
                evidence=(
                    Evidence("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io pids", 1),
                    Evidence("/proc/cmdline", "console=serial0,115200 root=PARTUUID=x", 1),
                ),
                fix=FixHint(
                    summary='add "cgroup_enable=memory" to /boot/cmdline.txt, then reboot',
                    available=True,
                    files=("/boot/cmdline.txt",),
                    reboot=True,
                ),
            ),
        ),
        skipped=(Skipped("cgroup-driver-mismatch", "no kubelet installed"),),
        passed=("swap-enabled", "parse-error"),
        duration_seconds=0.02,
        timestamp=1795460001.0,
        rules_checked=(
            "cgroup-controller-disabled",
            "cgroup-driver-mismatch",
            "swap-enabled",
            "parse-error",
        ),
    )


def healthy(hostname: str = "worker-2") -> Report:
    return Report(
        tool_version="0.1.0",
        node={"hostname": hostname, "root": "/", "cgroup": {"mode": "v2"}},
        findings=(),
        skipped=(),
        passed=("cgroup-controller-disabled", "cgroup-driver-mismatch", "parse-error"),
        duration_seconds=0.01,
        timestamp=1795460002.0,
        rules_checked=("cgroup-controller-disabled", "cgroup-driver-mismatch", "parse-error"),
    )


def hostile() -> Report:
    """Every string a renderer prints, made of markup, quotes and control characters."""
    return Report(
        tool_version="0.1.0",
        node={"hostname": HOSTILE, "root": HOSTILE, "os": {"pretty_name": HOSTILE}},
        findings=(
            Finding(
                rule="kubepods-invalid",
                severity=Severity.ERROR,
                title=HOSTILE,
                message=HOSTILE,
                evidence=(
                    Evidence("/etc/" + HOSTILE, HOSTILE, 3),
                    Evidence("kubelet --version", HOSTILE),
                ),
                fix=FixHint(summary=HOSTILE, commands=(HOSTILE,), files=(HOSTILE,)),
                impact=HOSTILE,
            ),
            Finding(
                rule="internal-error",
                severity=Severity.ERROR,
                title="rule qos-cgroups-disabled crashed: KeyError",
                message="qos-cgroups-disabled raised KeyError: 'x'; its verdict is unknown",
                evidence=(Evidence("qos.py:10", "KeyError: 'x'"),),
            ),
        ),
        skipped=(Skipped("swap-enabled", HOSTILE),),
        passed=("parse-error",),
        duration_seconds=0.5,
        timestamp=1795460003.0,
        rules_checked=("kubepods-invalid", "qos-cgroups-disabled", "swap-enabled", "parse-error"),
    )


ALL = (driver_mismatch, raspberry_pi, healthy, hostile)
