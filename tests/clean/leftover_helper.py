"""Runs INSIDE private mount, network and PID namespaces (``unshare --mount --net --pid
--fork --mount-proc --propagation private``), started by tests/clean/test_leftovers_real.py.
Never run it directly.

It builds what a torn-down cluster leaves, for real, where only this namespace sees it:

- ``/etc`` is an overlay whose writes go to WORK (the host's ``/etc`` is its read-only lower
  layer); ``/run``, ``/var/lib`` (``/var`` for the MicroK8s layout) are private tmpfs;
  ``/sys/class/net`` and ``/sys/devices/virtual/net`` show this network namespace;
- the CNI configurations, Calico's kubeconfig, kubeadm's etcd manifest and a CA certificate
  (openssl), etcd's data directory, calico-node's and flanneld's state (with a live socket
  where bird's would be, and Calico's cgroup2 mount);
- the pod network as the real CNI plugins make it (Debian's containernetworking-plugins):
  the bridge plugin with host-local IPAM, called with Flannel's delegate configuration,
  makes ``cni0``, a pod veth into a ``cni-…`` network namespace and the IPAM reservation;
  host-local alone reserves an address of podman's network (to be kept); ``ip link`` makes
  Flannel's and Calico's VXLAN devices, a Calico and Cilium veth, and a ``docker0`` bridge
  and a veth that are not Kubernetes' (to be kept);
- kube-proxy's, Flannel's and Calico's iptables chains (legacy and nf_tables backends, IPv4
  and IPv6), kube-proxy's nftables table, and a host's own rules (Debian's nftables.conf,
  Docker's DOCKER-USER), from the files in tests/clean/data/leftovers (see its README);
- an orphaned pod directory with an emptyDir volume and a projected token still mounted.

Then it runs the scenario through the real CLI and prints one JSON object with what it saw.
Everything dies with the namespaces.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

from nodedoctor.cli import main as nodedoctor_main

DATA = Path(__file__).with_name("data") / "leftovers"
POD = "3f1c2b9e-8d3a-4c56-9f01-2a3b4c5d6e7f"
NETNS = "cni-5b8a9e0c-2d4f-4e6a-9b1c-3d5e7f9a1b2c"
CONTAINER = "6a1e2b7c9d0f4e8a"
#: Flannel's delegate for the bridge plugin, as flannel-io/cni-plugin flannel_linux.go
#: (doCmdAdd, getDelegateIPAM) builds it from kube-flannel.yml's delegate and subnet.env.
FLANNEL_IPAM: dict[str, Any] = {
    "type": "host-local",
    "ranges": [[{"subnet": "10.244.1.0/24"}]],
    "routes": [{"dst": "10.244.0.0/16"}],
}
FLANNEL_DELEGATE: dict[str, Any] = {
    "cniVersion": "0.3.1",
    "name": "cbr0",
    "type": "bridge",
    "hairpinMode": True,
    "isDefaultGateway": True,
    "ipMasq": False,
    "mtu": 1450,
    "isGateway": True,
    "ipam": FLANNEL_IPAM,
}
#: flanneld's subnet file for that node (flannel pkg/subnet/subnet.go WriteSubnetFile).
SUBNET_ENV = (
    "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\n"
    "FLANNEL_IPMASQ=true\n"
)
CNI_BIN = "/usr/lib/cni"
SAVE_TOOLS = ("iptables-legacy-save", "iptables-nft-save", "ip6tables-nft-save")


def sh(*argv: str, stdin: str | None = None) -> str:
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = nodedoctor_main(list(args))
    return code, out.getvalue(), err.getvalue()


def cli_json(*args: str) -> tuple[int, Any, str]:
    code, out, err = run_cli(*args)
    try:
        return code, json.loads(out), err
    except ValueError:
        return code, {"unparsed": out}, err


def cni_add(config: dict[str, Any], container: str, ifname: str) -> dict[str, Any]:
    env = dict(
        os.environ,
        CNI_COMMAND="ADD",
        CNI_CONTAINERID=container,
        CNI_NETNS=f"/run/netns/{NETNS}",
        CNI_IFNAME=ifname,
        CNI_PATH=CNI_BIN,
    )
    done = subprocess.run(
        [f"{CNI_BIN}/{config['type']}"],
        input=json.dumps(config),
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    return {"code": done.returncode, "out": done.stdout}


def isolate(work: Path, whole_var: bool) -> None:
    """The namespace's own /etc (overlay), /run, /var/lib (or /var), and net sysfs."""
    for d in ("etc-up", "etc-work", "sys"):
        (work / d).mkdir()
    sh(
        "mount",
        "-t",
        "overlay",
        "overlay",
        "-o",
        f"lowerdir=/etc,upperdir={work}/etc-up,workdir={work}/etc-work",
        "/etc",
    )
    sh("mount", "-t", "tmpfs", "run", "/run")
    os.makedirs("/run/netns")
    if whole_var:
        sh("mount", "-t", "tmpfs", "var", "/var")
        os.makedirs("/var/lib")
    else:
        sh("mount", "-t", "tmpfs", "varlib", "/var/lib")
    sh("mount", "-t", "sysfs", "sysfs", str(work / "sys"))
    sh("mount", "--bind", str(work / "sys/class/net"), "/sys/class/net")
    sh("mount", "--bind", str(work / "sys/devices/virtual/net"), "/sys/devices/virtual/net")
    sh("ip", "link", "set", "lo", "up")


