"""The single-file build: built by scripts/build_zipapp.py, run by a bare system Python.

Every run uses ``python3 -I -S`` (no site-packages, no PYTHON* variables), so nothing but the
zip and the standard library can be imported, as on a node that has no pip. The zip's
reports must equal the installed package's on every scenario and case root.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nodedoctor.rules import all_rules
from tests.helpers import ROOTS, case_dirs, case_root, check_root, load_expect

#: The system's own python3 (and any other installed), not the project's virtualenv.
pytestmark = pytest.mark.system

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "scripts" / "build_zipapp.py"
#: The node's own interpreter: the system one, not the project's virtualenv.
SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin") or sys.executable


def _roots() -> list[tuple[Path, str | None]]:
    """Every scenario and rule-case root, with the profile its expect.yaml names."""
    out: list[tuple[Path, str | None]] = []
    for d in sorted(ROOTS.iterdir()) if ROOTS.is_dir() else []:
        if (d / "root").is_dir():
            out.append((d / "root", _profile(d)))
    for d in case_dirs():
        out.append((case_root(d), _profile(d)))
    return out


def _profile(case: Path) -> str | None:
    profile = load_expect(case / "expect.yaml").get("profile")
    return str(profile) if profile else None


@pytest.fixture(scope="module")
def pyz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist") / "nodedoctor.pyz"
    subprocess.run([sys.executable, str(BUILD), str(out)], check=True, capture_output=True)
    return out


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A private HOME and cache: the zip unpacks there, never in the real home."""
    return {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(tmp_path / "home"),
        "NODEDOCTOR_CACHE_DIR": str(tmp_path / "cache"),
        "LANG": "C.UTF-8",
    }


