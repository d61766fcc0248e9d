"""Writing a command's output to a file: atomically, so readers never see half of it.

The node exporter's textfile collector, NPD and CI systems read these files while nodedoctor
writes them; a temp file in the same directory renamed over the target is all or nothing.
"""

from __future__ import annotations

import contextlib
import os

from nodedoctor.cli.common import UsageError
from nodedoctor.i18n import _


def write_atomic(path: str, text: str, mode: int = 0o644) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError(
            _("--output {path}: directory {directory} does not exist").format(
                path=path, directory=directory
            )
        )
    import tempfile  # only --output pays its import (with shutil and random), not a check

    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=directory, prefix=f".{os.path.basename(path)}.", delete=False
    ) as out:
        try:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
            os.fchmod(out.fileno(), mode)
            os.replace(out.name, path)  # written and synced: the rename shows all of it
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(out.name)
            raise
