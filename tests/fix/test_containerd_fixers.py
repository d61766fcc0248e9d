"""The containerd remedies on node roots, with the real containerd loading what they write.

Each root is the healthy kubeadm 1.33 node (tests/roots/kubeadm-healthy-v2) with containerd
1.6 from Debian instead of 2.1 (the dpkg stanza of this machine's own ``containerd``
package) and a different ``/etc/containerd/config.toml``: the real ``containerd config
default`` output (generated here), Docker's ``containerd.io`` file, and that file with a v2
table appended by hand. The finding is given to the planner directly, with the remedy its
rule plans on the root's facts. After ``fix --apply`` the real containerd
starts on the written file with the intended settings, a second plan is empty, and
rollback restores the root byte for byte.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from nodedoctor.facts import Facts
from nodedoctor.fix import engine, undo
from nodedoctor.fix.journal import find
from nodedoctor.fix.planner import build_plan
from nodedoctor.sources.root import directory_root
from tests import realcontainerd
from tests.fix.helpers import finding_on, snapshot

REPO = Path(__file__).parents[2]
HEALTHY = REPO / "tests/roots/kubeadm-healthy-v2/root"
DATA = Path(__file__).parent / "data"
CONFIG = "etc/containerd/config.toml"
V2 = ["plugins", "io.containerd.grpc.v1.cri", "containerd", "runtimes", "runc", "options"]

pytestmark = [pytest.mark.system, realcontainerd.requires_daemon]


def _debian_containerd_stanza() -> str:
    status = Path("/var/lib/dpkg/status").read_text(encoding="utf-8")
    for stanza in status.split("\n\n"):
        if stanza.startswith("Package: containerd\n"):
            return stanza.strip() + "\n"
    pytest.skip("the Debian containerd package is not installed")


def _root(tmp_path: Path, config: str) -> Path:
    root = tmp_path / "root"
    shutil.copytree(HEALTHY, root, symlinks=True)
    status = root / "var/lib/dpkg/status"
    status.write_text(
        status.read_text(encoding="utf-8").rstrip("\n") + "\n\n" + _debian_containerd_stanza(),
        encoding="utf-8",
    )
    (root / CONFIG).write_text(config, encoding="utf-8")
    return root


def _get(data: dict[str, Any], path: list[str]) -> Any:
    for part in path:
        data = data[part]
    return data


def _fix(root: Path, rules: list[str]) -> engine.ApplyResult:
    r = directory_root(str(root))
    plan = build_plan(Facts(r), [finding_on(root, rule) for rule in rules])
    assert not plan.refusals, plan.refusals
    assert plan.steps, "nothing planned"
    result = engine.apply(r, plan)
    again = build_plan(Facts(directory_root(str(root))), [finding_on(root, rule) for rule in rules])
    assert not again.steps, [s.path for s in again.steps]
    return result


def _loads(root: Path, tmp_path: Path, systemd: bool) -> None:
    config = root / CONFIG
    dump = realcontainerd.effective_config(config)
    assert _get(dump, [*V2, "SystemdCgroup"]) is systemd
    assert dump.get("disabled_plugins", []) == []
    started = realcontainerd.start(config, tmp_path / "run")
    assert started.ok, started.log[-2000:]
    assert started.status("io.containerd.grpc.v1.cri") == "ok", started.plugins


def test_driver_mismatch_on_the_real_default_config(tmp_path: Path) -> None:
    default = realcontainerd.config_default()
    root = _root(tmp_path, default)
    before = snapshot(root)
    _fix(root, ["cgroup-driver-mismatch"])
    after = (root / CONFIG).read_text()
    assert after == default.replace("SystemdCgroup = false", "SystemdCgroup = true")
    _loads(root, tmp_path, systemd=True)
    r = directory_root(str(root))
    undo.rollback(r, find(r, None))
    assert snapshot(root) == before


def test_docker_file_cri_enabled_and_driver_set(tmp_path: Path) -> None:
    docker = (DATA / "docker-containerd.io.toml").read_text()
    root = _root(tmp_path, docker)
    before = snapshot(root)
    _fix(root, ["containerd-cri-disabled", "cgroup-driver-mismatch"])
    after = (root / CONFIG).read_text()
    assert 'disabled_plugins = ["cri"]' not in after
    assert "disabled_plugins = []" in after
    # A version-1 file: the table goes under the short plugin name, no version line added.
    assert "[plugins.cri.containerd.runtimes.runc.options]" in after
    assert not re.search(r"^version", after, re.MULTILINE)
    assert after.startswith(docker.split("disabled_plugins")[0])  # comments untouched
    _loads(root, tmp_path, systemd=True)
    r = directory_root(str(root))
    undo.rollback(r, find(r, None))
    assert snapshot(root) == before


def test_v2_table_in_a_version_1_file_gets_version_2_once_safe(tmp_path: Path) -> None:
    """Docker's file with a v2 table appended by hand: containerd 1.x ignores the table.
    After ``cri`` leaves disabled_plugins (planned first, in the same plan), version = 2 is
    safe and makes containerd read the table."""
    docker = (DATA / "docker-containerd.io.toml").read_text()
    appended = docker + (
        '\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n'
        "  SystemdCgroup = true\n"
    )
    # Even with CRI enabled, containerd 1.6 ignores the v2 table of a version-1 file.
    enabled = _write(tmp_path / "x.toml", appended.replace('["cri"]', "[]"))
    assert _get(realcontainerd.effective_config(enabled), [*V2, "SystemdCgroup"]) is False
    root = _root(tmp_path, appended)
    _fix(root, ["containerd-cri-disabled", "containerd-config-ignored"])
    after = (root / CONFIG).read_text()
    assert re.search(r"^version = 2$", after, re.MULTILINE)
    _loads(root, tmp_path, systemd=True)


def test_version_2_refused_while_cri_stays_disabled(tmp_path: Path) -> None:
    docker = (DATA / "docker-containerd.io.toml").read_text()
    appended = docker + (
        '\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n'
        "  SystemdCgroup = true\n"
    )
    root = _root(tmp_path, appended)
    plan = build_plan(
        Facts(directory_root(str(root))), [finding_on(root, "containerd-config-ignored")]
    )
    assert not plan.steps
    (refusal,) = plan.refusals
    assert "disabled_plugins uses a short plugin name" in refusal.reason
    assert refusal.path == "/etc/containerd/config.toml"


def test_unparseable_config_is_refused(tmp_path: Path) -> None:
    root = _root(tmp_path, 'version = 2\n[plugins."io.containerd.grpc.v1.cri"\n')
    before = snapshot(root)
    plan = build_plan(
        Facts(directory_root(str(root))), [finding_on(root, "cgroup-driver-mismatch")]
    )
    assert not plan.steps
    assert plan.refusals
    assert snapshot(root) == before


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


MICROK8S = REPO / "tests/roots/microk8s-default-layout/root"
K3S = REPO / "tests/roots/k3s-default-layout/root"
TEMPLATE = "var/snap/microk8s/current/args/containerd-template.toml"
RENDERED = "var/snap/microk8s/current/args/containerd.toml"


def test_microk8s_template_is_edited_never_the_rendered_file(tmp_path: Path) -> None:
    """The kubelet switched to systemd by hand (args/kubelet): containerd follows in the
    template, which MicroK8s renders into containerd.toml on every start."""
    root = tmp_path / "root"
    shutil.copytree(MICROK8S, root, symlinks=True)
    args = root / "var/snap/microk8s/current/args/kubelet"
    args.write_text(args.read_text() + "--cgroup-driver=systemd\n")
    rendered = (root / RENDERED).read_bytes()
    template = (root / TEMPLATE).read_text()
    r = directory_root(str(root))
    plan = build_plan(Facts(r), [finding_on(root, "cgroup-driver-mismatch")])
    assert [s.path for s in plan.steps] == [f"/{TEMPLATE}"]
    assert [" ".join(x.argv) for x in plan.restarts] == ["snap restart microk8s"]
    engine.apply(r, plan)
    assert (root / RENDERED).read_bytes() == rendered
    after = (root / TEMPLATE).read_text()
    # Rendered as MicroK8s's run-containerd-with-args does (sed over the placeholders; the
    # values are the fixture's, see its README), the real containerd loads the result.
    rendered_after = (
        after.replace("${SNAP_DATA}", str(tmp_path / "snapdata"))
        .replace("${RUNTIME}", "runc")
        .replace("${SNAPSHOTTER}", "overlayfs")
    )
    config = _write(tmp_path / "rendered.toml", rendered_after)
    dump = realcontainerd.effective_config(config)
    assert _get(dump, [*V2, "SystemdCgroup"]) is True
    started = realcontainerd.start(config, tmp_path / "run")
    assert started.ok, started.log[-2000:]
    assert started.status("io.containerd.grpc.v1.cri") == "ok", started.plugins
    added = [ln.strip() for ln in after.splitlines() if ln not in template.splitlines()]
    # The runc handler has no options table in this template: it is created (the nvidia
    # handler, of the legacy runtime.v1.linux type, takes no SystemdCgroup and is left alone).
    assert [ln for ln in added if ln] == [
        '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]',
        "SystemdCgroup = true",
    ]


def test_k3s_is_never_flipped_on_one_side(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(K3S, root, symlinks=True)
    before = snapshot(root)
    plan = build_plan(
        Facts(directory_root(str(root))), [finding_on(root, "cgroup-driver-mismatch")]
    )
    assert not plan.steps
    assert not plan.actionable
    (instruction,) = plan.instructions
    assert "never flips only one side of k3s" in instruction.why
    assert snapshot(root) == before
