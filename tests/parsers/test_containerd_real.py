"""What nodedoctor says about a containerd configuration against what the REAL containerd of
this machine (the Debian package, 1.x) makes of the same files: ``containerd config dump`` for
the effective SystemdCgroup and disabled_plugins, and a daemon started on a private socket for
whether CRI loads. Skipped when no containerd binary is installed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nodedoctor.facts import Facts
from nodedoctor.facts.containerd import CRI_V2, containerd_facts
from nodedoctor.model import Severity
from nodedoctor.parsers.containerd import parse_containerd_config
from nodedoctor.sources.root import directory_root
from tests import realcontainerd

pytestmark = [pytest.mark.system, realcontainerd.requires_dump]

RUNC = ("plugins", CRI_V2, "containerd", "runtimes", "runc", "options", "SystemdCgroup")
V2_TABLE = f'[plugins."{CRI_V2}".containerd.runtimes.runc.options]\n  SystemdCgroup = true\n'


def _installed_version() -> str:
    m = re.search(r"containerd\s+\S+\s+(\S+)\s+(\S+)", realcontainerd.version())
    assert m, realcontainerd.version()
    return m.group(2)


def _node(tmp_path: Path, files: dict[str, str]) -> Path:
    """A node root with these files under /etc/containerd and the installed containerd in dpkg."""
    root = tmp_path / "root"
    for rel, text in files.items():
        path = root / "etc/containerd" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    status = root / "var/lib/dpkg/status"
    status.parent.mkdir(parents=True, exist_ok=True)
    status.write_text(
        f"Package: containerd\nStatus: install ok installed\nVersion: {_installed_version()}\n\n"
    )
    return root


def _dump(root: Path) -> tuple[int, dict[str, object]]:
    result = realcontainerd.config_dump(root / "etc/containerd/config.toml")
    if result.returncode != 0:
        return result.returncode, {}
    return 0, parse_containerd_config(result.stdout).data


def _get(data: object, path: tuple[str, ...]) -> object:
    for part in path:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


DEFAULT = realcontainerd.config_default() if realcontainerd.missing_dump() is None else ""

CASES: dict[str, dict[str, str]] = {
    "config default": {"config.toml": DEFAULT},
    "config default with SystemdCgroup = true": {
        "config.toml": DEFAULT.replace("SystemdCgroup = false", "SystemdCgroup = true")
    },
    "v2 table in a file without a version line (ignored)": {"config.toml": V2_TABLE},
    "v1 short-name table": {
        "config.toml": "[plugins.cri.containerd.runtimes.runc.options]\n  SystemdCgroup = true\n"
    },
    "version 3 on 1.x": {
        "config.toml": "version = 3\n[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes"
        ".runc.options]\n  SystemdCgroup = true\n"
    },
    "import replaces the whole CRI table (1.x)": {
        "config.toml": f'version = 2\nimports = ["conf.d/10-sandbox.toml"]\n{V2_TABLE}',
        "conf.d/10-sandbox.toml": f'version = 2\n[plugins."{CRI_V2}"]\n'
        '  sandbox_image = "registry.k8s.io/pause:3.9"\n',
    },
    "import sets the key": {
        "config.toml": 'version = 2\nimports = ["conf.d/10-systemd.toml"]\n',
        "conf.d/10-systemd.toml": f"version = 2\n{V2_TABLE}",
    },
    "relative glob (1.x: from the working directory, matches nothing)": {
        "config.toml": 'version = 2\nimports = ["conf.d/*.toml"]\n',
        "conf.d/10-systemd.toml": f"version = 2\n{V2_TABLE}",
    },
    "import that does not exist (refused)": {
        "config.toml": 'version = 2\nimports = ["conf.d/missing.toml"]\n'
    },
    "full plugin name in a version 1 file does not disable CRI (1.x)": {
        "config.toml": f'disabled_plugins = ["{CRI_V2}"]\n'
    },
    "conf.d not named by imports is not read": {
        "config.toml": "version = 2\n",
        "conf.d/10-systemd.toml": f"version = 2\n{V2_TABLE}",
    },
    "nested relative imports with a cycle": {
        "config.toml": 'version = 2\nimports = ["d/a.toml"]\n',
        "d/a.toml": 'version = 2\nimports = ["../e.toml", "a.toml"]\n',
        "e.toml": f'version = 2\nimports = ["config.toml"]\n{V2_TABLE}',
    },
    "SystemdCgroup in the handler's table (ignored)": {
        "config.toml": f'version = 2\n[plugins."{CRI_V2}".containerd.runtimes.runc]\n'
        '  runtime_type = "io.containerd.runc.v2"\n  SystemdCgroup = true\n'
    },
    "short plugin name under version 2 (refused)": {
        "config.toml": 'version = 2\ndisabled_plugins = ["cri"]\n'
    },
    "Docker containerd.io": {"config.toml": 'disabled_plugins = ["cri"]\n'},
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_facts_match_config_dump(name: str, tmp_path: Path) -> None:
    root = _node(tmp_path, CASES[name])
    facts = Facts(directory_root(str(root)))
    c = facts.get(containerd_facts)
    rc, dump = _dump(root)
    refused = [p for p in c.problems if p.severity is Severity.ERROR and "refuses" in p.title]
    if rc != 0:
        assert refused, f"containerd refuses {name} but nodedoctor does not say so"
        return
    assert not refused, [p.message for p in refused]
    runc = c.handlers["runc"]
    if _get(dump, ("plugins", CRI_V2)) is None:
        # containerd leaves a disabled plugin's configuration out of the dump
        assert c.cri is not None, f"containerd disabled CRI for {name}"
        return
    assert c.cri is None, c.cri
    assert runc.systemd_cgroup is bool(_get(dump, RUNC)), (name, runc.evidence)


@pytest.mark.slow
def test_default_config_line_points_at_the_key(tmp_path: Path) -> None:
    root = _node(tmp_path, {"config.toml": DEFAULT})
    c = Facts(directory_root(str(root))).get(containerd_facts)
    ev = c.handlers["runc"].evidence
    assert ev.text == "SystemdCgroup = false"
    assert ev.line is not None
    assert DEFAULT.splitlines()[ev.line - 1].strip() == "SystemdCgroup = false"
    assert c.handlers["runc"].table == RUNC[:-1]


def _start(tmp_path: Path, text: str) -> realcontainerd.RealContainerd:
    config = tmp_path / "config.toml"
    config.write_text(text)
    return realcontainerd.RealContainerd(config, tmp_path)


def _cri_status(ctd: realcontainerd.RealContainerd) -> str | None:
    return ctd.plugins().get(realcontainerd.CRI)


@pytest.mark.slow
@pytest.mark.root
@realcontainerd.requires_daemon
@pytest.mark.parametrize(
    ("text", "cri_ok"),
    [
        ('disabled_plugins = ["cri"]\n', False),
        (f'disabled_plugins = ["{CRI_V2}"]\n', True),
        (f'version = 2\ndisabled_plugins = ["{CRI_V2}"]\n', False),
        (f'version = 2\n[plugins."{CRI_V2}"]\n  systemd_cgroup = true\n', False),
        ("version = 2\n" + V2_TABLE, True),
    ],
    ids=["short name", "full name in v1 (not matched)", "full name in v2", "legacy", "enabled"],
)
def test_cri_state_matches_the_running_daemon(tmp_path: Path, text: str, cri_ok: bool) -> None:
    root = _node(tmp_path, {"config.toml": text})
    c = Facts(directory_root(str(root))).get(containerd_facts)
    with _start(tmp_path, text) as ctd:
        status = _cri_status(ctd)
        assert (status == "ok") is cri_ok, (status, ctd.log()[-2000:])
        assert (c.cri is None) is cri_ok, c.cri
        if cri_ok and "SystemdCgroup" in text:
            line = ctd.cri_config_log()
            assert line is not None
            assert "Options:map[SystemdCgroup:true]" in line
            assert c.handlers["runc"].systemd_cgroup is True
