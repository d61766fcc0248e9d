"""containerd as it will run: the deployer's layout, its files loaded and merged as the installed
version merges them (or as both 1.x and 2.x would, when the version is unknown), and the
effective cgroup driver with the file, line and text that set it."""

from __future__ import annotations

from nodedoctor._record import replace
from nodedoctor.facts import Facts, Sourced
from nodedoctor.facts.containerd.diagnostics import (
    import_problems,
    k3s_rendered_edited,
    rendered_problems,
)
from nodedoctor.facts.containerd.handlers import Evaluation, evaluate
from nodedoctor.facts.containerd.layouts import deployer_layout, with_k3s_base
from nodedoctor.facts.containerd.loading import load_files, relative_globs
from nodedoctor.facts.containerd.model import ContainerdFacts
from nodedoctor.facts.packages import packages
from nodedoctor.facts.profile import deployer_profile
from nodedoctor.facts.versions import Version
from nodedoctor.i18n import _


def containerd_facts(facts: Facts) -> ContainerdFacts:
    profile = facts.get(deployer_profile)
    deployer = profile.deployer
    installed = facts.get(packages).get("containerd")
    version: Sourced[Version] | None = None
    # A deployer's own containerd (k3s, RKE2, MicroK8s) is not the package's.
    bundled = deployer is not None and deployer.bundles_containerd
    if installed is not None and installed.version is not None and not bundled:
        version = Sourced(installed.version, installed.evidence)
    layout = deployer_layout(facts, profile.name)
    top, choice, base = layout.top, layout.k3s_choice, layout.k3s_base
    semantics, semantics_note = layout.semantics, layout.semantics_note
    notes = list(layout.notes)

    #: What containerd reads that cannot be read whole: its effective settings are unknown.
    failed: list[str] = []
    files = (
        load_files(facts, top, layout.texts, failed=failed) if layout.k3s_default is None else []
    )
    present = bool(files) or installed is not None or layout.name != "standard"
    # What is known before the configuration is evaluated: no driver, handlers or CRI yet.
    empty = ContainerdFacts(
        present=present,
        layout=layout.name,
        config_path=top,
        version=version,
        semantics=semantics,
        semantics_note=semantics_note,
        config_version=None,
        files=tuple(files),
        default_runtime=None,
        handlers={},
        cgroup_driver=None,
        reported_driver=None,
        cri=None,
        problems=(),
        endpoint=layout.endpoint,
        notes=tuple(notes),
    )
    if base is not None and files and files[0].path == base.template:
        if choice is None:
            return replace(
                empty,
                present=True,
                notes=(),
                unknown=_(
                    "{path} uses k3s's base template, whose SystemdCgroup ({renderer}'s own "
                    "choice) cannot be told"
                ).format(path=top, renderer=layout.renderer),
            )
        files[0] = with_k3s_base(files[0], base, choice.value == "true")
        empty = replace(empty, files=tuple(files))
    if failed:
        return replace(empty, unknown=_("{path} cannot be parsed").format(path=failed[0]))
    if layout.name == "k3s" and not files:
        if layout.k3s_default is None:
            why = _("{renderer}'s own choice of driver cannot be told")
            return replace(empty, unknown=why.format(renderer=layout.renderer))
        k3s_driver = "systemd" if layout.k3s_default.value == "true" else "cgroupfs"
        d = Sourced(k3s_driver, layout.k3s_default.evidence)
        return replace(
            empty,
            default_runtime="runc",
            cgroup_driver=d,
            reported_driver=d,
            problems=tuple(k3s_rendered_edited(facts, layout, layout.k3s_default)),
        )
    if not files and installed is None:
        return empty

    if version is not None:
        semantics = 2 if version.value.release[0] >= 2 else 1
        semantics_note = f"containerd {version.value}"
    elif semantics is None and files and files[0].file_version >= 3:
        semantics = 2
        semantics_note = "config version 3 is only read by containerd 2.x"

    majors = [semantics] if semantics is not None else [1, 2]
    results: list[Evaluation] = []
    globs = relative_globs(files)
    for major in majors:
        loaded = files
        missing: list[tuple[str, str]] = []
        if files:
            loaded = load_files(
                facts, top, layout.texts, glob_from_cwd=major == 1, missing=missing, failed=failed
            )
            if base is not None and loaded and choice is not None:
                loaded[0] = files[0]
        result = evaluate(loaded, major, version.value if version else None, top)
        extra = import_problems(loaded, missing, globs if major == 1 else [])
        results.append(replace(result, problems=(*result.problems, *extra)))
    if failed:  # a relative import glob as containerd 1.x expands it, from /
        return replace(empty, unknown=_("{path} cannot be parsed").format(path=failed[0]))
    first = results[0]
    if len(results) > 1:
        a, b = results
        if a.outcome() != b.outcome():
            return replace(
                empty,
                unknown=_(
                    "the containerd version is unknown and containerd 1.x and 2.x would read "
                    "this configuration differently"
                ),
                problems=tuple(p for p in a.problems if p in b.problems),
            )
        semantics_note = "containerd version unknown; 1.x and 2.x read this configuration alike"
    default = first.handlers.get(first.default_name)
    problems = (*first.problems, *rendered_problems(facts, layout, files, default))
    driver = None
    if default is not None:
        driver = Sourced(default.driver, default.evidence)
    elif first.default_name:
        notes.append(f"the default runtime {first.default_name!r} is not a runc handler")
    return ContainerdFacts(
        present=True,
        layout=layout.name,
        config_path=top,
        version=version,
        semantics=semantics,
        semantics_note=semantics_note,
        config_version=first.config_version,
        files=tuple(files),
        default_runtime=first.default_name,
        handlers=first.handlers,
        cgroup_driver=driver,
        reported_driver=first.reported,
        cri=first.cri,
        problems=problems,
        endpoint=layout.endpoint,
        notes=tuple(notes),
    )
