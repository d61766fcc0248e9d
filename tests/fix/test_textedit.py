"""The line editors: only the intended text changes; anything unsafe raises EditError."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from nodedoctor.fix.textedit import (
    EditError,
    ParamEdit,
    TokenChange,
    check_systemd_unit,
    edit_cmdline_lines,
    edit_default_grub,
    edit_grub_variable,
    edit_params,
    remove_flag,
    remove_yaml_key,
    set_flag_line,
    set_yaml_key,
)

KUBELET_YAML = """\
# written by hand on top of kubeadm's file
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs   # was the Docker default
cgroupsPerQOS: false
enforceNodeAllocatable:
- pods
- system-reserved
systemReservedCgroup: /system.slice
"""


def test_yaml_set_keeps_comments_and_other_lines() -> None:
    out = set_yaml_key(KUBELET_YAML, "cgroupDriver", "systemd")
    assert out == KUBELET_YAML.replace(
        "cgroupDriver: cgroupfs   # was", "cgroupDriver: systemd   # was"
    )


def test_yaml_remove_block_value() -> None:
    out = remove_yaml_key(KUBELET_YAML, "enforceNodeAllocatable")
    assert "- pods" not in out
    assert "systemReservedCgroup: /system.slice" in out
    assert yaml.safe_load(out)["cgroupsPerQOS"] is False


def test_yaml_append_when_absent() -> None:
    text = "kind: KubeletConfiguration\napiVersion: kubelet.config.k8s.io/v1beta1\n"
    assert set_yaml_key(text, "cgroupDriver", "systemd").endswith("cgroupDriver: systemd\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"kind": "KubeletConfiguration", "cgroupDriver": "cgroupfs"}\n', "flow-style"),
        ("kind: A\n---\nkind: B\n", "several YAML documents"),
        ("kind: [\n", "not valid YAML"),
        ("- a\n- b\n", "not a YAML mapping"),
        ("cgroupDriver:\n  nested: x\n", "block value"),
    ],
)
def test_yaml_refusals(text: str, message: str) -> None:
    with pytest.raises(EditError, match=message):
        set_yaml_key(text, "cgroupDriver", "systemd")


def test_kubeadm_flags_env() -> None:
    text = (
        'KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///var/run/containerd/'
        "containerd.sock --cgroups-per-qos=false --pod-infra-container-image=registry.k8s.io/"
        'pause:3.10"\n'
    )
    out = remove_flag(text, "--cgroups-per-qos")
    assert out == text.replace(" --cgroups-per-qos=false", "")


def test_kubespray_env_with_line_continuations() -> None:
    text = (
        'KUBELET_ARGS="--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf \\\n'
        "--config=/etc/kubernetes/kubelet-config.yaml \\\n"
        "--cgroups-per-qos=false \\\n"
        '--enforce-node-allocatable="" \\\n'
        '--kubeconfig=/etc/kubernetes/kubelet.conf"\n'
    )
    out = remove_flag(remove_flag(text, "--cgroups-per-qos"), "--enforce-node-allocatable")
    assert out == (
        'KUBELET_ARGS="--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf \\\n'
        "--config=/etc/kubernetes/kubelet-config.yaml \\\n"
        '--kubeconfig=/etc/kubernetes/kubelet.conf"\n'
    )


def test_flag_in_a_comment_is_kept() -> None:
    text = "# --cgroups-per-qos=false was here\n--v=2\n"
    assert remove_flag(text, "--cgroups-per-qos") == text


def test_flag_prefix_is_not_matched() -> None:
    text = "--cgroups-per-qos-extra=1\n"
    assert remove_flag(text, "--cgroups-per-qos") == text


def test_set_flag_line_twice_is_refused() -> None:
    with pytest.raises(EditError, match="several lines"):
        set_flag_line("--cgroup-driver=a\n--cgroup-driver=b\n", "--cgroup-driver", "systemd")


def test_grub_single_quotes_and_comment() -> None:
    text = "GRUB_CMDLINE_LINUX='quiet cgroup_disable=memory'   # mine\n"
    out = edit_default_grub(text, ParamEdit(remove=("cgroup_disable=memory",)))
    assert out == "GRUB_CMDLINE_LINUX='quiet'   # mine\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX quiet"\n', "shell expansion"),
        ('GRUB_CMDLINE_LINUX="quiet \\\n  splash"\n', "continues on the next line"),
    ],
)
def test_grub_refusals(text: str, message: str) -> None:
    with pytest.raises(EditError, match=message):
        edit_default_grub(text, ParamEdit(enable=("memory",)))


def test_grub_variable_position_must_match() -> None:
    with pytest.raises(EditError, match="is not 'cgroup_disable=memory' any more"):
        edit_grub_variable(
            'GRUB_CMDLINE_LINUX="quiet"\n',
            "GRUB_CMDLINE_LINUX",
            1,
            add=[],
            changes=[TokenChange(1, "cgroup_disable=memory", None)],
        )


def test_cmdline_keeps_quotes_and_one_line() -> None:
    text = 'console=tty1 dyndbg="file x.c +p" rootwait\n'
    out = edit_cmdline_lines(text, add=["cgroup_enable=memory"], changes=[], add_line=1, join=False)
    assert out == 'console=tty1 dyndbg="file x.c +p" rootwait cgroup_enable=memory\n'


def test_cmdline_replacement_keeps_other_controllers() -> None:
    text = "a cgroup_disable=memory,cpuset b\n"
    out = edit_cmdline_lines(
        text,
        add=[],
        changes=[TokenChange(2, "cgroup_disable=memory,cpuset", "cgroup_disable=cpuset")],
        add_line=1,
        join=False,
    )
    assert out == "a cgroup_disable=cpuset b\n"


def test_systemd_unit_check() -> None:
    check_systemd_unit("# c\n[Service]\nDelegate=yes\n")
    with pytest.raises(EditError):
        check_systemd_unit("Delegate=yes\n")


TOKENS = st.lists(
    st.sampled_from(
        [
            "quiet",
            "rootwait",
            "console=tty1",
            "cgroup_enable=memory",
            "cgroup_disable=memory",
            "cgroup_disable=memory,cpuset",
            "cgroup_enable=cpuset",
            "cgroup_disable=cpuset",
        ]
    ),
    max_size=12,
)


def _enabled(tokens: list[str], controller: str) -> bool:
    """Last word wins; the Pi firmware's cgroup_disable=memory comes before the file."""
    state = controller != "memory"
    for t in ["cgroup_disable=memory", *tokens]:
        key, _, value = t.partition("=")
        if key in ("cgroup_enable", "cgroup_disable") and controller in value.split(","):
            state = key == "cgroup_enable"
    return state


@given(TOKENS, st.sampled_from(["memory", "cpuset"]))
def test_enable_always_wins_and_keeps_the_rest(tokens: list[str], controller: str) -> None:
    out = edit_params(tokens, ParamEdit(enable=(controller,)))
    assert _enabled(out, controller)
    unrelated = [t for t in tokens if not t.startswith("cgroup_")]
    assert [t for t in out if not t.startswith("cgroup_")] == unrelated
    assert edit_params(out, ParamEdit(enable=(controller,))) == out  # idempotent
