"""Which build is running: the version, and for the single-file build the commit and date.

``scripts/build_zipapp.py`` writes ``nodedoctor/_build.py`` into the zipapp only; a wheel or
an editable install has no such module and calls itself a development build.
"""

from __future__ import annotations

import importlib

from nodedoctor import __version__
from nodedoctor._record import record


@record
class BuildInfo:
    """The running build, as ``--version`` prints it."""

    version: str
    #: ``zipapp`` for the single-file build, ``dev`` for a wheel or an editable install.
    kind: str
    commit: str
    date: str
    #: Vendored dependencies and their versions (zipapp only).
    dependencies: tuple[tuple[str, str], ...] = ()

    def line(self) -> str:
        """What ``nodedoctor --version`` prints.

        >>> BuildInfo("0.1.0", "dev", "", "").line()
        'nodedoctor 0.1.0 (dev)'
        >>> BuildInfo("0.1.0", "zipapp", "0123abc", "2026-01-02T03:04:05Z",
        ...           (("tomlkit", "0.13.2"),)).line()
        'nodedoctor 0.1.0 (zipapp, commit 0123abc, built 2026-01-02T03:04:05Z; tomlkit 0.13.2)'
        """
        if self.kind != "zipapp":
            return f"nodedoctor {self.version} ({self.kind})"
        deps = ", ".join(f"{name} {version}" for name, version in self.dependencies)
        tail = f"; {deps}" if deps else ""
        return (
            f"nodedoctor {self.version} ({self.kind}, commit {self.commit}, "
            f"built {self.date}{tail})"
        )


def build_info() -> BuildInfo:
    try:
        generated = importlib.import_module("nodedoctor._build")
    except ImportError:
        return BuildInfo(__version__, "dev", "", "")
    return BuildInfo(
        version=str(getattr(generated, "VERSION", __version__)),
        kind="zipapp",
        commit=str(getattr(generated, "COMMIT", "unknown")),
        date=str(getattr(generated, "DATE", "unknown")),
        dependencies=tuple(
            (str(name), str(version)) for name, version in getattr(generated, "DEPENDENCIES", ())
        ),
    )
