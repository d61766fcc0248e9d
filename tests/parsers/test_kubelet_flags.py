"""Kubelet flags as pflag reads them, and MicroK8s's args file as kubelite reads it."""

from __future__ import annotations

from nodedoctor.parsers.kubelet import (
    parse_bool,
    parse_feature_gates,
    parse_kubelet_flags,
    parse_microk8s_args,
    split_list,
)
from tests.helpers import ROOTS

MICROK8S_ARGS = ROOTS / "microk8s-1.29-workaround-left/root/var/snap/microk8s/current/args/kubelet"


def test_bool_flags_never_take_the_next_word() -> None:
    flags = parse_kubelet_flags(["--cgroups-per-qos", "false", "--v", "2"])
    per_qos = flags.last("cgroups-per-qos")
    assert per_qos is not None
    assert per_qos.value == "true"
    assert not per_qos.explicit
    # pflag leaves "false" as an argument, which the kubelet refuses.
    assert flags.positional == ((1, "false"),)
    v = flags.last("v")
    assert v is not None
    assert v.value == "2"
    assert (v.index, v.end) == (2, 4)


def test_last_occurrence_wins_and_double_dash_ends_flags() -> None:
    flags = parse_kubelet_flags(
        ["--cgroup-driver=systemd", "-v=4", "--cgroup-driver=cgroupfs", "--", "--fail-swap-on"]
    )
    driver = flags.last("cgroup-driver")
    assert driver is not None
    assert driver.value == "cgroupfs"
    assert driver.index == 2
    assert flags.last("v").value == "4"  # type: ignore[union-attr]
    assert flags.last("fail-swap-on") is None
    assert flags.positional == ((4, "--fail-swap-on"),)


def test_empty_values() -> None:
    flags = parse_kubelet_flags(["--enforce-node-allocatable=", "--cgroup-root"])
    assert flags.last("enforce-node-allocatable").value == ""  # type: ignore[union-attr]
    assert split_list("") == []
    # A value-taking flag at the end has no value: pflag fails with "flag needs an argument".
    root = flags.last("cgroup-root")
    assert root is not None
    assert root.value == ""
    assert not root.explicit


def test_feature_gates_and_booleans() -> None:
    assert parse_feature_gates("KubeletCgroupDriverFromCRI=false,NodeSwap=True") == {
        "KubeletCgroupDriverFromCRI": False,
        "NodeSwap": True,
    }
    assert parse_feature_gates("A=maybe,=true,B") == {}
    assert [parse_bool(x) for x in ("t", "F", "0", "TRUE", "yes")] == [
        True,
        False,
        False,
        True,
        None,
    ]


def test_microk8s_args_file_as_kubelite_reads_it() -> None:
    words = parse_microk8s_args(MICROK8S_ARGS.read_text())
    texts = [w.word for w in words]
    assert texts[0] == "--kubeconfig=${SNAP_DATA}/credentials/kubelet.config"
    # quotes are removed from the whole line
    assert (
        "--eviction-hard=memory.available<100Mi,nodefs.available<1Gi,imagefs.available<1Gi" in texts
    )
    assert texts[-2:] == ["--cgroups-per-qos=false", "--enforce-node-allocatable="]
    last = words[-1]
    assert last.line == 18
    assert last.text == '--enforce-node-allocatable=""'
    flags = parse_kubelet_flags(texts)
    assert flags.last("fail-swap-on").value == "false"  # type: ignore[union-attr]
    assert flags.positional == ()


def test_microk8s_args_comments_and_spaces() -> None:
    words = parse_microk8s_args("  # --cgroups-per-qos=false\n--v=2 --x='a b'\n\n")
    assert [(w.word, w.line) for w in words] == [("--v=2", 2), ("--x=a", 2), ("b", 2)]
