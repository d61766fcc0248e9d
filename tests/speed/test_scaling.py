"""A node's size costs the check linearly, and no more than the rules need.

Every filesystem operation a check makes goes through its Root; here they are counted on
generated kubeadm workers (bench/gen_roots.py) of growing size, for cgroup v1 (every
hierarchy carries the kubepods tree) and v2, and both drivers. The counts, not the times,
are asserted, so the test is stable on a busy machine; bench/ has the timings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from bench.gen_roots import V1_HIERARCHIES, generate

from nodedoctor import engine
from nodedoctor.facts import Facts
from nodedoctor.rules import all_rules
from nodedoctor.sources.root import Root, directory_root

COUNTED = ("read_bytes", "listdir", "subdirs", "exists", "is_dir")
SIZES = (8, 16, 48)
#: Operations one pod may cost at most. What a pod legitimately costs: its three processes
#: (``/proc/<pid>/comm``, and ``cmdline`` for the watched daemons), its cgroup directories
#: (pod, sandbox, container: a listing and a ``cgroup.procs`` read each) in every hierarchy
#: a rule looks at, and its ``/var/lib/kubelet/pods/<uid>`` directory.
PER_POD_BUDGET = {"v1": 12 + 6 * (len(V1_HIERARCHIES) + 1), "v2": 12 + 6}


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Operations by kind, and ``read:<path>`` per file read."""
    counts: Counter[str] = Counter()

    def wrap(name: str) -> Callable[..., Any]:
        original = getattr(Root, name)

        def counting(self: Root, path: str, *args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            if name == "read_bytes":
                counts[f"read:{path}"] += 1
            return original(self, path, *args, **kwargs)

        return counting

    for name in COUNTED:
        monkeypatch.setattr(Root, name, wrap(name))
    return counts


def operations(counts: Counter[str], root: Path) -> tuple[int, int]:
    """Filesystem operations of one check, and how many reads were of a file read before."""
    counts.clear()
    report = engine.run(Facts(directory_root(str(root))), engine.select_rules(all_rules()))
    assert not [f for f in report.findings if f.rule == "internal-error"], report.findings
    reread = sum(n - 1 for k, n in counts.items() if k.startswith("read:"))
    return sum(n for k, n in counts.items() if k in COUNTED), reread


@pytest.mark.parametrize("mode", ["v1", "v2"])
@pytest.mark.parametrize("driver", ["cgroupfs", "systemd"])
def test_operations_grow_linearly_with_pods(
    tmp_path: Path, counted: Counter[str], mode: str, driver: str
) -> None:
    results = {
        pods: operations(counted, generate(tmp_path / str(pods), pods, mode, driver))
        for pods in SIZES
    }
    ops = {pods: total for pods, (total, _) in results.items()}
    rereads = {pods: again for pods, (_, again) in results.items()}
    # Facts are cached: a file may be read again a fixed few times, never once per pod.
    assert len(set(rereads.values())) == 1, rereads
    assert rereads[SIZES[0]] <= 3, rereads
    small, medium, large = (ops[n] for n in SIZES)
    per_pod = (medium - small) / (SIZES[1] - SIZES[0])
    # Linear: the large node costs what the slope from the two small ones predicts.
    predicted = small + per_pod * (SIZES[2] - SIZES[0])
    assert abs(large - predicted) <= max(4, 0.05 * large), ops
    assert per_pod <= PER_POD_BUDGET[mode], (
        f"{per_pod:.1f} filesystem operations per pod ({ops}); budget {PER_POD_BUDGET[mode]}"
    )


def test_a_node_without_pods_costs_a_bounded_number_of_operations(
    tmp_path: Path, counted: Counter[str]
) -> None:
    """Fixed cost of a whole check: every rule's files, each read once (facts are cached)."""
    root = generate(tmp_path / "node", 0, "v2", "systemd")
    counted.clear()
    engine.run(Facts(directory_root(str(root))), engine.select_rules(all_rules()))
    reads = counted["read_bytes"]
    assert reads <= 40 + 12 * len(all_rules()), reads
