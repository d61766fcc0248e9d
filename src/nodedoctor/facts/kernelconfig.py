"""The running kernel's build configuration and the modules installed for it.

The configuration is read from ``/proc/config.gz`` (gzip, decompressed here within a bound;
the parser stays pure), then from the files kubeadm's SystemVerification tries, in its order
(k8s.io/system-validators ``validators/kernel_validator.go``, ``getKernelConfigReader``):
``/boot/config-<release>``, ``/usr/src/linux-<release>/.config``, ``/usr/src/linux/.config``,
``/usr/lib/modules/<release>/config`` (and ``/lib/modules/<release>/config``),
``/usr/lib/ostree-boot/config-<release>``, ``/usr/lib/kernel/config-<release>``,
``/usr/src/linux-headers-<release>/.config``, ``/lib/modules/<release>/build/.config``.

A configuration whose banner names another kernel version than the running release (its major
and minor number: Debian's ``6.1.0-47-amd64`` is built from ``Linux/x86 6.1.170``) describes
another kernel and is not used: ``/usr/src/linux/.config`` of a source tree, or a bundle whose
``/proc/config.gz`` came from elsewhere.

The modules of the release are those ``/lib/modules/<release>/modules.dep`` lists (``depmod``
writes it when a kernel or module package is installed): an option built as a module (``=m``)
works only when its module is there (Ubuntu's cloud kernels ship many in a separate
``linux-modules-extra`` package).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator

from nodedoctor._record import record
from nodedoctor.facts import Facts
from nodedoctor.facts.system import kernel
from nodedoctor.model import Evidence
from nodedoctor.parsers import ParseError
from nodedoctor.parsers.kconfig import KernelConfig, parse_kconfig
from nodedoctor.parsers.kmod import parse_modules_dep

#: A decompressed kernel config is ~250 KiB; cap what we accept from a hostile root.
_CONFIG_LIMIT = 4 * 1024 * 1024
#: Debian's generic kernel lists ~4,000 modules in ~520 KiB.
MODULES_DEP_LIMIT = 8 * 1024 * 1024

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

_MAJOR_MINOR = re.compile(r"^(\d+)\.(\d+)")


def _major_minor(version: str) -> tuple[str, str] | None:
    m = _MAJOR_MINOR.match(version)
    return (m.group(1), m.group(2)) if m else None


@record
class KernelConfigFacts:
    config: KernelConfig | None
    source: str | None
    #: The running kernel's release, when known.
    release: str | None = None
    #: Why no configuration is used although one was found (it is another kernel's).
    other_kernel: str | None = None

    def option_evidence(self, name: str) -> Evidence | None:
        if self.config is None or self.source is None:
            return None
        if name not in self.config.options:
            return Evidence(self.source, f"{name} is not in this configuration")
        option = self.config.options[name]
        return Evidence(self.source, option.text.strip(), option.line)

    def value(self, name: str) -> str | None:
        """``y``, ``m``, ``n`` (or a string option's text); ``n`` too for an option that a
        complete configuration does not name; ``None`` when that cannot be told."""
        if self.config is None:
            return None
        value = self.config.options.value(name)
        if value is None and self.config.complete:
            return "n"
        return value

    def missing_options(self, controller: str, v1: bool) -> list[str] | None:
        """The options this kernel lacks to give ``controller``; ``[]`` if it has them all,
        ``None`` when the configuration is unknown or does not know the controller."""
        if self.config is None or controller not in CONTROLLER_OPTIONS:
            return None
        names = list(CONTROLLER_OPTIONS[controller])
        if v1 and controller in V1_OPTIONS and V1_OPTIONS[controller] in self.config.options:
            names.append(V1_OPTIONS[controller])
        return [n for n in names if self.config.enabled(n) is False]


def _config_paths(release: str) -> tuple[str, ...]:
    return (
        f"/boot/config-{release}",
        f"/usr/src/linux-{release}/.config",
        "/usr/src/linux/.config",
        f"/usr/lib/modules/{release}/config",
        f"/lib/modules/{release}/config",
        f"/usr/lib/ostree-boot/config-{release}",
        f"/usr/lib/kernel/config-{release}",
        f"/usr/src/linux-headers-{release}/.config",
        f"/lib/modules/{release}/build/.config",
    )


def _decompress(raw: bytes) -> bytes:
    """A gzip member, inflated to at most :data:`_CONFIG_LIMIT` bytes: a decompression bomb
    is refused (``ValueError``), not expanded; ``zlib.error`` if it is not gzip."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    data = inflater.decompress(raw, _CONFIG_LIMIT + 1)
    if len(data) > _CONFIG_LIMIT or inflater.unconsumed_tail:
        raise ValueError(f"inflates to more than {_CONFIG_LIMIT // (1024 * 1024)} MiB")
    return data


def _proc_config(facts: Facts) -> KernelConfig | None:
    raw = facts.root.read_bytes("/proc/config.gz", limit=1024 * 1024)
    if raw is None or raw[1]:
        return None
    try:
        data = _decompress(raw[0])
    except zlib.error:
        facts.record_problem("/proc/config.gz", None, "not a gzip file")
        return None
    except ValueError as exc:
        facts.record_problem("/proc/config.gz", None, str(exc))
        return None
    return _parse(facts, "/proc/config.gz", data.decode("utf-8", errors="replace"))


def _candidates(facts: Facts, release: str | None) -> Iterator[tuple[str, KernelConfig]]:
    parsed = _proc_config(facts)
    if parsed is not None:
        yield "/proc/config.gz", parsed
    if release is None:
        return
    for path in _config_paths(release):
        parsed = facts.parse(path, parse_kconfig)
        if parsed is not None:
            yield path, parsed
            return


def kernel_config(facts: Facts) -> KernelConfigFacts:
    rel = facts.get(kernel).release
    release = rel.value if rel is not None and "/" not in rel.value else None
    wanted = _major_minor(release) if release is not None else None
    other: str | None = None
    for path, parsed in _candidates(facts, release):
        have = _major_minor(parsed.version) if parsed.version else None
        if wanted is not None and have is not None and have != wanted:
            other = (
                f"{path} is the configuration of Linux {parsed.version}, not of the running "
                f"kernel {release}"
            )
            continue
        return KernelConfigFacts(parsed, path, release)
    return KernelConfigFacts(None, None, release, other)


def _parse(facts: Facts, path: str, text: str) -> KernelConfig | None:
    try:
        return parse_kconfig(text)
    except ParseError as exc:
        facts.record_problem(path, exc.line, exc.message)
        return None


@record
class KernelModules:
    """The modules installed for the running release (``modules.dep``), when known."""

    names: frozenset[str] | None
    source: str | None

    def has(self, *candidates: str) -> bool | None:
        """Whether one of ``candidates`` is installed; ``None`` when that cannot be told."""
        if self.names is None:
            return None
        return any(c.replace("-", "_") in self.names for c in candidates)


def kernel_modules(facts: Facts) -> KernelModules:
    release = facts.get(kernel_config).release
    if release is None:
        return KernelModules(None, None)
    for base in ("/lib/modules", "/usr/lib/modules"):
        path = f"{base}/{release}/modules.dep"
        names = facts.parse(path, parse_modules_dep, MODULES_DEP_LIMIT)
        if names is not None:
            return KernelModules(names, path)
        if facts.parse_failed(path):
            break
    return KernelModules(None, None)
