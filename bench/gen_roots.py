"""Generate realistic node roots for the benchmarks: a kubeadm worker with N running pods.

    python3 bench/gen_roots.py OUT --pods 500 --cgroup v2 --driver systemd
    python3 bench/gen_roots.py OUT --many 1000 --pods 20     # OUT/node-0000 ... node-0999

A root holds what such a node has at those paths (research/kubelet-cgroups.md §1.5 for the
cgroup names): Ubuntu 22.04 files, ``/proc/self/mountinfo`` with the cgroup mounts and, per
pod, the sandbox ``shm``, the projected service-account token ``tmpfs`` and the containers'
``overlay`` rootfs; ``/proc/cgroups``; a ``/proc/<pid>`` per process (systemd, containerd,
kubelet, a shim, ``pause`` and one workload per pod); the cgroup tree (v1: the kubepods
hierarchy under every controller; v2: one tree with ``cgroup.controllers`` and
``cgroup.subtree_control`` per directory) named as the ``cgroupfs`` or ``systemd`` driver
names it; the kubelet's ``config.yaml``, kubeadm drop-in and flags file; containerd's
``config.toml`` as ``containerd config default`` prints it (taken from the installed binary
when there is one, else the Debian containerd 1.6.20 text kept here) with ``SystemdCgroup``
set to match the driver; and the dpkg status of the packages. The node is healthy: drivers
agree, controllers are enabled and delegated.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
from pathlib import Path

KUBELET_VERSION = "1.29.3"
CONTAINERD_VERSION = "1.6.20~ds1-1+b1"
KERNEL = "5.15.0-91-generic"
V1_HIERARCHIES = (
    # (hierarchy id, mount dir, controllers); the layout systemd 249 mounts on Ubuntu 22.04.
    (12, "cpuset", ("cpuset",)),
    (7, "cpu,cpuacct", ("cpu", "cpuacct")),
    (5, "blkio", ("blkio",)),
    (9, "memory", ("memory",)),
    (3, "devices", ("devices",)),
    (8, "freezer", ("freezer",)),
    (4, "net_cls,net_prio", ("net_cls", "net_prio")),
    (10, "perf_event", ("perf_event",)),
    (6, "hugetlb", ("hugetlb",)),
    (2, "pids", ("pids",)),
    (11, "rdma", ("rdma",)),
    (13, "misc", ("misc",)),
)
PROC_CGROUP_ORDER = (
    *("cpuset", "cpu", "cpuacct", "blkio", "memory", "devices", "freezer"),
    *("net_cls", "perf_event", "net_prio", "hugetlb", "pids", "rdma", "misc"),
)
V2_CONTROLLERS = "cpuset cpu io memory hugetlb pids rdma misc"
#: Files a cgroup directory shows for each v1 controller (a few of each, as the kernel has).
V1_FILES = {
    "cpuset": ("cpuset.cpus", "cpuset.mems"),
    "cpu,cpuacct": ("cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us", "cpuacct.usage"),
    "memory": ("memory.limit_in_bytes", "memory.usage_in_bytes"),
    "pids": ("pids.max", "pids.current"),
    "hugetlb": ("hugetlb.2MB.limit_in_bytes",),
    "blkio": ("blkio.weight",),
}
V2_FILES = ("cpu.max", "cpu.weight", "memory.max", "memory.current", "pids.max", "io.max")

CONTAINERD_CONFIG_FALLBACK = """\
disabled_plugins = []
imports = []
oom_score = 0
plugin_dir = ""
required_plugins = []
root = "/var/lib/containerd"
state = "/run/containerd"
temp = ""
version = 2

[cgroup]
  path = ""

[grpc]
  address = "/run/containerd/containerd.sock"
  gid = 0
  max_recv_message_size = 16777216
  max_send_message_size = 16777216
  uid = 0

