"""Options and helpers every subcommand shares."""

from __future__ import annotations

import argparse
import os
import sys

from nodedoctor.model import Severity
from nodedoctor.sources.root import Root, directory_root, live_root

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3

PROFILES = ("kubeadm", "kubespray", "microk8s", "k3s", "kops", "kubekey")


class UsageError(Exception):
    """Bad arguments or unreadable input: exit code 2, a one-line message, no traceback."""


def add_root_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--root",
        metavar="DIR",
        help="check a node's files under DIR (a mounted image, an extracted bundle) "
        "instead of this machine",
    )
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        help="the deployer that set the node up (default: detected from the node)",
    )


def open_root(args: argparse.Namespace) -> Root:
    if getattr(args, "root", None):
        path = args.root
        if not os.path.isdir(path):
            raise UsageError(f"--root {path}: not a directory")
        return directory_root(path)
    return live_root()


def parse_severity(value: str) -> Severity:
    try:
        return Severity(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not one of: error, warning, info") from None


def use_color(stream: object = None) -> bool:
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"
