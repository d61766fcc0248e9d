"""The line editors: only the intended text changes; anything unsafe raises EditError."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from nodedoctor.facts import Facts
from nodedoctor.facts.boot import boot_chain
from nodedoctor.fix.appliers import apply_steps
from nodedoctor.fix.plan import Workspace
from nodedoctor.fix.textedit import (
    EditError,
    TokenChange,
    check_systemd_unit,
    edit_cmdline_lines,
    edit_grub_variable,
    remove_flag,
    remove_yaml_key,
    set_flag_line,
    set_yaml_key,
)
from nodedoctor.model import Finding, Severity
from nodedoctor.remedies.boot import plan_cmdline_edit
from nodedoctor.remedies.boot_steps import cmdline_steps
from nodedoctor.sources.root import directory_root

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
    out = edit_grub_variable(
        text,
        "GRUB_CMDLINE_LINUX",
        1,
        add=[],
        changes=[TokenChange(2, "cgroup_disable=memory", None)],
    )
    assert out == "GRUB_CMDLINE_LINUX='quiet'   # mine\n"


def test_grub_new_assignment_when_unset() -> None:
    out = edit_grub_variable(
        "GRUB_TIMEOUT=5", "GRUB_CMDLINE_LINUX", None, add=["cgroup_enable=memory"], changes=[]
    )
    assert out == 'GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX="cgroup_enable=memory"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX quiet"\n', "shell expansion"),
        ('GRUB_CMDLINE_LINUX="quiet \\\n  splash"\n', "continues on the next line"),
    ],
)
def test_grub_refusals(text: str, message: str) -> None:
    with pytest.raises(EditError, match=message):
        edit_grub_variable(text, "GRUB_CMDLINE_LINUX", 1, add=["cgroup_enable=memory"], changes=[])


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
            "console=serial0,115200",
            "cgroup_enable=memory",
            "cgroup_disable=memory",
            "cgroup_disable=memory,cpuset",
            "cgroup_enable=cpuset",
            "cgroup_memory=1",
        ]
    ),
    min_size=1,
    max_size=10,
)


def _enabled(tokens: list[str], controller: str) -> bool:
    """Last word wins; the Pi firmware puts cgroup_disable=memory before the file."""
    state = False
    for t in ["cgroup_disable=memory", *tokens]:
        key, _, value = t.partition("=")
        if key in ("cgroup_enable", "cgroup_disable") and controller in value.split(","):
            state = key == "cgroup_enable"
    return state


@settings(max_examples=60, deadline=None)
@given(TOKENS, st.lists(TOKENS, max_size=2))
def test_pi_cmdline_fix_end_to_end(first: list[str], later: list[list[str]]) -> None:
    """remedies/boot.py plans the edit of a (possibly split) cmdline.txt and the appliers
    carry out its steps: the result is one line on which memory is on after the firmware's
    disable, every other word keeps its order, and a second plan changes nothing."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "proc/device-tree").mkdir(parents=True)
        (root / "proc/device-tree/model").write_text("Raspberry Pi 4 Model B Rev 1.4\x00")
        (root / "boot/firmware").mkdir(parents=True)
        text = "\n".join(" ".join(line) for line in [first, *later]) + "\n"
        (root / "boot/firmware/cmdline.txt").write_text(text)
        facts = Facts(directory_root(str(root)))
        chain = facts.get(boot_chain)
        edit = plan_cmdline_edit(chain, ["memory"])
        assert edit is not None
        ws = Workspace(facts)
        if not edit.empty:
            rule = "cgroup-controller-disabled"
            apply_steps(ws, cmdline_steps(edit, chain), Finding(rule, Severity.ERROR, rule, ""))
        out = ws.read_text("/boot/firmware/cmdline.txt")
        assert out is not None
        assert len([ln for ln in out.splitlines() if ln.strip()]) == 1
        words = out.split()
        assert _enabled(words, "memory")
        every = [w for line in [first, *later] for w in line]
        others = [w for w in every if not w.startswith("cgroup_")]
        assert [w for w in words if not w.startswith("cgroup_")] == others
        (root / "boot/firmware/cmdline.txt").write_text(out)
        again = plan_cmdline_edit(boot_chain(Facts(directory_root(str(root)))), ["memory"])
        assert again is not None
        assert again.empty
