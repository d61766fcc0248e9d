"""What the kubelet uses for a setting nothing sets, by version (k/k
pkg/kubelet/apis/config/v1beta1/defaults.go, pkg/features/kube_features.go)."""

from __future__ import annotations

from nodedoctor.facts.kubelet.model import DRIVER_FROM_CRI_GATE, Setting
from nodedoctor.facts.versions import Version
from nodedoctor.model import Evidence


def default_setting(name: str, version: Version | None, profile: str | None) -> Setting | None:
    v = f"kubelet {version.release[0]}.{version.release[1]}" if version else "the kubelet"

    def make(value: object, why: str) -> Setting:
        return Setting(name=name, value=value, evidence=Evidence("default", why), origin="default")

    if name == "cgroupDriver":
        note = " (MicroK8s sets none)" if profile == "microk8s" else ""
        return make("cgroupfs", f"cgroupDriver is not set; {v} defaults to cgroupfs{note}")
    if name == "cgroupsPerQOS":
        return make(True, f"cgroupsPerQOS is not set; {v} defaults to true")
    if name == "cgroupRoot":
        return make("", f"cgroupRoot is not set; {v} uses / when cgroupsPerQOS is true")
    if name == "enforceNodeAllocatable":
        return make(["pods"], f"enforceNodeAllocatable is not set; {v} defaults to [pods]")
    if name in ("systemReservedCgroup", "kubeReservedCgroup"):
        return make("", f"{name} is not set (empty by default)")
    if name == "failSwapOn":
        return make(True, f"failSwapOn is not set; {v} defaults to true")
    if name == "memorySwap.swapBehavior":
        return make("", f"memorySwap.swapBehavior is not set; {v} uses NoSwap")
    if name == "failCgroupV1":
        if version is None:
            return None  # false on 1.31-1.34, true from 1.35: unknown without the version
        if version >= (1, 35):
            return make(True, f"failCgroupV1 is not set; {v} defaults to true (KEP-5573)")
        if version >= (1, 31):
            return make(False, f"failCgroupV1 is not set; {v} defaults to false")
        return make(False, f"{v} predates failCgroupV1 (added in 1.31) and runs on cgroup v1")
    if name == "containerRuntimeEndpoint":
        if version is not None and version < (1, 24):
            return None  # dockershim era: no single default endpoint
        return make(
            "unix:///run/containerd/containerd.sock",
            f"containerRuntimeEndpoint is not set; {v} defaults to "
            "unix:///run/containerd/containerd.sock",
        )
    return None


def gate_default(version: Version | None) -> Setting | None:
    """``KubeletCgroupDriverFromCRI`` by version (k/k pkg/features/kube_features.go)."""
    if version is None or version < (1, 28):
        return None
    v = f"kubelet {version.release[0]}.{version.release[1]}"
    if version >= (1, 34):
        value, why = True, f"{DRIVER_FROM_CRI_GATE} is GA and locked on in {v}"
    elif version >= (1, 31):
        value, why = True, f"{DRIVER_FROM_CRI_GATE} is beta and on by default in {v}"
    else:
        value, why = False, f"{DRIVER_FROM_CRI_GATE} is alpha and off by default in {v}"
    return Setting(
        name=DRIVER_FROM_CRI_GATE, value=value, evidence=Evidence("default", why), origin="default"
    )
