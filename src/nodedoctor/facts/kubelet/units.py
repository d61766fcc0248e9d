"""The kubelet's argument list from its systemd unit: ``kubelet.service`` from the first unit
directory that has it, its drop-ins, ``Environment=`` then ``EnvironmentFile=``, the last
``ExecStart=`` expanded as systemd does; and kubeadm's files when the unit is not in the root.
"""

from __future__ import annotations

from nodedoctor._record import record
from nodedoctor.facts import Facts, Sourced, file_evidence
from nodedoctor.facts.kubelet.model import PlacedWord
from nodedoctor.i18n import _
from nodedoctor.parsers.systemd_unit import (
    EnvAssignment,
    PlacedAssignment,
    UnitFile,
    expand_exec,
    merge_service,
    parse_environment_file,
    parse_unit_file,
)

UNIT_DIRS = (
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
)

KUBEADM_FLAGS = "/var/lib/kubelet/kubeadm-flags.env"
KUBEADM_CONFIG = "/var/lib/kubelet/config.yaml"
KUBEADM_EXTRA = ("/etc/default/kubelet", "/etc/sysconfig/kubelet")


@record
class Service:
    """What a systemd unit gives the kubelet: its files, argument list and ``Delegate=``."""

    unit: str
    files: tuple[str, ...]
    words: tuple[PlacedWord, ...]
    delegate: Sourced[str] | None
    problems: tuple[str, ...]


def _unit_files(facts: Facts, unit: str) -> list[tuple[str, UnitFile]]:
    out: list[tuple[str, UnitFile]] = []
    for directory in UNIT_DIRS:
        path = f"{directory}/{unit}"
        text = facts.read(path)
        if text is not None:
            out.append((path, parse_unit_file(text)))
            break
    dropins: dict[str, str] = {}
    for directory in UNIT_DIRS:
        for path in facts.drop_ins(f"{directory}/{unit}.d", "*.conf"):
            dropins.setdefault(path.rsplit("/", 1)[1], path)
    for name in sorted(dropins):
        text = facts.read(dropins[name])
        if text is not None:
            out.append((dropins[name], parse_unit_file(text)))
    return out


def _locate(lines: list[str], first_line: int, needle: str) -> tuple[int, str]:
    for offset, text in enumerate(lines):
        if needle in text:
            return first_line + offset, text.strip()
    return first_line, lines[0].strip() if lines else needle


def service(facts: Facts, unit: str) -> Service | None:
    files = _unit_files(facts, unit)
    if not files:
        return None
    svc = merge_service(files)
    problems = [
        _("{path} cannot be read").format(path=f"{directory}/{unit}.d")
        for directory in UNIT_DIRS
        if facts.parse_failed(f"{directory}/{unit}.d")
    ]
    # Environment= first; EnvironmentFile= overrides it (systemd.exec(5)).
    env: dict[str, str] = {}
    origin: dict[str, tuple[str, EnvAssignment | PlacedAssignment]] = {}
    for name, (value, placed) in svc.environment.items():
        env[name] = value
        origin[name] = (placed.path, placed)
    for path, optional, placed in svc.environment_files:
        parsed = facts.parse(path, parse_environment_file)
        if parsed is None:
            if facts.parse_failed(path):
                problems.append(_("{path} cannot be parsed").format(path=path))
            elif not optional:
                problems.append(
                    _(
                        "{path} is missing but {where} requires it (no '-' prefix), so systemd "
                        "will not start the unit"
                    ).format(path=path, where=f"{placed.path}:{placed.assignment.line}")
                )
            continue
        for name, assignment in parsed.items():
            env[name] = assignment.value
            origin[name] = (path, assignment)
    words: list[PlacedWord] = []
    if svc.exec_start:
        if len(svc.exec_start) > 1:
            last = svc.exec_start[-1]
            problems.append(
                _(
                    "{where}: more than one ExecStart= without a reset; systemd refuses such a "
                    "service"
                ).format(where=f"{last.path}:{last.assignment.line}")
            )
        placed_exec = svc.exec_start[-1]
        exec_lines = placed_exec.assignment.text.splitlines()
        for index, expanded in enumerate(expand_exec(placed_exec.assignment.value, env)):
            if index == 0:
                continue  # the executable
            if expanded.variable and expanded.variable in origin:
                path, where = origin[expanded.variable]
                if isinstance(where, EnvAssignment):
                    line, text = where.locate(expanded.word)
                else:
                    line, text = _locate(
                        where.assignment.text.splitlines(), where.assignment.line, expanded.word
                    )
                words.append(PlacedWord(expanded.word, file_evidence(path, text, line)))
            else:
                line, text = _locate(exec_lines, placed_exec.assignment.line, expanded.word)
                words.append(PlacedWord(expanded.word, file_evidence(placed_exec.path, text, line)))
    delegate = None
    if svc.delegate is not None:
        a = svc.delegate.assignment
        delegate = Sourced(a.value, file_evidence(svc.delegate.path, a.text, a.line))
    return Service(
        unit=unit, files=svc.files, words=tuple(words), delegate=delegate, problems=tuple(problems)
    )


def kubeadm_without_unit(facts: Facts) -> list[PlacedWord]:
    """kubeadm's files without the unit that reads them (a partial bundle or image)."""
    words: list[PlacedWord] = []
    for path, variable in (
        (KUBEADM_FLAGS, "KUBELET_KUBEADM_ARGS"),
        *((p, "KUBELET_EXTRA_ARGS") for p in KUBEADM_EXTRA),
    ):
        parsed = facts.parse(path, parse_environment_file)
        if not parsed or variable not in parsed:
            continue
        assignment = parsed[variable]
        for word in assignment.value.split():
            line, text = assignment.locate(word)
            words.append(PlacedWord(word, file_evidence(path, text, line)))
        if path in KUBEADM_EXTRA:
            break
    return words
