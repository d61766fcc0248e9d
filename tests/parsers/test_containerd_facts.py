"""containerd facts: imports merged as the installed major merges them, version traps, CRI
state, defaults and the interface the fix engine uses (file, table, presence)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nodedoctor.facts import Facts
from nodedoctor.facts.containerd import (
    CRI_V2,
    CRI_V3,
    ContainerdFacts,
    containerd_facts,
    options_table,
)
from nodedoctor.model import Severity
from nodedoctor.sources.root import directory_root

V2_RUNC = f'[plugins."{CRI_V2}".containerd.runtimes.runc.options]\n'
V3_RUNC = f"[plugins.'{CRI_V3}'.containerd.runtimes.runc.options]\n"


def _facts(tmp_path: Path, files: dict[str, str], version: str | None) -> ContainerdFacts:
    root = tmp_path / "root"
    for rel, text in files.items():
        p = root / rel.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    if version is not None:
        status = root / "var/lib/dpkg/status"
        status.parent.mkdir(parents=True, exist_ok=True)
        status.write_text(
            f"Package: containerd\nStatus: install ok installed\nVersion: {version}\n"
        )
    return Facts(directory_root(str(root))).get(containerd_facts)


MAIN = "/etc/containerd/config.toml"
DROPIN = "/etc/containerd/conf.d/10-sandbox.toml"
REPLACING = {
    MAIN: f'version = 2\nimports = ["{DROPIN}"]\n{V2_RUNC}  SystemdCgroup = true\n',
    DROPIN: f'version = 2\n[plugins."{CRI_V2}"]\n  sandbox_image = "registry.k8s.io/pause:3.9"\n',
}


def test_1x_import_replaces_the_whole_plugin_table(tmp_path: Path) -> None:
    c = _facts(tmp_path, REPLACING, "1.7.27-1")
    runc = c.handlers["runc"]
    assert runc.systemd_cgroup is False
    # an inserted key must go to the import that wins, not to config.toml
    assert runc.file == DROPIN
    assert runc.present is False
    assert runc.table == options_table(2, "runc")


def test_2x_import_merges_key_by_key(tmp_path: Path) -> None:
    c = _facts(tmp_path, REPLACING, "2.1.5")
    runc = c.handlers["runc"]
    assert runc.systemd_cgroup is True
    assert (runc.file, runc.present, runc.evidence.line) == (MAIN, True, 4)
    assert c.reported_driver is not None
    assert c.reported_driver.value == "systemd"
    assert c.implements_runtime_config is True


def test_unknown_version_and_different_answers_is_unknown(tmp_path: Path) -> None:
    c = _facts(tmp_path, REPLACING, None)
    assert c.cgroup_driver is None
    assert c.unknown is not None
    assert "1.x and 2.x" in c.unknown


def test_confd_is_read_only_when_imports_names_it(tmp_path: Path) -> None:
    files = {
        MAIN: "version = 3\n",
        "/etc/containerd/conf.d/10-systemd.toml": f"version = 3\n{V3_RUNC}  SystemdCgroup = true\n",
    }
    assert _facts(tmp_path / "a", files, "2.2.0").handlers["runc"].systemd_cgroup is False
    files[MAIN] = "version = 3\nimports = ['/etc/containerd/conf.d/*.toml']\n"
    runc = _facts(tmp_path / "b", files, "2.2.0").handlers["runc"]
    assert runc.systemd_cgroup is True
    assert runc.file == "/etc/containerd/conf.d/10-systemd.toml"


def test_nested_relative_imports_and_cycles(tmp_path: Path) -> None:
    files = {
        MAIN: 'version = 2\nimports = ["d/a.toml"]\n',
        "/etc/containerd/d/a.toml": 'version = 2\nimports = ["../e.toml", "a.toml"]\n',
        "/etc/containerd/e.toml": f'version = 2\nimports = ["config.toml"]\n{V2_RUNC}'
        "  SystemdCgroup = true\n",
    }
    c = _facts(tmp_path, files, "2.0.0")
    assert [f.path for f in c.files] == [MAIN, "/etc/containerd/d/a.toml", "/etc/containerd/e.toml"]
    assert c.handlers["runc"].systemd_cgroup is True


def test_relative_glob_differs_between_majors(tmp_path: Path) -> None:
    files = {
        MAIN: 'version = 2\nimports = ["conf.d/*.toml"]\n',
        "/etc/containerd/conf.d/10.toml": f"version = 2\n{V2_RUNC}  SystemdCgroup = true\n",
    }
    one = _facts(tmp_path / "1", files, "1.7.27")
    assert one.handlers["runc"].systemd_cgroup is False
    assert any("working directory" in p.title for p in one.problems)
    two = _facts(tmp_path / "2", files, "2.1.5")
    assert two.handlers["runc"].systemd_cgroup is True
    assert not two.problems


def test_v2_table_in_v1_file(tmp_path: Path) -> None:
    files = {MAIN: f"{V2_RUNC}  SystemdCgroup = true\n"}
    one = _facts(tmp_path / "1", files, "1.6.20~ds1-1+deb12u3")
    assert one.handlers["runc"].systemd_cgroup is False
    [problem] = one.problems
    assert problem.severity is Severity.ERROR
    assert problem.evidence[0].line == 1
    # containerd 2.x migrates the file and reads the table
    two = _facts(tmp_path / "2", files, "2.0.0")
    assert two.handlers["runc"].systemd_cgroup is True
    assert not two.problems


@pytest.mark.parametrize(
    ("version", "refused"),
    [("1.6.20", False), ("1.6.32", True), ("1.7.16", False), ("1.7.17", True)],
)
def test_version_3_on_1x(tmp_path: Path, version: str, refused: bool) -> None:
    c = _facts(tmp_path, {MAIN: f"version = 3\n{V3_RUNC}  SystemdCgroup = true\n"}, version)
    [problem] = [p for p in c.problems if "3" in p.title]
    assert ("refuses" in problem.title) is refused
    assert problem.severity is Severity.ERROR
    assert c.handlers["runc"].systemd_cgroup is False


def test_v3_table_in_v2_config_is_overwritten_on_2x(tmp_path: Path) -> None:
    files = {
        MAIN: f'version = 2\nimports = ["/etc/containerd/conf.d/x.toml"]\n{V2_RUNC}'
        "  SystemdCgroup = false\n",
        "/etc/containerd/conf.d/x.toml": f"version = 3\n{V3_RUNC}  SystemdCgroup = true\n",
    }
    c = _facts(tmp_path, files, "2.1.5")
    assert c.handlers["runc"].systemd_cgroup is False
    assert any("overwrites" in p.title for p in c.problems)


def test_v2_tables_ignored_in_v3_config(tmp_path: Path) -> None:
    c = _facts(tmp_path, {MAIN: f"version = 3\n{V2_RUNC}  SystemdCgroup = true\n"}, "2.0.0")
    assert c.handlers["runc"].systemd_cgroup is False
    assert [p.severity for p in c.problems] == [Severity.WARNING]


@pytest.mark.parametrize(
    ("text", "version", "disabled"),
    [
        ('disabled_plugins = ["cri"]\n', "1.7.27", True),
        (f'disabled_plugins = ["{CRI_V2}"]\n', "1.7.27", False),  # v1 file: short ids only
        (f'version = 2\ndisabled_plugins = ["{CRI_V2}"]\n', "1.7.27", True),
        ('disabled_plugins = ["cri"]\n', "2.0.0", True),  # migrated to the URI
        ("version = 2\n", "1.7.27", False),
    ],
)
def test_cri_disabled(tmp_path: Path, text: str, version: str, disabled: bool) -> None:
    c = _facts(tmp_path, {MAIN: text}, version)
    assert (c.cri is not None) is disabled
    if disabled:
        assert c.cri is not None
        assert c.cri.evidence[0].text.startswith("disabled_plugins")


def test_short_name_under_version_2_is_refused_by_1x(tmp_path: Path) -> None:
    c = _facts(tmp_path, {MAIN: 'version = 2\ndisabled_plugins = ["cri"]\n'}, "1.6.20")
    assert any('invalid disabled plugin URI "cri"' in p.message for p in c.problems)


def test_legacy_systemd_cgroup(tmp_path: Path) -> None:
    text = f'version = 2\n[plugins."{CRI_V2}"]\n  systemd_cgroup = true\n'
    one = _facts(tmp_path / "1", {MAIN: text}, "1.6.20")
    assert one.cri is not None
    assert "only works for runtime" in one.cri.reason
    two = _facts(tmp_path / "2", {MAIN: text}, "2.0.0")
    assert two.cri is None
    assert [p.severity for p in two.problems] == [Severity.WARNING]


@pytest.mark.parametrize(
    ("version", "omitted"), [("2.1.4", True), ("2.1.5", False), ("2.0.6", True), ("2.2.0", False)]
)
def test_default_says_when_config_default_omits_the_key(
    tmp_path: Path, version: str, omitted: bool
) -> None:
    c = _facts(tmp_path, {MAIN: "version = 3\n"}, version)
    runc = c.handlers["runc"]
    assert runc.systemd_cgroup is False
    assert runc.present is False
    assert ("leaves the key out" in runc.evidence.text) is omitted
    assert runc.table == ("plugins", CRI_V3, "containerd", "runtimes", "runc", "options")


def test_runtime_config_answer_skips_non_runc_default(tmp_path: Path) -> None:
    text = (
        f'version = 2\n[plugins."{CRI_V2}".containerd]\n  default_runtime_name = "kata"\n'
        f'[plugins."{CRI_V2}".containerd.runtimes.kata]\n  runtime_type = "io.containerd.kata.v2"\n'
        f'[plugins."{CRI_V2}".containerd.runtimes.crun]\n  runtime_type = "io.containerd.runc.v2"\n'
        f'[plugins."{CRI_V2}".containerd.runtimes.crun.options]\n  SystemdCgroup = true\n'
    )
    c = _facts(tmp_path, {MAIN: text}, "2.0.0")
    assert c.default_handler is None
    assert sorted(c.handlers) == ["crun", "runc"]
    # default first (not runc), then by name: crun decides
    assert c.reported_driver is not None
    assert c.reported_driver.value == "systemd"


def test_missing_import_is_refused(tmp_path: Path) -> None:
    c = _facts(tmp_path, {MAIN: 'version = 2\nimports = ["nope.toml"]\n'}, "1.7.27")
    assert any("does not exist" in p.title for p in c.problems)


def test_no_config_file_uses_builtin_defaults(tmp_path: Path) -> None:
    c = _facts(tmp_path, {"/etc/hostname": "n\n"}, "1.7.27")
    assert c.present
    assert c.handlers["runc"].systemd_cgroup is False
    assert c.handlers["runc"].file == MAIN
    assert c.handlers["runc"].file_version == 1


def test_malformed_config_is_a_parse_problem(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc/containerd").mkdir(parents=True)
    (root / "etc/containerd/config.toml").write_text("version = 2\n[plugins\n")
    facts = Facts(directory_root(str(root)))
    c = facts.get(containerd_facts)
    assert c.unknown is not None
    [problem] = facts.parse_problems
    assert (problem.path, problem.line) == (MAIN, 2)


def test_systemd_cgroup_in_the_handler_table_is_misplaced(tmp_path: Path) -> None:
    text = (
        f'version = 2\n[plugins."{CRI_V2}".containerd.runtimes.runc]\n'
        '  runtime_type = "io.containerd.runc.v2"\n  SystemdCgroup = true\n'
    )
    c = _facts(tmp_path, {MAIN: text}, "1.7.27")
    assert c.handlers["runc"].systemd_cgroup is False
    [problem] = c.problems
    assert problem.evidence[0].line == 4
    assert f'[plugins."{CRI_V2}".containerd.runtimes.runc.options]' in problem.fix


@pytest.mark.parametrize(
    ("key", "version", "systemd"),
    [
        # Kubespray <= v2.27's template (kubespray#12170): go-toml v1 tries a lower first letter.
        ("systemdCgroup", "1.7.27-1", True),
        ("systemdcgroup", "1.7.27-1", True),
        ("SYSTEMDCGROUP", "1.7.27-1", True),
        # Not one of go-toml v1's four spellings: containerd 1.x leaves it unread.
        ("SystemdCGroup", "1.7.27-1", False),
        # go-toml v2 (containerd 2.x) takes any case.
        ("SystemdCGroup", "2.1.5", True),
        ("systemdCgroup", "2.1.5", True),
        ("systemd_cgroup", "2.1.5", False),
    ],
)
def test_systemd_cgroup_as_containerd_spells_it(
    tmp_path: Path, key: str, version: str, systemd: bool
) -> None:
    c = _facts(tmp_path, {MAIN: f"version = 2\n{V2_RUNC}  {key} = true\n"}, version)
    runc = c.handlers["runc"]
    assert runc.systemd_cgroup is systemd
    assert runc.present is systemd
    if systemd:
        assert runc.evidence.text == f"{key} = true"
