"""``nodedoctor collect``: write a bundle of this node (or of ``--root DIR``) for diagnosis
elsewhere with ``nodedoctor check --bundle FILE``."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from nodedoctor.cli.common import EXIT_OK, UsageError, refuse_unless_node
from nodedoctor.i18n import _


def _pad(text: str, width: int) -> str:
    """``text`` left-aligned in ``width`` display columns (a wide character takes two)."""
    from nodedoctor.render.text import columns

    return text + " " * max(0, width - columns(text))


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "collect",
        help=_(
            "write a .tar.gz bundle of the files and command outputs the rules read "
            "(credentials withheld or redacted)"
        ),
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help=_("where to write the bundle (default: nodedoctor-<host>-<time>.tar.gz here)"),
    )
    p.add_argument(
        "--root",
        metavar="DIR",
        help=_("collect a node's files under DIR (a mounted image) instead of this machine"),
    )
    p.add_argument("--format", default="text", choices=["text", "json"])
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nodedoctor.collect import collect
    from nodedoctor.sources.root import directory_root, live_root

    if args.root:
        if not os.path.isdir(args.root):
            raise UsageError(_("--root {path}: not a directory").format(path=args.root))
        root = refuse_unless_node(directory_root(args.root), args.root)
    else:
        root = live_root()
    if args.output:
        parent = os.path.dirname(os.path.abspath(args.output))
        if not os.path.isdir(parent):
            raise UsageError(
                _("-o {path}: {parent} is not a directory").format(path=args.output, parent=parent)
            )
    try:
        result = collect(root, args.output)
    except OSError as exc:
        raise UsageError(_("cannot write the bundle: {error}").format(error=exc)) from None
    if args.format == "json":
        out = {
            "bundle": result.path,
            "size": result.size,
            "files": list(result.files),
            "commands": list(result.commands),
            "withheld": [{"path": p, "reason": r} for p, r in result.withheld],
            "redacted": [{"path": p, "lines": list(lines)} for p, lines in result.redacted],
            "left_out": list(result.left_out),
            "left_out_reasons": dict(result.left_out_reasons),
            "directories_left_out": result.directories_left_out[0],
            "incomplete_listings": dict(result.incomplete_listings),
        }
        import json

        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return EXIT_OK
    lines = [
        _("wrote {path} ({size} bytes): {files} files, {commands} command outputs").format(
            path=result.path,
            size=result.size,
            files=len(result.files),
            commands=len(result.commands),
        ),
    ]
    withheld, redacted, left_out = _("withheld"), _("redacted"), _("left out")
    for path, reason in result.withheld:
        lines.append(f"  {_pad(withheld, 9)} {path} ({reason})")
    for path, changed in result.redacted:
        where = (
            " " + _("lines {numbers}").format(numbers=", ".join(map(str, changed)))
            if changed
            else ""
        )
        lines.append(f"  {_pad(redacted, 9)} {path}{where}")
    for path, reason in result.left_out_reasons:
        lines.append(f"  {_pad(left_out, 9)} {path} ({reason})")
    count, why = result.directories_left_out
    if count:
        empty = _("{n} empty directories ({why})").format(n=count, why=why)
        lines.append(f"  {_pad(left_out, 9)} {empty}")
    for directory, why in result.incomplete_listings:
        lines.append(f"  {_pad(_('in part'), 9)} {directory}: {why}")
    lines.append(
        _("diagnose it anywhere: nodedoctor check --bundle {path}").format(path=result.path)
    )
    sys.stdout.write("\n".join(lines) + "\n")
    return EXIT_OK
