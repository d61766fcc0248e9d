"""KubeletConfiguration files as kubeadm, Kubespray and k3s write them."""

from __future__ import annotations

import pytest

from nodedoctor.parsers import ParseError
from nodedoctor.parsers.kubelet import parse_k3s_config, parse_kubelet_config
from tests.helpers import ROOTS

KUBEADM = ROOTS / "kubeadm-healthy-v2/root/var/lib/kubelet/config.yaml"

# Kubespray's roles/kubernetes/node/templates/kubelet-config.v1beta1.yaml.j2 rendered: Jinja
# prints Python booleans ("True"), and the template spaces one key before its colon.
KUBESPRAY = """\
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
nodeStatusUpdateFrequency: "10s"
failSwapOn: True
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: True
staticPodPath: /etc/kubernetes/manifests
cgroupDriver: systemd
containerRuntimeEndpoint : unix:///var/run/containerd/containerd.sock
kubeReservedCgroup: /kube.slice
enforceNodeAllocatable:
- pods
- kube-reserved
"""


def test_kubeadm_config_keys_have_their_lines() -> None:
    cfg = parse_kubelet_config(KUBEADM.read_text())
    assert cfg.kind == "KubeletConfiguration"
    assert cfg.api_version == "kubelet.config.k8s.io/v1beta1"
    driver = cfg.get("cgroupDriver")
    assert driver is not None
    assert (driver.value, driver.line, driver.text) == ("systemd", 15, "cgroupDriver: systemd")
    # kubeadm writes an empty endpoint; the kubelet's defaulting replaces it.
    endpoint = cfg.get("containerRuntimeEndpoint")
    assert endpoint is not None
    assert endpoint.value == ""
    assert cfg.get("authentication.x509.clientCAFile") is not None
    swap = cfg.get("memorySwap")
    assert swap is not None
    assert swap.value == {}


def test_kubespray_config_python_booleans_and_spaced_colon() -> None:
    cfg = parse_kubelet_config(KUBESPRAY)
    assert cfg.get("failSwapOn").value is True  # type: ignore[union-attr]
    endpoint = cfg.get("containerRuntimeEndpoint")
    assert endpoint is not None
    assert endpoint.value == "unix:///var/run/containerd/containerd.sock"
    assert endpoint.line == 12
    assert cfg.get("enforceNodeAllocatable").value == ["pods", "kube-reserved"]  # type: ignore[union-attr]


def test_json_config() -> None:
    cfg = parse_kubelet_config(
        '{"kind": "KubeletConfiguration",\n "cgroupDriver": "cgroupfs",\n'
        ' "featureGates": {"KubeletCgroupDriverFromCRI": false}}\n'
    )
    assert cfg.get("cgroupDriver").line == 2  # type: ignore[union-attr]
    assert cfg.children("featureGates")["KubeletCgroupDriverFromCRI"].value is False


def test_empty_file_is_an_empty_configuration() -> None:
    cfg = parse_kubelet_config("# nothing yet\n")
    assert cfg.entries == {}
    assert cfg.kind is None


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("cgroupDriver: systemd\n\tcgroupsPerQOS: false\n", 2),  # a tab indents
        ("- cgroupDriver\n- systemd\n", 1),  # not a mapping
        ("cgroupDriver: systemd\nfeatureGates: {A: true\n", 3),  # unclosed flow mapping
        ("a: 1\n---\nb: 2\n", 2),  # two documents
    ],
)
def test_malformed_config_names_the_line(text: str, line: int) -> None:
    with pytest.raises(ParseError) as err:
        parse_kubelet_config(text)
    assert err.value.line == line


def test_k3s_kubelet_arg_list_and_string() -> None:
    listed = parse_k3s_config(
        'token: K10abc::server:def\nkubelet-arg:\n  - "cgroup-driver=cgroupfs"\n'
        "  - --max-pods=250\nnode-label:\n  - role=edge\n"
    )
    assert [(a.word, a.line) for a in listed.kubelet_args] == [
        ("--cgroup-driver=cgroupfs", 3),
        ("--max-pods=250", 4),
    ]
    single = parse_k3s_config('kubelet-arg: "fail-swap-on=false"\n')
    assert [a.word for a in single.kubelet_args] == ["--fail-swap-on=false"]
    assert parse_k3s_config("").kubelet_args == ()


def test_k3s_malformed() -> None:
    with pytest.raises(ParseError) as err:
        parse_k3s_config("kubelet-arg:\n  - {a: b}\n")
    assert err.value.line == 2
