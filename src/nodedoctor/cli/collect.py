"""``nodedoctor collect``: write a bundle of this node (or of ``--root DIR``) for diagnosis
elsewhere with ``nodedoctor check --bundle FILE``."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from nodedoctor.cli.common import EXIT_OK, UsageError, refuse_unless_node
from nodedoctor.i18n import _


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
            raise UsageError(f"--root {args.root}: not a directory")
        root = refuse_unless_node(directory_root(args.root), args.root)
    else:
        root = live_root()
    if args.output:
        parent = os.path.dirname(os.path.abspath(args.output))
        if not os.path.isdir(parent):
            raise UsageError(f"-o {args.output}: {parent} is not a directory")
    try:
        result = collect(root, args.output)
    except OSError as exc:
        raise UsageError(f"cannot write the bundle: {exc}") from None
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
        f"wrote {result.path} ({result.size} bytes): {len(result.files)} files, "
        f"{len(result.commands)} command outputs",
    ]
    for path, reason in result.withheld:
        lines.append(f"  withheld  {path} ({reason})")
    for path, changed in result.redacted:
        where = f" lines {', '.join(map(str, changed))}" if changed else ""
        lines.append(f"  redacted  {path}{where}")
    for path, reason in result.left_out_reasons:
        lines.append(f"  left out  {path} ({reason})")
    count, why = result.directories_left_out
    if count:
        lines.append(f"  left out  {count} empty directories ({why})")
    for directory, why in result.incomplete_listings:
        lines.append(f"  in part   {directory}: {why}")
    lines.append(f"diagnose it anywhere: nodedoctor check --bundle {result.path}")
    sys.stdout.write("\n".join(lines) + "\n")
    return EXIT_OK
