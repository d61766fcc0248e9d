"""Helpers for the fix tests: synthetic plans over a directory root, tree snapshots."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from nodedoctor.facts import Facts
from nodedoctor.fix.plan import Plan, Workspace
from nodedoctor.model import Finding, Severity
from nodedoctor.remedies.containerd import config_ignored_remedy, cri_disabled_remedy
from nodedoctor.remedies.driver import driver_mismatch_remedy
from nodedoctor.remedies.kubelet import delegation_remedy
from nodedoctor.remedies.steps import Remedy
from nodedoctor.sources.root import directory_root

JOURNAL = "var/lib/nodedoctor/journal"


def write(root: Path, rel: str, text: str, mode: int = 0o644) -> Path:
    path = root / rel.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def plan_edits(root: Path, edits: dict[str, tuple[str, str]]) -> Plan:
    """A plan that sets each node path to text, in the given format: ``{path: (text, fmt)}``."""
    ws = Workspace(Facts(directory_root(str(root))))
    for path, (text, fmt) in edits.items():
        ws.write_text(path, text, rule="test-rule", description=f"set {path}", fmt=fmt)
    return Plan(steps=ws.steps(), addressed=("test-rule",))


#: The planning function each rule calls for its finding's remedy.
PLANNERS: dict[str, Callable[[Facts], Remedy]] = {
    "containerd-cri-disabled": cri_disabled_remedy,
    "containerd-config-ignored": config_ignored_remedy,
    "cgroup-driver-mismatch": driver_mismatch_remedy,
    "cgroup-controller-not-delegated": delegation_remedy,
}


def finding_on(root: Path, rule: str) -> Finding:
    """A finding of ``rule`` carrying the remedy its rule plans on ``root``'s facts, given to
    the planner directly (whether the rule fires there or not: a refusal is tested too)."""
    remedy = PLANNERS[rule](Facts(directory_root(str(root))))
    return Finding(rule=rule, severity=Severity.ERROR, title=rule, message=rule, remedy=remedy)


def snapshot(root: Path) -> dict[str, tuple[str, int, int, int]]:
    """Every regular file under ``root`` (journal excluded): sha256, mode, uid, gid."""
    out: dict[str, tuple[str, int, int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir.startswith("var/lib/nodedoctor"):
            dirnames[:] = []
            continue
        for name in filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "link"
            out[os.path.relpath(p, root)] = (digest, st.st_mode & 0o7777, st.st_uid, st.st_gid)
    return out


def directories(root: Path) -> set[str]:
    out = set()
    for dirpath, _dirs, _files in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if not rel.startswith("var/lib/nodedoctor") and rel not in ("var/lib", "var"):
            out.add(rel)
    return out