def put(path: str, data: bytes | str, mode: int = 0o644) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data.encode() if isinstance(data, str) else data)
    os.chmod(path, mode)


def build_files(work: Path, conf_dir: str, state: dict[str, str]) -> None:
    """CNI configurations, kubeadm's leftovers, the CNIs' state."""
    for name, mode in (
        ("10-calico.conflist", 0o644),
        ("calico-kubeconfig", 0o600),
        ("10-flannel.conflist", 0o644),
    ):
        put(f"{conf_dir}/{name}", (DATA / name).read_bytes(), mode)
    put(state["calico-lib"] + "/nodename", "worker-1")
    put(state["calico-lib"] + "/mtu", "1450")
    put(state["flannel-run"] + "/subnet.env", SUBNET_ENV)
    os.makedirs(state["calico-run"], exist_ok=True)
    # bird's control socket, which calico-node keeps in /var/run/calico: not data.
    bird = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    bird.bind(state["calico-run"] + "/bird.ctl")
    bird.close()
    os.makedirs(state["calico-run"] + "/cgroup")
    sh("mount", "-t", "cgroup2", "none", state["calico-run"] + "/cgroup")


def build_kubeadm(work: Path) -> None:
    put("/etc/kubernetes/manifests/etcd.yaml", (DATA / "etcd.yaml").read_bytes(), 0o600)
    os.makedirs("/etc/kubernetes/pki", mode=0o755)
    sh(
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=kubernetes",
        "-keyout",
        "/etc/kubernetes/pki/ca.key",
        "-out",
        "/etc/kubernetes/pki/ca.crt",
    )
    for d in ("/var/lib/etcd/member/snap", "/var/lib/etcd/member/wal"):
        os.makedirs(d, mode=0o700)


