"""kernel-version-unsupported against a target: kubeadm 1.32 stops before 4.19 (RHEL 8's 4.18),
kubeadm 1.33 and later only warn (info) outside the listed LTS lines (RHEL 9's 5.14), nothing
without a declared target or after install, and every deployer's node before 3.10."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nodedoctor import engine
from nodedoctor.facts import Facts
from nodedoctor.model import Severity
from nodedoctor.rules import load
from nodedoctor.sources.root import directory_root
from tests.helpers import ROOTS

RULE = load("kernel-version-unsupported")


def _node(tmp_path: Path, release: str, kubelet: bool) -> Path:
    """A Rocky 9 GCE image (no kubelet) or the kubeadm node, on ``release``."""
    base = ROOTS / ("kubeadm-healthy-v2" if kubelet else "gce-rocky9-no-cloud-init") / "root"
    root = tmp_path / "root"
    shutil.copytree(base, root, symlinks=True)
    osrelease = root / "proc/sys/kernel/osrelease"
    osrelease.parent.mkdir(parents=True, exist_ok=True)
    osrelease.write_text(release + "\n", encoding="utf-8")
    return root


def _found(root: Path, profile: str | None, version: str | None) -> list[tuple[Severity, str]]:
    facts = Facts(directory_root(str(root)), profile=profile, kubernetes_version=version)
    report = engine.run(facts, [RULE], summary=False)
    return [(f.severity, f.message) for f in report.findings]


@pytest.mark.parametrize(
    ("release", "profile", "version", "expected"),
    [
        ("4.18.0-553.el8_10.x86_64", "kubeadm", "1.32", Severity.ERROR),
        ("4.18.0-553.el8_10.x86_64", "kubespray", "1.32", Severity.ERROR),
        ("4.18.0-553.el8_10.x86_64", "kubeadm", "1.33", Severity.INFO),
        ("5.14.0-427.13.1.el9_4.x86_64", "kubeadm", "1.35", Severity.INFO),
        ("5.14.0-427.13.1.el9_4.x86_64", "kubeadm", "1.32", None),
        ("6.1.0-28-amd64", "kubeadm", "1.35", None),
        ("5.15.0-131-generic", "kubeadm", "1.34", None),
        ("4.18.0-553.el8_10.x86_64", "k3s", "1.32", None),
        ("4.18.0-553.el8_10.x86_64", "kubeadm", "1.31", None),
        ("4.18.0-553.el8_10.x86_64", None, None, None),
        ("2.6.32-754.35.1.el6.x86_64", None, None, Severity.ERROR),
    ],
)
def test_before_install(
    tmp_path: Path, release: str, profile: str | None, version: str | None, expected: Severity
) -> None:
    found = _found(_node(tmp_path, release, kubelet=False), profile, version)
    assert [s for s, _ in found] == ([expected] if expected else [])
    if expected is Severity.ERROR and profile:
        assert "[ERROR SystemVerification]: kernel release 4.18.0-553.el8_10.x86_64" in found[0][1]


def test_an_installed_node_is_not_judged_against_preflight(tmp_path: Path) -> None:
    root = _node(tmp_path, "4.18.0-553.el8_10.x86_64", kubelet=True)
    assert _found(root, "kubeadm", "1.32") == []
