"""containerd config edits: format preservation (only the intended lines differ) and the
REAL containerd (the Debian package installed here) loading every edited file.

Inputs: the real ``containerd config default`` output (generated here from the installed
binary), a hand-kept v2 file with comments, a v3 file with single-quoted keys, and Docker's
``containerd.io`` file (tests/fix/data/). For each edited file the real daemon is started
privately (tests/realcontainerd.py) and must start, show the intended ``SystemdCgroup`` and
``disabled_plugins`` in ``containerd config dump``, and list the CRI plugin as ``ok`` in
``ctr plugins ls``. Files the tooling refuses to produce are started too, to show why they
are refused.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from nodedoctor.fix.textedit import EditError
from nodedoctor.fix.tomledit import insert_top_key, remove_from_array, set_key
from tests import realcontainerd

DATA = Path(__file__).parent / "data"
V1 = ["plugins", "cri", "containerd", "runtimes", "runc", "options"]
V2 = ["plugins", "io.containerd.grpc.v1.cri", "containerd", "runtimes", "runc", "options"]
V3 = ["plugins", "io.containerd.cri.v1.runtime", "containerd", "runtimes", "runc", "options"]
Test = TypeVar("Test", bound=Callable[..., None])


def needs_containerd(test: Test) -> Test:
    """A test that starts the real containerd: a system test, skipped where it cannot run."""
    marked: Test = pytest.mark.system(realcontainerd.requires_daemon(test))
    return marked


def changed(before: str, after: str) -> list[str]:
    """The lines a unified diff removes or adds."""
    diff = list(difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm=""))
    return [line for line in diff[2:] if line[:1] in "+-"]


@pytest.fixture(scope="module")
def default_config() -> str:
    if realcontainerd.missing_daemon() is not None:
        pytest.skip(f"real containerd: {realcontainerd.missing_daemon()}")
    return realcontainerd.config_default()


def _get(data: dict[str, Any], path: list[str]) -> Any:
    node: Any = data
    for part in path:
        node = node[part]
    return node


def _assert_loads(tmp_path: Path, text: str, systemd: bool, disabled: list[str]) -> None:
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "config.toml"
    config.write_text(text, encoding="utf-8")
    dump = realcontainerd.effective_config(config)
    assert _get(dump, [*V2, "SystemdCgroup"]) is systemd
    assert dump.get("disabled_plugins", []) == disabled
    started = realcontainerd.start(config, tmp_path / "run")
    assert started.ok, started.log[-2000:]
    assert started.status("io.containerd.grpc.v1.cri") == "ok", started.plugins


@needs_containerd
def test_default_config_false_to_true(default_config: str, tmp_path: Path) -> None:
    assert "SystemdCgroup = false" in default_config  # 1.6/1.7 print the key
    edited = set_key(default_config, V2, "SystemdCgroup", True)
    assert changed(default_config, edited) == [
        "-            SystemdCgroup = false",
        "+            SystemdCgroup = true",
    ]
    _assert_loads(tmp_path, edited, systemd=True, disabled=[])
    assert set_key(edited, V2, "SystemdCgroup", True) == edited  # idempotent


@needs_containerd
def test_default_config_without_the_key_gets_it_inserted(
    default_config: str, tmp_path: Path
) -> None:
    """The 2.0.0-2.0.6 / 2.1.0-2.1.4 trap (the key is absent), on the real 1.6 layout."""
    without = default_config.replace("            SystemdCgroup = false\n", "")
    assert "SystemdCgroup" not in without
    edited = set_key(without, V2, "SystemdCgroup", True)
    assert changed(without, edited) == ["+            SystemdCgroup = true"]
    _assert_loads(tmp_path, edited, systemd=True, disabled=[])


@needs_containerd
def test_commented_config_keeps_every_comment(tmp_path: Path) -> None:
    before = (DATA / "commented-v2.toml").read_text()
    edited = set_key(before, V2, "SystemdCgroup", True)
    assert changed(before, edited) == [
        "-        SystemdCgroup = false  # ops: switch together with the kubelet",
        "+        SystemdCgroup = true  # ops: switch together with the kubelet",
    ]
    _assert_loads(tmp_path, edited, systemd=True, disabled=[])


@needs_containerd
def test_docker_containerd_io_cri_enabled(tmp_path: Path) -> None:
    before = (DATA / "docker-containerd.io.toml").read_text()
    # As shipped, containerd starts but without CRI: the kubeadm/kubelet failure.
    config = tmp_path / "shipped.toml"
    config.write_text(before)
    shipped = realcontainerd.start(config, tmp_path / "shipped")
    assert shipped.ok
    assert "io.containerd.grpc.v1.cri" not in shipped.plugins
    edited = remove_from_array(before, ["disabled_plugins"], ["cri"])
    assert changed(before, edited) == ['-disabled_plugins = ["cri"]', "+disabled_plugins = []"]
    _assert_loads(tmp_path / "a", edited, systemd=False, disabled=[])


@needs_containerd
def test_docker_file_with_systemd_cgroup_via_version_2(tmp_path: Path) -> None:
    """No plugin table and no short plugin name left: adding version = 2 is safe, and the
    v2 table is the one containerd documents."""
    before = (DATA / "docker-containerd.io.toml").read_text()
    edited = remove_from_array(before, ["disabled_plugins"], ["cri"])
    edited = insert_top_key(edited, "version", 2)
    edited = set_key(edited, V2, "SystemdCgroup", True)
    assert changed(before, edited) == [
        '-disabled_plugins = ["cri"]',
        "+version = 2",
        "+disabled_plugins = []",
        "+",
        '+[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]',
        "+  SystemdCgroup = true",
    ]
    _assert_loads(tmp_path, edited, systemd=True, disabled=[])


@needs_containerd
def test_v1_file_uses_the_short_plugin_table(tmp_path: Path) -> None:
    """Without a version line, the table goes under plugins.cri (1.x reads v1 files by
    short plugin ID); containerd reports it under the full name."""
    before = 'disabled_plugins = []\n\n[grpc]\n  address = "/run/containerd/containerd.sock"\n'
    edited = set_key(before, V1, "SystemdCgroup", True)
    assert changed(before, edited) == [
        "+",
        "+[plugins.cri.containerd.runtimes.runc.options]",
        "+  SystemdCgroup = true",
    ]
    _assert_loads(tmp_path, edited, systemd=True, disabled=[])


@needs_containerd
def test_why_version_2_is_not_added_while_cri_is_listed(tmp_path: Path) -> None:
    """What the remedy refuses to write: version = 2 over a short name in disabled_plugins
    (runtimes.md §1.3). The real containerd refuses to start with it."""
    before = (DATA / "docker-containerd.io.toml").read_text()
    naive = insert_top_key(before, "version", 2)
    config = tmp_path / "naive.toml"
    config.write_text(naive)
    started = realcontainerd.start(config, tmp_path / "run")
    assert not started.ok
    assert 'invalid disabled plugin URI "cri" expect io.containerd.x.vx' in started.log


@needs_containerd
def test_broken_toml_is_refused_and_containerd_agrees(tmp_path: Path) -> None:
    broken = 'version = 2\n[plugins."io.containerd.grpc.v1.cri"\n  sandbox_image = "x"\n'
    with pytest.raises(EditError, match="not valid TOML"):
        set_key(broken, V2, "SystemdCgroup", True)
    config = tmp_path / "broken.toml"
    config.write_text(broken)
    started = realcontainerd.start(config, tmp_path / "run")
    assert not started.ok
    assert "failed to load TOML" in started.log


def test_v3_single_quoted_keys_stay_single_quoted() -> None:
    before = (DATA / "v3-single-quoted.toml").read_text()
    edited = set_key(before, V3, "SystemdCgroup", True, literal_keys=True)
    assert changed(before, edited) == ["+            SystemdCgroup = true"]


def test_v3_missing_tables_are_created_with_single_quotes() -> None:
    before = "version = 3\n\n[grpc]\n  address = '/run/containerd/containerd.sock'\n"
    edited = set_key(before, V3, "SystemdCgroup", True, literal_keys=True)
    assert changed(before, edited) == [
        "+",
        "+[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]",
        "+  SystemdCgroup = true",
    ]


def test_inline_table_options() -> None:
    before = (
        'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]\n'
        '  options = { BinaryName = "/usr/bin/runc", SystemdCgroup = false }\n'
    )
    edited = set_key(before, V2, "SystemdCgroup", True)
    assert changed(before, edited) == [
        '-  options = { BinaryName = "/usr/bin/runc", SystemdCgroup = false }',
        '+  options = { BinaryName = "/usr/bin/runc", SystemdCgroup = true }',
    ]


def test_a_key_that_is_not_a_table_is_refused() -> None:
    before = 'version = 2\nplugins = "oops"\n'
    with pytest.raises(EditError, match="is not a table"):
        set_key(before, V2, "SystemdCgroup", True)