def run_zip(
    pyz: Path, args: list[str], env: dict[str, str], python: str = SYSTEM_PYTHON
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, "-I", "-S", str(pyz), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    """A report without what differs between two runs of the same check (times)."""
    return {k: v for k, v in report.items() if k not in ("duration_seconds", "timestamp")}


def installed_report(root: Path, profile: str | None) -> dict[str, Any]:
    return comparable(check_root(root, profile=profile).to_json())


def test_zip_holds_sources_docs_and_pure_python_dependencies_only(pyz: Path) -> None:
    assert pyz.read_bytes().startswith(b"#!/usr/bin/env python3\n")
    assert os.access(pyz, os.X_OK)
    names = zipfile.ZipFile(pyz).namelist()
    compiled = [n for n in names if n.endswith((".pyc", ".pyo", ".so", ".pyd"))]
    assert not compiled, compiled
    assert not [n for n in names if "__pycache__" in n]
    assert "__main__.py" in names
    assert "nodedoctor/_build.py" in names
    for rule in all_rules():
        assert f"nodedoctor/rules/docs/{rule.id}.md" in names, rule.id
    assert "tomlkit/parser.py" in names
    assert "yaml/__init__.py" in names
    assert "yaml/cyaml.py" not in names  # it only wraps the C extension
    assert not [n for n in names if n.startswith("_yaml")]
    assert any(n.startswith("licenses/PyYAML/") for n in names)
    assert any(n.startswith("licenses/tomlkit/") for n in names)
    assert "licenses/nodedoctor/LICENSE" in names  # our own, Apache-2.0
    assert "nodedoctor/schemas/report-v1.schema.json" in names


def test_vendored_yaml_and_toml_work_without_site_packages_or_libyaml(
    pyz: Path, env: dict[str, str]
) -> None:
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import yaml, tomlkit, json; "
        "print(json.dumps([yaml.__with_libyaml__, yaml.__file__, tomlkit.__file__, "
        "yaml.safe_load('cgroupDriver: systemd'), tomlkit.parse('version = 2')['version']]))"
    )
    out = subprocess.run(
        [SYSTEM_PYTHON, "-I", "-S", "-c", probe, str(pyz)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    libyaml, yaml_file, toml_file, doc, version = json.loads(out.stdout)
    assert libyaml is False
    assert yaml_file.startswith(str(pyz))
    assert toml_file.startswith(str(pyz))
    assert doc == {"cgroupDriver": "systemd"}
    assert version == 2


def test_version_names_the_commit_and_date_of_the_build(pyz: Path, env: dict[str, str]) -> None:
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    out = run_zip(pyz, ["--version"], env)
    assert out.returncode == 0, out.stderr
    line = out.stdout.strip()
    assert line.startswith("nodedoctor 0.")
    assert "(zipapp, commit " in line
    assert " built 20" in line
    assert "PyYAML " in line
    assert "tomlkit " in line
    if commit:
        assert commit in line
    # Run by its shebang, as `nodedoctor` once copied to /usr/local/bin.
    shebang = [str(pyz), "--version"]
    direct = subprocess.run(shebang, capture_output=True, text=True, env=env, check=False)
    assert direct.returncode == 0, direct.stderr
    assert direct.stdout == out.stdout
    installed = [sys.executable, "-m", "nodedoctor", "--version"]
    dev = subprocess.run(installed, capture_output=True, text=True, check=True)
    assert dev.stdout.strip().endswith("(dev)")


def test_single_root_from_the_zip_equals_the_installed_package(
    pyz: Path, env: dict[str, str]
) -> None:
    roots = _roots()
    if not roots:
        pytest.skip("no scenario roots yet")
    root, profile = roots[0]
    args = ["check", "--root", str(root), "--format", "json", "--fail-on", "info"]
    out = run_zip(pyz, [*args, *(["--profile", profile] if profile else [])], env)
    assert out.returncode in (0, 1), out.stderr
    assert comparable(json.loads(out.stdout)) == installed_report(root, profile)


def test_every_root_from_the_zip_equals_the_installed_package(
    pyz: Path, env: dict[str, str]
) -> None:
    """All roots through the zip's batch mode (forked workers), one JSON line each."""
    by_profile: dict[str | None, list[Path]] = {}
    for root, profile in _roots():
        by_profile.setdefault(profile, []).append(root)
    if not by_profile:
        pytest.skip("no scenario roots yet")
    for profile, roots in by_profile.items():
        # The first root once more at the end: always a batch, even for a lone root.
        args = ["check", "--format", "json", "--root", *map(str, roots), str(roots[0])]
        out = run_zip(pyz, [*args, *(["--profile", profile] if profile else [])], env)
        assert out.returncode in (0, 1), out.stderr
        lines = out.stdout.splitlines()
        expected_roots = [*roots, roots[0]]
        assert len(lines) == len(expected_roots)
        for root, line in zip(expected_roots, lines):
            assert comparable(json.loads(line)) == installed_report(root, profile), root


def test_explain_reads_every_rule_document_from_the_zip(pyz: Path, env: dict[str, str]) -> None:
    for rule in all_rules():
        out = run_zip(pyz, ["explain", rule.id], env)
        assert out.returncode == 0, out.stderr
        installed = subprocess.run(
            [sys.executable, "-m", "nodedoctor", "explain", rule.id],
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout == installed.stdout
        assert "SYMPTOMS" in out.stdout
        assert "REFERENCES" in out.stdout


def test_first_run_unpacks_into_a_private_cache_and_later_runs_use_its_bytecode(
    pyz: Path, env: dict[str, str], tmp_path: Path
) -> None:
    cache = Path(env["NODEDOCTOR_CACHE_DIR"])
    for _ in range(2):
        assert run_zip(pyz, ["rules"], env).returncode == 0
    builds = [p for p in cache.iterdir() if not p.name.startswith(".")]
    assert len(builds) == 1
    build = builds[0]
    assert (build / ".complete").is_file()
    assert (cache.stat().st_mode & 0o077) == 0
    assert (build.stat().st_mode & 0o077) == 0
    assert list((build / "nodedoctor").glob("__pycache__/*.pyc")), "no bytecode was cached"
    assert not [p for p in cache.iterdir() if p.name.startswith(".")], "temporary dir left"


def test_cache_off_runs_from_the_zip_and_writes_nothing(
    pyz: Path, env: dict[str, str], tmp_path: Path
) -> None:
    env = {**env, "NODEDOCTOR_CACHE_DIR": "off"}
    out = run_zip(pyz, ["rules"], env)
    assert out.returncode == 0, out.stderr
    assert out.stdout
    assert not (tmp_path / "home").exists()


def test_a_cache_others_can_write_to_is_not_trusted(
    pyz: Path, env: dict[str, str], tmp_path: Path
) -> None:
    cache = Path(env["NODEDOCTOR_CACHE_DIR"])
    cache.mkdir(mode=0o777)
    cache.chmod(0o777)  # another user could plant modules here
    out = run_zip(pyz, ["rules"], env)
    assert out.returncode == 0, out.stderr
    assert list(cache.iterdir()) == []


def test_read_only_cache_location_falls_back_to_the_zip(
    pyz: Path, env: dict[str, str], tmp_path: Path
) -> None:
    env = {**env, "NODEDOCTOR_CACHE_DIR": "/proc/nodedoctor-cache"}
    out = run_zip(pyz, ["rules"], env)
    assert out.returncode == 0, out.stderr
    assert out.stdout


def test_two_builds_with_the_same_source_date_are_identical(tmp_path: Path) -> None:
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1767225600"}
    a, b = tmp_path / "a.pyz", tmp_path / "b.pyz"
    for out in (a, b):
        subprocess.run(
            [sys.executable, str(BUILD), str(out)], check=True, capture_output=True, env=env
        )
    assert a.read_bytes() == b.read_bytes()


def _other_pythons() -> Iterator[str]:
    """Other real interpreters on this machine (Debian's, pyenv's); 3.9 matters most."""
    seen: set[str] = set()
    candidates = [shutil.which(f"python3.{minor}") for minor in range(7, 15)]
    pyenv = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "versions"
    if pyenv.is_dir():
        candidates += [str(v / "bin" / "python3") for v in sorted(pyenv.iterdir())]
    for exe in candidates:
        if not exe or "/shims/" in exe or not os.path.exists(exe):
            continue
        real = os.path.realpath(exe)
        if real not in seen:
            seen.add(real)
            yield exe


def _version(python: str) -> tuple[int, int] | None:
    probe = subprocess.run(
        [python, "-I", "-S", "-c", "import sys; print('%d %d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        return None
    major, minor = probe.stdout.split()
    return int(major), int(minor)


def test_other_pythons_give_the_same_report(pyz: Path, env: dict[str, str]) -> None:
    roots = _roots()
    if not roots:
        pytest.skip("no scenario roots yet")
    root, profile = roots[0]
    expected = installed_report(root, profile)
    ran = []
    for python in _other_pythons():
        version = _version(python)
        if version is None or version < (3, 7):
            continue  # cannot even parse the zip's __main__ (no -I, no annotations import)
        args = ["check", "--root", str(root), "--format", "json", "--fail-on", "info"]
        out = run_zip(pyz, [*args, *(["--profile", profile] if profile else [])], env, python)
        if version < (3, 9):
            assert out.returncode == 2
            assert "needs Python 3.9 or newer" in out.stderr
            continue
        assert out.returncode in (0, 1), (python, out.stderr)
        assert comparable(json.loads(out.stdout)) == expected, python
        ran.append(version)
    if (3, 9) not in ran:
        pytest.skip(f"no Python 3.9 on this machine (ran {ran})")
