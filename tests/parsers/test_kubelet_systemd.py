"""systemd units, drop-ins and environment files as kubeadm and Kubespray install them."""

from __future__ import annotations

import pytest

from nodedoctor.parsers import ParseError
from nodedoctor.parsers.systemd_unit import (
    expand_exec,
    merge_service,
    parse_environment_file,
    parse_unit_file,
    split_words,
)
from tests.helpers import ROOTS, case_root

KUBEADM = ROOTS / "kubeadm-healthy-v2/root"
KUBESPRAY = case_root("kubepods-invalid/bad-kubespray-kube-reserved-cgroup-missing")


def test_kubeadm_unit_and_drop_in() -> None:
    base = parse_unit_file((KUBEADM / "usr/lib/systemd/system/kubelet.service").read_text())
    drop = parse_unit_file(
        (KUBEADM / "usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf").read_text()
    )
    svc = merge_service([("kubelet.service", base), ("10-kubeadm.conf", drop)])
    assert [p.assignment.value for p in svc.exec_start] == [
        "/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS "
        "$KUBELET_EXTRA_ARGS"
    ]
    assert svc.environment["KUBELET_CONFIG_ARGS"][0] == "--config=/var/lib/kubelet/config.yaml"
    assert [(p, opt) for p, opt, _ in svc.environment_files] == [
        ("/var/lib/kubelet/kubeadm-flags.env", True),
        ("/etc/default/kubelet", True),
    ]
    assert svc.delegate is None


def test_kubespray_unit_continuation_lines() -> None:
    unit = parse_unit_file((KUBESPRAY / "etc/systemd/system/kubelet.service").read_text())
    (exec_start,) = unit.values("Service", "ExecStart")
    assert exec_start.line == 9
    assert split_words(exec_start.value)[:3] == [
        "/usr/local/bin/kubelet",
        "$KUBE_LOGTOSTDERR",
        "$KUBE_LOG_LEVEL",
    ]
    assert exec_start.text.count("\n") == 11


def test_kubespray_env_file_multiline_value() -> None:
    env = parse_environment_file((KUBESPRAY / "etc/kubernetes/kubelet.env").read_text())
    args = env["KUBELET_ARGS"]
    assert args.line == 6
    assert args.value.split() == [
        "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
        "--config=/etc/kubernetes/kubelet-config.yaml",
        "--kubeconfig=/etc/kubernetes/kubelet.conf",
        "--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock",
        "--runtime-cgroups=/kube.slice/containerd.service",
    ]
    assert args.locate("--config=/etc/kubernetes/kubelet-config.yaml") == (
        7,
        "--config=/etc/kubernetes/kubelet-config.yaml \\",
    )
    assert env["KUBELET_CLOUDPROVIDER"].value == ""
    assert env["PATH"].line == 14


def test_env_file_quoting() -> None:
    env = parse_environment_file(
        'A=\'--x="y" $HOME\'\nB="a\\"b\\\\c"\nexport C=plain value  \n; comment\n'
    )
    assert env["A"].value == '--x="y" $HOME'
    assert env["B"].value == 'a"b\\c'
    assert env["C"].value == "plain value"


@pytest.mark.parametrize(
    ("text", "line"),
    [('KUBELET_EXTRA_ARGS="--v=2\nOTHER=1\n', 1), ("good=1\n--cgroup-driver=systemd\n", 2)],
)
def test_env_file_errors(text: str, line: int) -> None:
    with pytest.raises(ParseError) as err:
        parse_environment_file(text)
    assert err.value.line == line


def test_unit_file_is_lenient_like_systemd() -> None:
    unit = parse_unit_file("Delegate=yes\n[Service]\nno equals sign\n[Service\nExecStart=/x\n")
    assert [(a.section, a.key) for a in unit.assignments] == [("Service", "ExecStart")]
    assert [line for line, _ in unit.ignored] == [1, 3, 4]


def test_resets() -> None:
    a = parse_unit_file(
        "[Service]\nEnvironment=A=1 B=2\nEnvironmentFile=/etc/a\nExecStart=/bin/a\nDelegate=no\n"
    )
    b = parse_unit_file(
        "[Service]\nEnvironment=\nEnvironment=B=3\nEnvironmentFile=\nExecStart=\n"
        "ExecStart=/bin/b\nDelegate=yes\n"
    )
    svc = merge_service([("a", a), ("b", b)])
    assert {k: v for k, (v, _) in svc.environment.items()} == {"B": "3"}
    assert svc.environment_files == ()
    assert [p.assignment.value for p in svc.exec_start] == ["/bin/b"]
    assert svc.delegate is not None
    assert svc.delegate.path == "b"


def test_expand_exec() -> None:
    words = expand_exec(
        "-/usr/bin/kubelet $EMPTY $ARGS ${ONE} --literal", {"ARGS": " --a=1\t--b ", "ONE": "x y"}
    )
    assert [(w.word, w.variable) for w in words] == [
        ("/usr/bin/kubelet", None),
        ("--a=1", "ARGS"),
        ("--b", "ARGS"),
        ("x y", "ONE"),
        ("--literal", None),
    ]
