"""The running kernel's build configuration: which cgroup controllers it was built with.

Read from ``/proc/config.gz`` (gzip, decompressed here; the parser stays pure), then
``/boot/config-<release>`` and ``/lib/modules/<release>/config`` as kubeadm's
SystemVerification does (research kubelet-cgroups.md §3).
"""

from __future__ import annotations

import zlib

from nodedoctor._record import record
from nodedoctor.facts import Facts
from nodedoctor.facts.system import kernel
from nodedoctor.model import Evidence
from nodedoctor.parsers import ParseError
from nodedoctor.parsers.kconfig import KernelConfig, parse_kconfig

#: A decompressed kernel config is ~250 KiB; cap what we accept from a hostile root.
_CONFIG_LIMIT = 4 * 1024 * 1024

#: The options that build each controller. ``v1`` options only count on cgroup v1 and only
#: when the configuration knows them (``CONFIG_MEMCG_V1``/``CONFIG_CPUSETS_V1`` appear with
#: Linux 6.11/6.12, commit e93d4166b40a; before, the v2 option built both).
CONTROLLER_OPTIONS: dict[str, tuple[str, ...]] = {
    "cpu": ("CONFIG_CGROUP_SCHED",),
    "cpuacct": ("CONFIG_CGROUP_CPUACCT",),
    "cpuset": ("CONFIG_CPUSETS",),
    "memory": ("CONFIG_MEMCG",),
    "pids": ("CONFIG_CGROUP_PIDS",),
    "hugetlb": ("CONFIG_CGROUP_HUGETLB",),
}
V1_OPTIONS: dict[str, str] = {"memory": "CONFIG_MEMCG_V1", "cpuset": "CONFIG_CPUSETS_V1"}


@record
class KernelConfigFacts:
    config: KernelConfig | None
    source: str | None

    def option_evidence(self, name: str) -> Evidence | None:
        if self.config is None or self.source is None:
            return None
        option = self.config.options.get(name)
        if option is None:
            return Evidence(self.source, f"{name} is not in this configuration")
        return Evidence(self.source, option.text.strip(), option.line)

    def missing_options(self, controller: str, v1: bool) -> list[str] | None:
        """The options this kernel lacks to give ``controller``; ``[]`` if it has them all,
        ``None`` when the configuration is unknown or does not know the controller."""
        if self.config is None or controller not in CONTROLLER_OPTIONS:
            return None
        names = list(CONTROLLER_OPTIONS[controller])
        if v1 and controller in V1_OPTIONS and V1_OPTIONS[controller] in self.config.options:
            names.append(V1_OPTIONS[controller])
        return [n for n in names if self.config.enabled(n) is False]


def kernel_config(facts: Facts) -> KernelConfigFacts:
    raw = facts.root.read_bytes("/proc/config.gz", limit=1024 * 1024)
    if raw is not None and not raw[1]:
        import gzip  # only when the kernel exposes its config: start-up cost

        try:
            data = gzip.decompress(raw[0])
        except (OSError, EOFError, zlib.error):
            facts.record_problem("/proc/config.gz", None, "not a gzip file")
            data = None
        if data is not None and len(data) <= _CONFIG_LIMIT:
            parsed = _parse(facts, "/proc/config.gz", data.decode("utf-8", errors="replace"))
            if parsed is not None:
                return KernelConfigFacts(parsed, "/proc/config.gz")
    release = facts.get(kernel).release
    if release is not None and "/" not in release.value:
        for path in (f"/boot/config-{release.value}", f"/lib/modules/{release.value}/config"):
            parsed = facts.parse(path, parse_kconfig)
            if parsed is not None:
                return KernelConfigFacts(parsed, path)
    return KernelConfigFacts(None, None)


def _parse(facts: Facts, path: str, text: str) -> KernelConfig | None:
    try:
        return parse_kconfig(text)
    except ParseError as exc:
        facts.record_problem(path, exc.line, exc.message)
        return None
