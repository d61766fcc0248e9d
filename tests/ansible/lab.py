"""The environment an Ansible run of the tests gets: its own config, home, temp and
collection directories under ``base``, and the nodedoctor.pyz the role ships."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def ansible_env(base: Path, pyz: Path, path: str | None = None) -> dict[str, str]:
    """The variables of an Ansible run in ``base`` (``path``: PATH, default the caller's)."""
    return {
        "PATH": path or os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(base / "home"),
        "ANSIBLE_CONFIG": str(base / "ansible.cfg"),
        "ANSIBLE_HOME": str(base / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(base / "tmp-local"),
        "ANSIBLE_REMOTE_TEMP": str(base / "tmp-remote"),
        "ANSIBLE_COLLECTIONS_PATH": str(REPO),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "NODEDOCTOR_PYZ": str(pyz),
        "NODEDOCTOR_CACHE_DIR": str(base / "nodedoctor-cache"),
        "LC_ALL": "C.UTF-8",
    }
