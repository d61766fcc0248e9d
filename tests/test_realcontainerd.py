"""tests/realcontainerd.py runs the machine's real containerd without writing to the host.

The host directories containerd writes by default (``/opt/containerd`` from the ``opt``
plugin, ``/var/lib/containerd`` and ``/run/containerd`` as root and state, ``/etc/cni/net.d``
from the CRI plugin) are listed with every entry's mode, size, mtime and inode before a real
run, while the daemon serves, and after it stopped: the listings must not change. The
daemon's own view (``/proc/PID/root``) shows that it did write: to its private ``/opt`` tmpfs,
and, with a configuration that aims its writes at exactly those host paths, to the overlays'
layers under the test's directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import realcontainerd
from tests.realcontainerd import CRI, RealContainerd

OPT = "io.containerd.internal.v1.opt"
WATCHED = (
    "/opt/containerd",
    "/var/lib/containerd",
    "/run/containerd",
    "/etc/cni",
    "/opt/cni",
    "/var/lib/cni",
)


def host_state(paths: tuple[str, ...]) -> dict[str, dict[str, tuple[int, int, int, int]] | None]:
    """Each path: ``None`` when absent, else every entry at or below it (mode, size,
    mtime_ns, inode), symlinks not followed."""
    state: dict[str, dict[str, tuple[int, int, int, int]] | None] = {}
    for top in paths:
        if not os.path.lexists(top):
            state[top] = None
            continue
        entries: dict[str, tuple[int, int, int, int]] = {}
        stack = [Path(top)]
        while stack:
            path = stack.pop()
            st = path.lstat()
            entries[str(path)] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino)
            if path.is_dir() and not path.is_symlink():
                stack.extend(path.iterdir())
        state[top] = entries
    return state


def test_host_state_sees_every_kind_of_change(tmp_path: Path) -> None:
    """The listing is not blind: creating, touching and removing entries all change it."""
    watched = (str(tmp_path / "a"), str(tmp_path / "absent"))
    (tmp_path / "a/bin").mkdir(parents=True)
    (tmp_path / "a/bin/f").write_text("x")
    before = host_state(watched)
    assert before[watched[1]] is None
    assert host_state(watched) == before
    (tmp_path / "a/lib").mkdir()
    assert host_state(watched) != before
    (tmp_path / "a/lib").rmdir()
    os.utime(tmp_path / "a/bin/f", ns=(1, 1))
    assert host_state(watched) != before
    (tmp_path / "absent").mkdir()
    assert host_state(watched)[watched[1]] is not None


def test_a_missing_tool_is_a_clear_skip_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    reason = "no containerd binary on this machine (apt-get install containerd)"
    assert realcontainerd.missing_binary() == reason
    assert realcontainerd.missing_dump() == reason
    assert realcontainerd.missing_daemon() == reason


@pytest.mark.parametrize("hidden", ["/run/nodedoctor-test", "/var/tmp/nodedoctor-test"])
def test_a_workdir_the_sandbox_hides_is_refused_before_anything_is_made(hidden: str) -> None:
    config = Path("/nonexistent/config.toml")
    with pytest.raises(ValueError, match="which the sandbox hides"):
        realcontainerd.check_layers(Path(hidden) / "ctd-layers")
    if realcontainerd.missing_daemon() is None:
        with pytest.raises(ValueError, match="which the sandbox hides"):
            RealContainerd(config, Path(hidden)).start()
    assert not os.path.lexists(hidden)


@pytest.mark.slow
@pytest.mark.root
@realcontainerd.requires_daemon
def test_a_real_run_leaves_the_host_as_it_was(tmp_path: Path) -> None:
    before = host_state(WATCHED)
    config = tmp_path / "config.toml"
    default = realcontainerd.config_default()
    config.write_text(default.replace("SystemdCgroup = false", "SystemdCgroup = true"))
    dump = realcontainerd.effective_config(config)
    runc = dump["plugins"][CRI]["containerd"]["runtimes"]["runc"]["options"]
    assert runc["SystemdCgroup"] is True
    with RealContainerd(config, tmp_path / "run") as ctd:
        plugins = ctd.plugins()
        assert (plugins[CRI], plugins[OPT]) == ("ok", "ok"), plugins
        assert " SystemdCgroup:true" in (ctd.cri_config_log() or "")
        own = Path(f"/proc/{ctd.pid}/root")
        # The opt plugin made /opt/containerd/{bin,lib} in the daemon's empty /opt tmpfs.
        assert os.listdir(own / "opt") == ["containerd"]
        assert sorted(os.listdir(own / "opt/containerd")) == ["bin", "lib"]
        assert ctd.address is not None
        assert len(str(ctd.address)) < 100  # unix socket paths: 108 bytes
        assert host_state(WATCHED) == before
    assert ctd.stopped_cleanly
    assert realcontainerd.mounts_under(tmp_path) == []
    assert host_state(WATCHED) == before


@pytest.mark.slow
@pytest.mark.root
@realcontainerd.requires_daemon
def test_writes_aimed_at_the_host_land_in_the_test_directory(tmp_path: Path) -> None:
    """A configuration that puts the opt plugin's directory under /var/lib/containerd and the
    CNI configuration directory under /run/containerd: containerd creates both, in the
    overlays' layers only."""
    before = host_state(WATCHED)
    config = tmp_path / "config.toml"
    config.write_text(
        "version = 2\n"
        f'[plugins."{OPT}"]\n  path = "/var/lib/containerd/opt"\n'
        f'[plugins."{CRI}".cni]\n  conf_dir = "/run/containerd/net.d"\n'
    )
    with RealContainerd(config, tmp_path / "run") as ctd:
        plugins = ctd.plugins()
        assert (plugins[CRI], plugins[OPT]) == ("ok", "ok"), plugins
        own = Path(f"/proc/{ctd.pid}/root")
        assert (own / "var/lib/containerd/opt/bin").is_dir()
        assert (own / "run/containerd/net.d").is_dir()
        assert host_state(WATCHED) == before
    assert {
        "/var/lib/containerd/opt/bin",
        "/var/lib/containerd/opt/lib",
        "/run/containerd/net.d",
    } <= set(ctd.written())
    assert ctd.stopped_cleanly
    assert host_state(WATCHED) == before