def build_network(state: dict[str, str], cni_lib: str) -> dict[str, Any]:
    """The pod network as the CNI plugins and the CNIs' agents leave it."""
    sh("ip", "netns", "add", NETNS)
    delegate = dict(FLANNEL_DELEGATE)
    delegate["ipam"] = {**FLANNEL_IPAM, "dataDir": f"{cni_lib}/networks"}
    added = cni_add(delegate, CONTAINER, "eth0")
    # The flannel plugin keeps the delegate it passed (delegateAdd: dataDir/<container>).
    put(f"{cni_lib}/flannel/{CONTAINER}", json.dumps(delegate))
    # podman's network, reserved by the same IPAM plugin: not the cluster's.
    podman = {
        "cniVersion": "0.4.0",
        "name": "podman",
        "type": "host-local",
        "ranges": [[{"subnet": "10.88.0.0/16"}]],
        "dataDir": f"{cni_lib}/networks",
    }
    env = dict(
        os.environ,
        CNI_COMMAND="ADD",
        CNI_CONTAINERID="podmanc0ffee",
        CNI_NETNS=f"/run/netns/{NETNS}",
        CNI_IFNAME="eth9",
        CNI_PATH=CNI_BIN,
    )
    subprocess.run(
        [f"{CNI_BIN}/host-local"],
        input=json.dumps({**podman, "ipam": podman}),
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    sh(
        "ip",
        "link",
        "add",
        "flannel.1",
        "type",
        "vxlan",
        "id",
        "1",
        "dstport",
        "8472",
        "nolearning",
    )
    sh("ip", "link", "add", "vxlan.calico", "type", "vxlan", "id", "4096", "dstport", "4789")
    sh(
        "ip",
        "link",
        "add",
        "cali1f2e3d4c5b6",
        "type",
        "veth",
        "peer",
        "name",
        "eth1",
        "netns",
        NETNS,
    )
    sh("ip", "link", "add", "cilium_host", "type", "veth", "peer", "name", "cilium_net")
    sh("ip", "link", "add", "docker0", "type", "bridge")
    sh("ip", "link", "add", "vethkeep0", "type", "veth", "peer", "name", "vethkeep1")
    return added


def build_rules() -> None:
    sh("nft", "-f", str(DATA / "debian-nftables.conf"))  # first: it flushes the ruleset
    sh("iptables-legacy-restore", str(DATA / "kube-proxy-flannel.iptables"))
    sh("iptables-nft-restore", str(DATA / "calico.iptables"))
    sh("ip6tables-nft-restore", str(DATA / "kube-proxy6.iptables"))
    sh("nft", "-f", str(DATA / "kube-proxy.nft"))


def build_pod(kubelet_dir: str) -> str:
    pod = f"{kubelet_dir}/pods/{POD}"
    put(f"{pod}/volumes/kubernetes.io~empty-dir/cache/data.txt", "cached\n")
    token = f"{pod}/volumes/kubernetes.io~projected/kube-api-access-7xk2p"
    os.makedirs(token)
    sh("mount", "-t", "tmpfs", "tmpfs", token)
    put(f"{token}/token", "not-a-token\n", 0o600)
    put(f"{pod}/etc-hosts", "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n")
    return pod


def rules_state() -> dict[str, str]:
    out = {}
    for tool in SAVE_TOOLS:
        text = sh(tool)
        out[tool] = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    out["nft"] = sh("nft", "list", "ruleset")
    return out


def links() -> list[str]:
    return sorted(os.listdir("/sys/class/net"))


def tree(paths: list[str]) -> dict[str, str]:
    """Every file, link and directory under ``paths`` (one filesystem each): its type, mode,
    owner and content hash; sockets are named only."""
    found: dict[str, str] = {}
    for top in paths:
        if not os.path.lexists(top):
            continue
        top_dev = os.lstat(top).st_dev
        for base, dirs, files in os.walk(top):
            for name in list(dirs):
                if os.lstat(os.path.join(base, name)).st_dev != top_dev:
                    dirs.remove(name)  # a mount point: its contents are not the tree's
            for name in [*dirs, *files, ""]:
                path = os.path.join(base, name) if name else base
                st = os.lstat(path)
                kind = stat.S_IFMT(st.st_mode)
                desc = f"{kind:o} {stat.S_IMODE(st.st_mode):o} {st.st_uid}:{st.st_gid}"
                if stat.S_ISREG(st.st_mode):
                    with open(path, "rb") as fh:
                        desc += " " + hashlib.sha256(fh.read()).hexdigest()
                elif stat.S_ISLNK(st.st_mode):
                    desc += " -> " + os.readlink(path)
                found[path] = desc
    return found


def mountpoints() -> list[str]:
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        return [line.split()[4] for line in f]


def teardown(work: Path, scenario: str) -> dict[str, Any]:
    microk8s = scenario == "microk8s"
    isolate(work, whole_var=microk8s)
    empty = work / "no-cgroups"
    empty.mkdir()
    os.environ["NODEDOCTOR_CGROUP_ROOT"] = str(empty)  # no cgroup of the host is planned
    if microk8s:
        # The snap's data directory: ${SNAP_DATA} is /var/snap/microk8s/<revision>, with
        # "current" linking to it; ${SNAP_COMMON} is /var/snap/microk8s/common.
        os.makedirs("/var/snap/microk8s/6089")
        os.symlink("6089", "/var/snap/microk8s/current")
        conf_dir = "/var/snap/microk8s/current/args/cni-network"
        state = {
            "calico-lib": "/var/snap/microk8s/current/var/lib/calico",
            "calico-run": "/var/snap/microk8s/current/var/run/calico",
            "flannel-run": "/var/snap/microk8s/common/run/flannel",
        }
        cni_lib = "/var/snap/microk8s/current/var/lib/cni"
        kubelet_dir = "/var/snap/microk8s/common/var/lib/kubelet"
    else:
        conf_dir = "/etc/cni/net.d"
        state = {
            "calico-lib": "/var/lib/calico",
            "calico-run": "/run/calico",
            "flannel-run": "/run/flannel",
        }
        cni_lib = "/var/lib/cni"
        kubelet_dir = "/var/lib/kubelet"
    build_files(work, conf_dir, state)
    if not microk8s:
        build_kubeadm(work)
    added = build_network(state, cni_lib)
    build_rules()
    pod = build_pod(kubelet_dir)
    watched = [conf_dir, "/etc/kubernetes", "/var/lib/etcd", cni_lib, kubelet_dir, *state.values()]
    report: dict[str, Any] = {
        "bridge_add": added,
        "pod": pod,
        "conf_dir": conf_dir,
        "cni_lib": cni_lib,
        "state": state,
    }
    report["before"] = {
        "tree": tree(watched),
        "rules": rules_state(),
        "links": links(),
        "mounts": mountpoints(),
    }
    report["check"] = cli_json(
        "check", "--format", "json", "--fail-on", "info", "--only", "NodeTeardownLeftovers"
    )
    report["plan"] = cli_json("clean", "--format", "json")
    report["apply"] = cli_json("clean", "--apply", "--yes", "--format", "json")
    report["after"] = {
        "tree": tree(watched),
        "rules": rules_state(),
        "links": links(),
        "mounts": mountpoints(),
    }
    report["check_after"] = cli_json(
        "check", "--format", "json", "--fail-on", "info", "--only", "NodeTeardownLeftovers"
    )
    report["again"] = cli_json("clean", "--apply", "--yes", "--format", "json")
    report["journal"] = cli_json("journal", "--format", "json")
    journal_id = (report["apply"][1] or {}).get("journal")
    report["rollback"] = cli_json("rollback", str(journal_id), "--format", "json")
    report["restored"] = {"tree": tree(watched), "rules": rules_state(), "links": links()}
    report["rollback_again"] = run_cli("rollback", str(journal_id))
    return report


def running(work: Path) -> dict[str, Any]:
    """A running kubelet whose Flannel gave this node 10.244.1.0/24, while cni0 still has
    the address of an earlier cluster's subnet (10.244.9.0/24)."""
    isolate(work, whole_var=False)
    os.environ["NODEDOCTOR_CGROUP_ROOT"] = str(work)
    kubelet = work / "kubelet"
    shutil.copy2(shutil.which("sleep") or "/bin/sleep", kubelet)
    proc = subprocess.Popen([str(kubelet), "300"], stdin=subprocess.DEVNULL)
    try:
        put("/etc/cni/net.d/10-flannel.conflist", (DATA / "10-flannel.conflist").read_bytes())
        put("/run/flannel/subnet.env", SUBNET_ENV)
        put("/var/lib/calico/nodename", "worker-1")
        sh("iptables-legacy-restore", str(DATA / "kube-proxy-flannel.iptables"))
        sh("ip", "netns", "add", NETNS)
        old = dict(FLANNEL_DELEGATE)
        old["ipam"] = {**FLANNEL_IPAM, "ranges": [[{"subnet": "10.244.9.0/24"}]]}
        report: dict[str, Any] = {"old_add": cni_add(old, "0ld0ld0ld", "eth0")}
        sh("ip", "link", "add", "flannel.1", "type", "vxlan", "id", "1", "dstport", "8472")
        report["check"] = cli_json(
            "check", "--format", "json", "--fail-on", "info", "--only", "NodeTeardownLeftovers"
        )
        report["plan"] = cli_json("clean", "--format", "json")
        # The bridge plugin itself, for the next pod of the running cluster.
        report["new_add"] = cni_add(FLANNEL_DELEGATE, "ne11ne11ne11", "eth1")
        sh("ip", "link", "delete", "cni0")  # the fix
        report["check_fixed"] = cli_json(
            "check", "--format", "json", "--fail-on", "info", "--only", "NodeTeardownLeftovers"
        )
        report["fixed_add"] = cni_add(FLANNEL_DELEGATE, "f1xedf1xed", "eth2")
        report["check_healthy"] = cli_json(
            "check", "--format", "json", "--fail-on", "info", "--only", "NodeTeardownLeftovers"
        )
    finally:
        proc.kill()
        proc.wait()
    return report


def main() -> int:
    scenario, work_arg = sys.argv[1:3]
    work = Path(work_arg)
    report = running(work) if scenario == "running" else teardown(work, scenario)
    sys.stdout.write(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
