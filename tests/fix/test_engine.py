"""The fix engine on synthetic plans: atomic apply, metadata, journal, rollback, refusals."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nodedoctor.fix import engine, fsops, journal, undo
from nodedoctor.fix.fsops import SELINUX_XATTR, RefusedError
from nodedoctor.fix.plan import Command, Plan, Restart
from nodedoctor.sources.root import UnsafePathError, directory_root
from tests.fix.helpers import JOURNAL, directories, plan_edits, snapshot, write

CONFIG = "/etc/containerd/config.toml"
CMDLINE = "/boot/firmware/cmdline.txt"


def _root(tmp_path: Path) -> Path:
    root = tmp_path / "node"
    write(root, CONFIG, "version = 2\n# keep me\n[grpc]\n  address = '/x'\n", 0o600)
    write(root, CMDLINE, "console=tty1 root=/dev/mmcblk0p2 rootwait\n", 0o755)
    return root


def test_apply_writes_and_keeps_mode_and_owner(tmp_path: Path) -> None:
    root = _root(tmp_path)
    os.chown(root / CONFIG.lstrip("/"), 1234, 5678)
    plan = plan_edits(
        root,
        {
            CONFIG: ("version = 2\n# keep me\n[grpc]\n  address = '/y'\n", "toml"),
            CMDLINE: (
                "console=tty1 root=/dev/mmcblk0p2 rootwait cgroup_enable=memory\n",
                "cmdline",
            ),
        },
    )
    result = engine.apply(directory_root(str(root)), plan)
    assert result.written == [CONFIG, CMDLINE]
    st = (root / CONFIG.lstrip("/")).stat()
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o600, 1234, 5678)
    assert (root / CMDLINE.lstrip("/")).stat().st_mode & 0o7777 == 0o755
    assert "'/y'" in (root / CONFIG.lstrip("/")).read_text()
    # No temp files left next to the edited files.
    assert sorted(os.listdir(root / "etc/containerd")) == ["config.toml"]
    entry = journal.find(directory_root(str(root)), None)
    assert entry.id == result.journal_id
    assert entry.state == "applied"
    assert {f.path for f in entry.files} == {CONFIG, CMDLINE}
    # The journal holds the original bytes.
    backup = next(f for f in entry.files if f.path == CONFIG)
    assert entry.backup_bytes(backup).endswith(b"address = '/x'\n")


def test_second_plan_is_empty_after_apply(tmp_path: Path) -> None:
    root = _root(tmp_path)
    edits = {CMDLINE: ("console=tty1 cgroup_enable=memory\n", "cmdline")}
    engine.apply(directory_root(str(root)), plan_edits(root, edits))
    again = plan_edits(root, edits)
    assert not again.steps
    assert not again.actionable


def test_rollback_restores_bytes_mode_owner_and_removes_created(tmp_path: Path) -> None:
    root = _root(tmp_path)
    os.chown(root / CONFIG.lstrip("/"), 1234, 5678)
    before = snapshot(root)
    dirs_before = directories(root)
    created = "/etc/systemd/system/kubelet.service.d/delegate.conf"
    plan = plan_edits(
        root,
        {
            CONFIG: ("version = 2\n", "toml"),
            created: ("[Service]\nDelegate=yes\n", "systemd"),
        },
    )
    r = directory_root(str(root))
    engine.apply(r, plan)
    assert (root / created.lstrip("/")).exists()
    assert snapshot(root) != before
    result = undo.rollback(r, journal.find(r, None))
    assert not result.refused
    assert result.restored == [CONFIG]
    assert result.removed == [created]
    assert snapshot(root) == before
    assert directories(root) == dirs_before
    assert journal.entries(r)[-1].state == "rolled-back"


def test_rollback_refuses_files_changed_since_unless_forced(tmp_path: Path) -> None:
    root = _root(tmp_path)
    original = (root / CONFIG.lstrip("/")).read_bytes()
    r = directory_root(str(root))
    engine.apply(r, plan_edits(root, {CONFIG: ("version = 2\n", "toml")}))
    (root / CONFIG.lstrip("/")).write_text("version = 2\n# edited by hand later\n")
    entry = journal.find(r, None)
    result = undo.rollback(r, entry)
    assert result.refused
    assert result.changed_since == [(CONFIG, "changed since the apply")]
    assert "edited by hand" in (root / CONFIG.lstrip("/")).read_text()
    forced = undo.rollback(r, entry, force=True)
    assert not forced.refused
    assert (root / CONFIG.lstrip("/")).read_bytes() == original


def test_refuses_file_changed_after_planning_and_writes_nothing(tmp_path: Path) -> None:
    root = _root(tmp_path)
    plan = plan_edits(
        root,
        {
            CMDLINE: ("console=tty1 cgroup_enable=memory\n", "cmdline"),
            CONFIG: ("version = 2\n", "toml"),
        },
    )
    (root / CONFIG.lstrip("/")).write_text("version = 2\n# someone else\n")
    before = snapshot(root)
    with pytest.raises(RefusedError, match="changed after the plan was made"):
        engine.apply(directory_root(str(root)), plan)
    assert snapshot(root) == before
    assert not (root / JOURNAL).exists()


def test_refuses_read_only_file_mode(tmp_path: Path) -> None:
    root = _root(tmp_path)
    (root / CONFIG.lstrip("/")).chmod(0o444)
    plan = plan_edits(root, {CONFIG: ("version = 2\n", "toml")})
    with pytest.raises(RefusedError, match=r"read-only \(mode 0444\)"):
        engine.apply(directory_root(str(root)), plan)
    assert (root / CONFIG.lstrip("/")).read_text().startswith("version = 2\n# keep me")


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root")
def test_refuses_read_only_bind_mount(tmp_path: Path) -> None:
    """A read-only filesystem (a bind mount in a private mount namespace)."""
    root = _root(tmp_path)
    plan = plan_edits(root, {CONFIG: ("version = 2\n", "toml")})
    script = (
        "import sys\n"
        "from nodedoctor.fix import engine\n"
        "from nodedoctor.fix.fsops import RefusedError\n"
        "from nodedoctor.sources.root import directory_root\n"
        "from tests.fix.helpers import plan_edits\n"
        "from pathlib import Path\n"
        f"root = Path({str(root)!r})\n"
        f"plan = plan_edits(root, {{{CONFIG!r}: ('version = 2\\n', 'toml')}})\n"
        "try:\n"
        "    engine.apply(directory_root(str(root)), plan)\n"
        "except RefusedError as exc:\n"
        "    print(exc)\n"
        "    sys.exit(7)\n"
    )
    etc = root / "etc"
    cmd = (
        f"mount --bind {etc} {etc} && mount -o remount,bind,ro {etc} && "
        f'{sys.executable} -c "$SCRIPT"'
    )
    proc = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", cmd],
        capture_output=True,
        text=True,
        env={**os.environ, "SCRIPT": script},
        cwd=Path(__file__).parents[2],
        check=False,
    )
    assert proc.returncode == 7, proc.stderr
    assert "read-only filesystem" in proc.stdout
    assert plan.steps  # the same plan applies outside the namespace
    engine.apply(directory_root(str(root)), plan)


def test_refuses_symlink_leaving_the_root(tmp_path: Path) -> None:
    """The plan is made on a regular file; before the apply it becomes a link that leaves
    the root: the apply is refused and nothing is written, inside or outside the root."""
    root = _root(tmp_path)
    plan = plan_edits(
        root,
        {
            CMDLINE: ("console=tty1 cgroup_enable=memory\n", "cmdline"),
            CONFIG: ("version = 3\n", "toml"),
        },
    )
    outside = tmp_path / "outside.toml"
    link = root / CONFIG.lstrip("/")
    outside.write_bytes(link.read_bytes())
    link.unlink()
    link.symlink_to("../../../outside.toml")
    before = snapshot(root)
    with pytest.raises(RefusedError, match="leads outside the root"):
        engine.apply(directory_root(str(root)), plan)
    assert snapshot(root) == before
    assert outside.read_bytes().startswith(b"version = 2\n# keep me")
    # Planning through such a link is refused too (the workspace will not read it).
    with pytest.raises(UnsafePathError):
        plan_edits(root, {CONFIG: ("version = 3\n", "toml")})


def test_symlink_inside_the_root_edits_its_target(tmp_path: Path) -> None:
    root = _root(tmp_path)
    real = root / "etc/containerd/real.toml"
    (root / CONFIG.lstrip("/")).rename(real)
    (root / CONFIG.lstrip("/")).symlink_to("/etc/containerd/real.toml")
    plan = plan_edits(root, {CONFIG: ("version = 2\n", "toml")})
    engine.apply(directory_root(str(root)), plan)
    assert (root / CONFIG.lstrip("/")).is_symlink()
    assert real.read_text() == "version = 2\n"


def test_refuses_new_content_that_does_not_parse(tmp_path: Path) -> None:
    root = _root(tmp_path)
    plan = plan_edits(root, {CONFIG: ("version = = 2\n", "toml")})
    with pytest.raises(RefusedError, match="not valid TOML"):
        engine.apply(directory_root(str(root)), plan)
    two_lines = plan_edits(root, {CMDLINE: ("a\nb\n", "cmdline")})
    with pytest.raises(RefusedError, match="exactly one line"):
        engine.apply(directory_root(str(root)), two_lines)


def test_keeps_selinux_label(tmp_path: Path) -> None:
    root = _root(tmp_path)
    target = root / CONFIG.lstrip("/")
    label = b"system_u:object_r:container_config_t:s0\x00"
    try:
        os.setxattr(target, SELINUX_XATTR, label)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM, errno.EACCES):
            pytest.skip(f"this filesystem does not take {SELINUX_XATTR}: {exc}")
        raise
    r = directory_root(str(root))
    engine.apply(r, plan_edits(root, {CONFIG: ("version = 2\n", "toml")}))
    assert os.getxattr(target, SELINUX_XATTR) == label
    entry = journal.find(r, None)
    assert entry.files[0].selinux == label
    os.setxattr(target, SELINUX_XATTR, b"system_u:object_r:etc_t:s0\x00")
    undo.rollback(r, entry, force=True)
    assert os.getxattr(target, SELINUX_XATTR) == label


def test_offline_root_runs_no_command_and_restarts_nothing(tmp_path: Path) -> None:
    root = _root(tmp_path)
    plan = plan_edits(root, {CMDLINE: ("console=tty1 cgroup_enable=memory\n", "cmdline")})
    plan = Plan(
        steps=plan.steps,
        commands=(Command(("systemctl", "daemon-reload"), "r", "reload"),),
        restarts=(Restart("kubelet.service", ("r",)),),
    )
    ran: list[tuple[str, ...]] = []

    def runner(argv: tuple[str, ...]) -> engine.CommandRun:
        ran.append(argv)
        return engine.CommandRun(argv, 0, "")

    result = engine.apply(directory_root(str(root)), plan, restart=True, runner=runner)
    assert ran == []
    assert [c for c, _ in result.not_run] == [
        "systemctl daemon-reload",
        "systemctl restart kubelet.service",
    ]


def test_live_root_runs_commands_and_restarts_only_with_restart(tmp_path: Path) -> None:
    """The live branch with an injected runner (this machine has no systemd to talk to)."""
    from nodedoctor.sources.root import Root

    root = _root(tmp_path)
    live = Root(str(root), live=True)  # a live root whose files are in tmp
    plan = Plan(
        commands=(Command(("systemctl", "daemon-reload"), "r", "reload"),),
        restarts=(Restart("microk8s", ("r",), manager="snap"),),
    )
    ran: list[tuple[str, ...]] = []

    def runner(argv: tuple[str, ...]) -> engine.CommandRun:
        ran.append(argv)
        return engine.CommandRun(argv, 0, "")

    engine.apply(live, plan, restart=False, runner=runner)
    assert ran == [("systemctl", "daemon-reload")]
    ran.clear()
    engine.apply(live, plan, restart=True, runner=runner)
    assert ran == [("systemctl", "daemon-reload"), ("snap", "restart", "microk8s")]


def test_command_outside_the_fix_programs_is_rejected() -> None:
    with pytest.raises(ValueError, match="not a program a fix may run"):
        Command(("rm", "-rf", "/"), "r", "no")


def test_journal_manifest_is_json_with_hashes(tmp_path: Path) -> None:
    root = _root(tmp_path)
    result = engine.apply(
        directory_root(str(root)), plan_edits(root, {CONFIG: ("version = 2\n", "toml")})
    )
    manifest = json.loads((root / JOURNAL / str(result.journal_id) / "manifest.json").read_text())
    assert manifest["schema"] == "nodedoctor/journal/v1"
    (f,) = manifest["files"]
    assert f["path"] == CONFIG
    assert f["existed"] is True
    assert f["mode"] == "0600"
    assert len(f["sha256_before"]) == 64
    assert (root / JOURNAL).stat().st_mode & 0o777 == 0o700


def test_a_failing_write_stops_the_apply_and_rollback_restores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _root(tmp_path)
    before = snapshot(root)
    plan = plan_edits(
        root,
        {
            CMDLINE: ("console=tty1 cgroup_enable=memory\n", "cmdline"),
            CONFIG: ("version = 2\n", "toml"),
        },
    )
    real_write = fsops.atomic_write
    calls: list[str] = []

    def failing(host: str, data: bytes, **kw: Any) -> None:
        calls.append(host)
        if host.endswith("config.toml"):
            raise OSError(28, "No space left on device")
        real_write(host, data, **kw)

    monkeypatch.setattr(fsops, "atomic_write", failing)
    r = directory_root(str(root))
    with pytest.raises(engine.ApplyError, match="No space left on device") as info:
        engine.apply(r, plan)
    assert info.value.written == [CMDLINE]
    monkeypatch.setattr(fsops, "atomic_write", real_write)
    entry = journal.find(r, info.value.journal_id)
    assert entry.state == "prepared"
    result = undo.rollback(r, entry)
    assert result.restored == [CMDLINE]
    assert result.unchanged == [CONFIG]
    assert snapshot(root) == before


def test_planning_through_a_link_leaving_the_root_is_a_refusal(tmp_path: Path) -> None:
    from nodedoctor.facts import Facts
    from nodedoctor.fix.planner import build_plan
    from tests.fix.helpers import finding_on

    root = tmp_path / "node"
    shutil.copytree(Path(__file__).parents[2] / "tests/roots/docker-containerd-io/root", root)
    planned = finding_on(root, "containerd-cri-disabled")  # before the link: an edit
    config = root / CONFIG.lstrip("/")
    outside = tmp_path / "outside.toml"
    outside.write_bytes(config.read_bytes())
    config.unlink()
    config.symlink_to("../../../outside.toml")
    finding = finding_on(root, "containerd-cri-disabled")
    plan = build_plan(Facts(directory_root(str(root))), [finding])
    assert not plan.steps
    assert plan.refusals  # the facts cannot read it either, so the remedy is a refusal
    # The remedy planned before the link: its edit is refused when the file is read.
    plan = build_plan(Facts(directory_root(str(root))), [planned])
    assert not plan.steps
    (refusal,) = plan.refusals
    assert refusal.reason.startswith("refused: ")
    assert outside.read_bytes().startswith(b"disabled_plugins")


def test_a_second_apply_while_one_runs_is_refused(tmp_path: Path) -> None:
    root = _root(tmp_path)
    r = directory_root(str(root))
    plan = plan_edits(root, {CONFIG: ("version = 2\n", "toml")})
    before = snapshot(root)
    with journal.locked(r), pytest.raises(RefusedError, match="another nodedoctor apply"):
        engine.apply(r, plan)
    assert snapshot(root) == before
    engine.apply(r, plan)  # the lock is released afterwards


def test_refuses_a_hard_linked_file(tmp_path: Path) -> None:
    root = _root(tmp_path)
    os.link(root / CONFIG.lstrip("/"), root / "etc/containerd/config.toml.bak")
    plan = plan_edits(root, {CONFIG: ("version = 2\n", "toml")})
    before = snapshot(root)
    with pytest.raises(RefusedError, match=r"hard-linked \(2 names\)"):
        engine.apply(directory_root(str(root)), plan)
    assert snapshot(root) == before