[plugins]

  [plugins."io.containerd.grpc.v1.cri"]
    disable_apparmor = false
    disable_cgroup = false
    enable_selinux = false
    sandbox_image = "registry.k8s.io/pause:3.6"
    systemd_cgroup = false

    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/opt/cni/bin"
      conf_dir = "/etc/cni/net.d"

    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"
      snapshotter = "overlayfs"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes]

        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
          runtime_type = "io.containerd.runc.v2"

          [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
            BinaryName = ""
            Root = ""
            ShimCgroup = ""
            SystemdCgroup = false
"""

_containerd_default: str | None = None


def containerd_config(systemd: bool) -> str:
    """``containerd config default`` from the installed binary (once), driver set."""
    global _containerd_default  # noqa: PLW0603 - one run of the real binary per process
    if _containerd_default is None:
        text = ""
        if shutil.which("containerd"):
            try:
                text = subprocess.run(
                    ["containerd", "config", "default"],
                    capture_output=True,
                    text=True,
                    timeout=30,
                    check=True,
                ).stdout
            except (OSError, subprocess.SubprocessError):
                text = ""
        _containerd_default = text if "SystemdCgroup" in text else CONTAINERD_CONFIG_FALLBACK
    value = "true" if systemd else "false"
    return _containerd_default.replace("SystemdCgroup = false", f"SystemdCgroup = {value}")


def write(root: Path, path: str, text: str) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


class Pod:
    def __init__(self, rng: random.Random, index: int) -> None:
        self.uid = "%08x-%04x-%04x-%04x-%012x" % (  # noqa: UP031 - a UUID's fixed widths
            rng.getrandbits(32),
            rng.getrandbits(16),
            0x4000 | rng.getrandbits(12),
            0x8000 | rng.getrandbits(14),
            rng.getrandbits(48),
        )
        roll = index % 10
        self.qos = "guaranteed" if roll == 0 else ("besteffort" if roll >= 7 else "burstable")
        self.sandbox = f"{rng.getrandbits(256):064x}"
        self.container = f"{rng.getrandbits(256):064x}"
        self.token = "kube-api-access-" + "".join(
            rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5)
        )
        #: The shim, then ``pause`` (in the sandbox's cgroup), then the workload.
        self.pid = 2000 + 3 * index

    def procs(self, cgroup_dir: str, driver: str) -> str:
        """``cgroup.procs`` of one of the pod's cgroups: a container's lists its process."""
        dirs = self.cgroup_dirs(driver)
        if cgroup_dir == dirs[1]:
            return f"{self.pid + 1}\n"
        if cgroup_dir == dirs[2]:
            return f"{self.pid + 2}\n"
        return ""

    def cgroup_dirs(self, driver: str) -> list[str]:
        """The pod's cgroup and its two containers' (sandbox, workload), driver-named."""
        if driver == "cgroupfs":
            qos = "" if self.qos == "guaranteed" else f"/{self.qos}"
            pod = f"kubepods{qos}/pod{self.uid}"
            return [pod, f"{pod}/{self.sandbox}", f"{pod}/{self.container}"]
        uid = self.uid.replace("-", "_")
        if self.qos == "guaranteed":
            pod = f"kubepods.slice/kubepods-pod{uid}.slice"
        else:
            pod = f"kubepods.slice/kubepods-{self.qos}.slice/kubepods-{self.qos}-pod{uid}.slice"
        return [
            pod,
            f"{pod}/cri-containerd-{self.sandbox}.scope",
            f"{pod}/cri-containerd-{self.container}.scope",
        ]


def qos_dirs(driver: str) -> list[str]:
    if driver == "cgroupfs":
        return ["kubepods", "kubepods/burstable", "kubepods/besteffort"]
    return [
        "kubepods.slice",
        "kubepods.slice/kubepods-burstable.slice",
        "kubepods.slice/kubepods-besteffort.slice",
    ]


def mountinfo(pods: list[Pod], mode: str) -> str:
    lines = [
        "22 28 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw",
        "23 28 0:22 / /proc rw,nosuid,nodev,noexec,relatime shared:13 - proc proc rw",
        "24 28 0:5 / /dev rw,nosuid,relatime shared:2 - devtmpfs udev "
        "rw,size=8123456k,nr_inodes=2030864,mode=755,inode64",
        "25 24 0:23 / /dev/pts rw,nosuid,noexec,relatime shared:3 - devpts devpts "
        "rw,gid=5,mode=620,ptmxmode=000",
        "26 28 0:24 / /run rw,nosuid,nodev,noexec,relatime shared:5 - tmpfs tmpfs "
        "rw,size=1631234k,mode=755,inode64",
        "28 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,discard,errors=remount-ro",
        "29 22 0:6 / /sys/kernel/security rw,nosuid,nodev,noexec,relatime shared:8 "
        "- securityfs securityfs rw",
        "30 24 0:25 / /dev/shm rw,nosuid,nodev shared:4 - tmpfs tmpfs rw,inode64",
    ]
    mount_id = 31
    if mode == "v2":
        lines.append(
            f"{mount_id} 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 "
            "- cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot"
        )
        mount_id += 1
    else:
        lines.append(
            f"{mount_id} 22 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 "
            "- tmpfs tmpfs ro,mode=755,inode64"
        )
        mount_id += 1
        lines.append(
            f"{mount_id} 31 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime "
            "shared:10 - cgroup2 cgroup2 rw,nsdelegate"
        )
        mount_id += 1
        lines.append(
            f"{mount_id} 31 0:28 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime "
            "shared:11 - cgroup cgroup rw,xattr,name=systemd"
        )
        mount_id += 1
        for n, (_, directory, controllers) in enumerate(V1_HIERARCHIES):
            lines.append(
                f"{mount_id} 31 0:{29 + n} / /sys/fs/cgroup/{directory} "
                f"rw,nosuid,nodev,noexec,relatime shared:{12 + n} - cgroup cgroup "
                f"rw,{','.join(controllers)}"
            )
            mount_id += 1
    lines.append(
        f"{mount_id} 28 252:1 /var/lib/containerd /var/lib/containerd rw,relatime shared:1 "
        "- ext4 /dev/vda1 rw,discard,errors=remount-ro"
    )
    mount_id += 1
    minor = 100
    for pod in pods:
        for text in (
            f"/run/containerd/io.containerd.grpc.v1.cri/sandboxes/{pod.sandbox}/shm "
            f"rw,nosuid,nodev,noexec,relatime shared:{minor} - tmpfs shm rw,size=65536k,inode64",
            f"/var/lib/kubelet/pods/{pod.uid}/volumes/kubernetes.io~projected/{pod.token} "
            f"rw,relatime shared:{minor + 1} - tmpfs tmpfs rw,size=15995256k,inode64",
            f"/run/containerd/io.containerd.runtime.v2.task/k8s.io/{pod.sandbox}/rootfs "
            f"rw,relatime shared:{minor + 2} - overlay overlay rw,lowerdir=/var/lib/containerd/"
            "io.containerd.snapshotter.v1.overlayfs/snapshots/1/fs,upperdir=/var/lib/containerd/"
            "io.containerd.snapshotter.v1.overlayfs/snapshots/2/fs",
            f"/run/containerd/io.containerd.runtime.v2.task/k8s.io/{pod.container}/rootfs "
            f"rw,relatime shared:{minor + 3} - overlay overlay rw,lowerdir=/var/lib/containerd/"
            "io.containerd.snapshotter.v1.overlayfs/snapshots/3/fs,upperdir=/var/lib/containerd/"
            "io.containerd.snapshotter.v1.overlayfs/snapshots/4/fs",
        ):
            lines.append(f"{mount_id} 26 0:{minor} / {text}")
            mount_id += 1
            minor += 1
    return "\n".join(lines) + "\n"


def proc_cgroups(mode: str, pods: int) -> str:
    ids = {c: h for h, _, cs in V1_HIERARCHIES for c in cs}
    count = 1 + 3 + 3 * pods
    rows = ["#subsys_name\thierarchy\tnum_cgroups\tenabled"]
    for name in PROC_CGROUP_ORDER:
        hierarchy = 0 if mode == "v2" else ids[name]
        rows.append(f"{name}\t{hierarchy}\t{count}\t1")
    return "\n".join(rows) + "\n"


def cgroup_tree(root: Path, mode: str, driver: str, pods: list[Pod], kubepods: bool = True) -> None:
    dirs = (qos_dirs(driver) if kubepods else []) + [d for p in pods for d in p.cgroup_dirs(driver)]
    procs = {d: p.procs(d, driver) for p in pods for d in p.cgroup_dirs(driver)}
    base = root / "sys/fs/cgroup"
    if mode == "v2":
        base.mkdir(parents=True, exist_ok=True)
        (base / "cgroup.controllers").write_text(V2_CONTROLLERS + "\n")
        (base / "cgroup.subtree_control").write_text("cpuset cpu io memory hugetlb pids\n")
        (base / "cpu.stat").write_text("usage_usec 81234567\nuser_usec 61234567\n")
        leaf = {d for p in pods for d in p.cgroup_dirs(driver)[1:]}
        for d in dirs:
            path = base / d
            path.mkdir(parents=True, exist_ok=True)
            (path / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids\n")
            (path / "cgroup.subtree_control").write_text(
                "" if d in leaf else "cpuset cpu io memory hugetlb pids\n"
            )
            (path / "cgroup.procs").write_text(procs.get(d, ""))
            for name in V2_FILES:
                (path / name).write_text("max\n")
        return
    (base / "unified").mkdir(parents=True, exist_ok=True)
    (base / "unified/cgroup.controllers").write_text("")
    hierarchies = ["systemd"] + [directory for _, directory, _ in V1_HIERARCHIES]
    for directory in hierarchies:
        top = base / directory
        top.mkdir(parents=True, exist_ok=True)
        (top / "cgroup.procs").write_text("1\n")
        files = V1_FILES.get(directory, ())
        for d in dirs:
            path = top / d
            path.mkdir(parents=True, exist_ok=True)
            (path / "cgroup.procs").write_text(procs.get(d, ""))
            (path / "tasks").write_text("")
            for name in files:
                (path / name).write_text("max\n" if name.endswith("max") else "0\n")
    for alias, target in (("cpu", "cpu,cpuacct"), ("cpuacct", "cpu,cpuacct")):
        (base / alias).symlink_to(target)
    (base / "net_cls").symlink_to("net_cls,net_prio")
    (base / "net_prio").symlink_to("net_cls,net_prio")


def processes(root: Path, pods: list[Pod], kubernetes: bool) -> None:
    def proc(pid: int, argv: list[str]) -> None:
        d = root / "proc" / str(pid)
        d.mkdir(parents=True, exist_ok=True)
        (d / "comm").write_text(os.path.basename(argv[0])[:15] + "\n")
        (d / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")

    proc(1, ["/sbin/init"])
    (root / "proc/1/comm").write_text("systemd\n")
    if not kubernetes:
        return
    proc(612, ["/usr/bin/containerd"])
    proc(
        905,
        [
            "/usr/bin/kubelet",
            "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
            "--kubeconfig=/etc/kubernetes/kubelet.conf",
            "--config=/var/lib/kubelet/config.yaml",
            "--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock",
            "--pod-infra-container-image=registry.k8s.io/pause:3.9",
        ],
    )
    for pod in pods:
        pid = pod.pid
        proc(
            pid,
            [
                "/usr/bin/containerd-shim-runc-v2",
                "-namespace",
                "k8s.io",
                "-id",
                pod.sandbox,
                "-address",
                "/run/containerd/containerd.sock",
            ],
        )
        proc(pid + 1, ["/pause"])
        proc(pid + 2, ["/usr/local/bin/app", "--port=8080"])


def node_files(root: Path, mode: str, driver: str, hostname: str, kubernetes: bool) -> None:
    write(
        root,
        "/etc/os-release",
        'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\n'
        'VERSION="22.04.4 LTS (Jammy Jellyfish)"\nVERSION_CODENAME=jammy\nID=ubuntu\n'
        "ID_LIKE=debian\n",
    )
    write(root, "/etc/hostname", hostname + "\n")
    write(root, "/proc/sys/kernel/hostname", hostname + "\n")
    write(root, "/proc/sys/kernel/osrelease", KERNEL + "\n")
    cmdline = f"BOOT_IMAGE=/vmlinuz-{KERNEL} root=UUID=4f2d0c38-9a1e-4b8e-a0c1-2b9d3c1e5f10 ro"
    if mode != "v2":
        cmdline += " systemd.unified_cgroup_hierarchy=0"
    write(root, "/proc/cmdline", cmdline + " console=tty1 console=ttyS0\n")
    (root / "run/systemd/system").mkdir(parents=True, exist_ok=True)
    packages = [("systemd", "249.11-0ubuntu3.12", "amd64", "Ubuntu Developers")]
    if kubernetes:
        kubernetes_files(root, driver)
        packages += [
            ("containerd", CONTAINERD_VERSION, "amd64", "Debian Go Packaging Team"),
            ("runc", "1.1.5+ds1-1+deb12u1", "amd64", "Debian Go Packaging Team"),
            ("kubelet", f"{KUBELET_VERSION}-1.1", "amd64", "Kubernetes Authors"),
            ("kubeadm", f"{KUBELET_VERSION}-1.1", "amd64", "Kubernetes Authors"),
            ("kubectl", f"{KUBELET_VERSION}-1.1", "amd64", "Kubernetes Authors"),
        ]
    status = "".join(
        f"Package: {name}\nStatus: install ok installed\nPriority: optional\n"
        f"Section: admin\nInstalled-Size: 1024\nMaintainer: {maintainer}\n"
        f"Architecture: {arch}\nVersion: {version}\nDescription: {name}\n\n"
        for name, version, arch, maintainer in packages
    )
    write(root, "/var/lib/dpkg/status", status)


def kubernetes_files(root: Path, driver: str) -> None:
    """What kubeadm's packages and ``kubeadm join`` leave: kubelet and containerd configs."""
    systemd = driver == "systemd"
    write(
        root,
        "/var/lib/kubelet/config.yaml",
        "apiVersion: kubelet.config.k8s.io/v1beta1\n"
        "authentication:\n  anonymous:\n    enabled: false\n  webhook:\n    cacheTTL: 0s\n"
        "    enabled: true\n  x509:\n    clientCAFile: /etc/kubernetes/pki/ca.crt\n"
        "authorization:\n  mode: Webhook\n  webhook:\n    cacheAuthorizedTTL: 0s\n"
        "    cacheUnauthorizedTTL: 0s\n"
        f"cgroupDriver: {driver}\n"
        "clusterDNS:\n- 10.96.0.10\nclusterDomain: cluster.local\n"
        "containerRuntimeEndpoint: unix:///var/run/containerd/containerd.sock\n"
        "cpuManagerReconcilePeriod: 0s\nevictionPressureTransitionPeriod: 0s\n"
        "fileCheckFrequency: 0s\nhealthzBindAddress: 127.0.0.1\nhealthzPort: 10248\n"
        "httpCheckFrequency: 0s\nimageMaximumGCAge: 0s\nimageMinimumGCAge: 0s\n"
        "kind: KubeletConfiguration\nlogging:\n  flushFrequency: 0\n  options:\n    json:\n"
        '      infoBufferSize: "0"\n  verbosity: 0\nmemorySwap: {}\n'
        "nodeStatusReportFrequency: 0s\nnodeStatusUpdateFrequency: 0s\n"
        "resolvConf: /run/systemd/resolve/resolv.conf\nrotateCertificates: true\n"
        "runtimeRequestTimeout: 0s\nshutdownGracePeriod: 0s\n"
        "shutdownGracePeriodCriticalPods: 0s\nstaticPodPath: /etc/kubernetes/manifests\n"
        "streamingConnectionIdleTimeout: 0s\nsyncFrequency: 0s\nvolumeStatsAggPeriod: 0s\n",
    )
    write(
        root,
        "/var/lib/kubelet/kubeadm-flags.env",
        'KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///var/run/containerd/'
        'containerd.sock --pod-infra-container-image=registry.k8s.io/pause:3.9"\n',
    )
    write(
        root,
        "/usr/lib/systemd/system/kubelet.service",
        "[Unit]\nDescription=kubelet: The Kubernetes Node Agent\n"
        "Documentation=https://kubernetes.io/docs/\nWants=network-online.target\n"
        "After=network-online.target\n\n[Service]\nExecStart=/usr/bin/kubelet\n"
        "Restart=always\nStartLimitInterval=0\nRestartSec=10\n\n[Install]\n"
        "WantedBy=multi-user.target\n",
    )
    write(
        root,
        "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf",
        "# Note: This dropin only works with kubeadm and kubelet v1.11+\n[Service]\n"
        'Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/'
        'bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"\n'
        'Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"\n'
        "EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env\n"
        "EnvironmentFile=-/etc/default/kubelet\n"
        "ExecStart=\n"
        "ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS "
        "$KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS\n",
    )
    write(root, "/etc/containerd/config.toml", containerd_config(systemd))
    write(
        root,
        "/usr/lib/systemd/system/containerd.service",
        "[Unit]\nDescription=containerd container runtime\nDocumentation=https://containerd.io\n"
        "After=network.target local-fs.target\n\n[Service]\n"
        "ExecStartPre=-/sbin/modprobe overlay\nExecStart=/usr/bin/containerd\nType=notify\n"
        "Delegate=yes\nKillMode=process\nRestart=always\nRestartSec=5\nLimitNPROC=infinity\n"
        "LimitCORE=infinity\nTasksMax=infinity\nOOMScoreAdjust=-999\n\n[Install]\n"
        "WantedBy=multi-user.target\n",
    )


def generate(
    root: Path, pods: int, mode: str, driver: str, *, seed: int = 0, kubernetes: bool = True
) -> Path:
    """Write a node root with ``pods`` running pods under ``root``; returns ``root``.

    ``kubernetes=False``: the same machine before kubeadm (no kubelet, no containerd, no
    pods), what a pre-install check sees."""
    if mode not in ("v1", "v2"):
        raise ValueError(f"cgroup mode {mode!r}: v1 (hybrid, as systemd mounts it) or v2")
    if driver not in ("cgroupfs", "systemd"):
        raise ValueError(f"cgroup driver {driver!r}: cgroupfs or systemd")
    rng = random.Random(f"{seed}-{pods}-{mode}-{driver}")  # noqa: S311 - repeatable test data
    pod_list = [Pod(rng, i) for i in range(pods if kubernetes else 0)]
    root.mkdir(parents=True, exist_ok=True)
    node_files(root, mode, driver, f"worker-{seed:04d}", kubernetes)
    write(root, "/proc/self/mountinfo", mountinfo(pod_list, mode))
    write(root, "/proc/cgroups", proc_cgroups(mode, pods))
    write(root, "/proc/1/mountinfo", mountinfo(pod_list, mode))
    if kubernetes:
        cgroup_tree(root, mode, driver, pod_list)
    else:
        cgroup_tree(root, mode, driver, pod_list, kubepods=False)
    processes(root, pod_list, kubernetes)
    for pod in pod_list:
        volumes = root / f"var/lib/kubelet/pods/{pod.uid}/volumes"
        (volumes / "kubernetes.io~projected" / pod.token).mkdir(parents=True, exist_ok=True)
    return root


def generate_many(out: Path, count: int, pods: int) -> list[Path]:
    """``count`` roots cycling through v1/v2 and both drivers, ``out/node-0000`` ..."""
    combos = [("v2", "systemd"), ("v1", "cgroupfs"), ("v2", "cgroupfs"), ("v1", "systemd")]
    roots = []
    for i in range(count):
        mode, driver = combos[i % len(combos)]
        roots.append(generate(out / f"node-{i:04d}", pods, mode, driver, seed=i))
    return roots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--pods", type=int, default=500)
    parser.add_argument("--cgroup", choices=("v1", "v2"), default="v2")
    parser.add_argument("--driver", choices=("cgroupfs", "systemd"), default="systemd")
    parser.add_argument("--many", type=int, metavar="N", help="write N roots under OUT")
    parser.add_argument(
        "--no-kubernetes",
        action="store_true",
        help="the node before kubeadm: no kubelet, no runtime",
    )
    args = parser.parse_args()
    if args.many:
        generate_many(args.out, args.many, args.pods)
    else:
        generate(args.out, args.pods, args.cgroup, args.driver, kubernetes=not args.no_kubernetes)


if __name__ == "__main__":
    main()
