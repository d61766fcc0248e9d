"""Run ``ansible-test sanity`` and ``ansible-lint`` on the collection, offline-friendly.

``ansible-test sanity`` needs the collection under a path ending in
``ansible_collections/nodedoctor/node`` and installs each test's pinned requirements
(pylint, pycodestyle, voluptuous, ...) from the package index into its own virtual
environments. It bootstraps pip in them with a script it downloads from
ci-files.testing.ansible.com, a host this machine (and many CI runners behind a proxy) cannot
reach; ansible-test's own message says to save the script at
``~/.ansible/test/cache/get_pip_<version>.py``. This script saves one there that does the
same job with the standard library's ``ensurepip`` and then runs pip with ansible-test's
arguments, so the requirements still come from the configured index.

Everything ansible-test writes (its virtual environments, its cache, ``tests/output``) goes
under a work directory (default: ``$TMPDIR/nodedoctor-ansible-test``, kept between runs so
that the virtual environments are reused); the collection is copied there from git's tracked
files, so nothing is written into the checkout.

    python scripts/ansible_sanity.py [--work DIR] [--skip-lint] [--skip-sanity]

Exit status: 0 when both pass, else the first failing tool's.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLLECTION = Path("ansible_collections/nodedoctor/node")
BIN = Path(sys.executable).parent

#: What ansible-test runs as ``get_pip_<version>.py`` (with ``runpy``, pip's arguments in
#: sys.argv): install the interpreter's bundled pip, then run pip with those arguments.
GET_PIP = '''"""pip bootstrap for ansible-test without network access to ci-files."""
import subprocess
import sys

# In a child: ensurepip sets PIP_CONFIG_FILE=/dev/null in its process, which would drop the
# machine's pip configuration (index, certificates) for the install below.
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
from pip._internal.cli.main import main  # noqa: E402

# get-pip's own options, which pip install does not take.
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(main(["install", *args]))
'''


def _pip_versions() -> list[str]:
    """The pip versions ansible-test may bootstrap (its ``pip='X.Y'`` pins)."""
    spec = importlib.util.find_spec("ansible_test")
    if spec is None or spec.origin is None:
        raise SystemExit("ansible-test is not installed (pip install ansible-core)")
    source = Path(spec.origin).parent / "_internal/python_requirements.py"
    return sorted(set(re.findall(r"pip='([0-9.]+)'", source.read_text(encoding="utf-8"))))


def _copy_collection(dest: Path) -> Path:
    """The collection staged under ``dest`` as build_collection.py stages it (git's tracked
    and new, not ignored, files), with the built nodedoctor.pyz, in a git repository."""
    from build_collection import stage  # scripts/ is this script's sys.path[0]

    target = dest / COLLECTION
    if target.exists():
        shutil.rmtree(target)
    stage(dest)
    pyz = REPO / COLLECTION / "files" / "nodedoctor.pyz"
    if pyz.is_file():
        shutil.copy2(pyz, target / "files" / "nodedoctor.pyz")
    # ansible-test lists a collection's files with git when it is in a repository.
    subprocess.run(["git", "init", "-q", str(target)], check=True)
    subprocess.run(["git", "-C", str(target), "add", "-A"], check=True)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "nodedoctor-ansible-test"
    )
    parser.add_argument("--skip-lint", action="store_true")
    parser.add_argument("--skip-sanity", action="store_true")
    parser.add_argument("--test", action="append", default=[], help="only this sanity test")
    args = parser.parse_args(argv)

    work: Path = args.work.resolve()
    home = work / "home"
    cache = home / ".ansible/test/cache"
    cache.mkdir(parents=True, exist_ok=True)
    for version in _pip_versions():
        (cache / f"get_pip_{version.replace('.', '_')}.py").write_text(GET_PIP, encoding="utf-8")
    target = _copy_collection(work / "src")
    env = {
        **os.environ,
        "HOME": str(home),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "ANSIBLE_HOME": str(home / ".ansible"),
        # ansible-lint's syntax check resolves nodedoctor.node.* from this copy.
        "ANSIBLE_COLLECTIONS_PATH": str(work / "src"),
    }
    env.pop("PYTHONPATH", None)
    rc = 0
    if not args.skip_sanity:
        python = f"{sys.version_info[0]}.{sys.version_info[1]}"
        command = [str(BIN / "ansible-test"), "sanity", "--local", "--python", python]
        for test in args.test:
            command += ["--test", test]
        print("$", " ".join(command), flush=True)
        rc = subprocess.run(command, cwd=target, env=env, check=False).returncode
    if not args.skip_lint and rc == 0:
        command = [str(BIN / "ansible-lint"), "--offline", "--strict"]
        print("$", " ".join(command), flush=True)
        rc = subprocess.run(command, cwd=target, env=env, check=False).returncode
    return rc


if __name__ == "__main__":
    sys.exit(main())
