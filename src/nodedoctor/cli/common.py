"""Options and helpers every subcommand shares."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from nodedoctor.i18n import LANGUAGES, _, parse_language
from nodedoctor.model import Severity
from nodedoctor.sources.root import Root, directory_root, live_root, not_a_node_root

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3

#: facts/deployers.py PROFILES, repeated so that start-up loads no facts.
PROFILES = ("kubeadm", "kubespray", "microk8s", "k3s", "kops", "kubekey", "rke2")
#: facts/noderole.py ROLES, repeated for the same reason.
ROLES = ("control-plane", "worker")


class UsageError(Exception):
    """Bad arguments or unreadable input: exit code 2, a one-line message, no traceback."""


def add_root_options(parser: argparse.ArgumentParser, many: bool = False) -> None:
    """``--root``/``--bundle``; with ``many`` each takes several (``check``'s batch mode)."""
    where = parser.add_mutually_exclusive_group()
    # Several: ``--root A B`` and ``--root A --root B`` both give [A, B].
    several: dict[str, Any] = {"nargs": "+", "action": "extend"} if many else {}
    where.add_argument(
        "--root",
        metavar="DIR",
        help=(
            _(
                "check a node's files under DIR (a mounted image, an extracted bundle) "
                "instead of this machine; several: one JSON line each"
            )
            if many
            else _(
                "check a node's files under DIR (a mounted image, an extracted bundle) "
                "instead of this machine"
            )
        ),
        **several,
    )
    where.add_argument(
        "--bundle",
        metavar="FILE",
        help=(
            _(
                "check a bundle written by 'nodedoctor collect' (a .tar.gz), extracted safely "
                "into a private temporary directory; several: one JSON line each"
            )
            if many
            else _(
                "check a bundle written by 'nodedoctor collect' (a .tar.gz), extracted safely "
                "into a private temporary directory"
            )
        ),
        **several,
    )
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        help=_("the deployer that set the node up, or will (default: detected from the node)"),
    )
    parser.add_argument(
        "--role",
        choices=ROLES,
        help=_(
            "what the node is to be, where nothing on it tells yet (before a deployer runs): "
            "minimums of CPUs and memory differ by role"
        ),
    )
    parser.add_argument(
        "--kubernetes-version",
        metavar="X.Y",
        type=kubernetes_version,
        help=_(
            "the Kubernetes version the deployer will install, judged before anything is "
            "installed (default: the installed kubelet's, else the deployer's current default)"
        ),
    )


def kubernetes_version(value: str) -> str:
    """``--kubernetes-version``: ``1.35``, ``v1.35`` or ``1.35.2``.

    >>> kubernetes_version("v1.35")
    'v1.35'
    """
    import re

    if not re.match(r"^v?\d{1,3}\.\d{1,3}(\.\d{1,4})?$", value.strip()):
        raise argparse.ArgumentTypeError(
            _("{value!r} is not a version like 1.35 or 1.35.2").format(value=value)
        )
    return value.strip()


def add_language_option(parser: argparse.ArgumentParser) -> None:
    """``--lang``, which every command takes: the language of the texts for people, over the
    environment's (LANGUAGE, LC_ALL, LC_MESSAGES, LANG)."""
    parser.add_argument(
        "--lang",
        metavar="LANG",
        type=_language,
        help=_(
            "the language of the texts for people: {choices} (default: from the "
            "environment, LANGUAGE, LC_ALL, LC_MESSAGES, LANG; else en)"
        ).format(choices=", ".join(LANGUAGES)),
    )


def _language(value: str) -> str:
    try:
        return parse_language(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("{value!r} is not one of: {choices}").format(
                value=value, choices=", ".join(LANGUAGES)
            )
        ) from None


def language_in(argv: Sequence[str]) -> str | None:
    """The language ``--lang`` names in ``argv``, before argparse reads it (the help it
    prints is made in that language); None when not given or not one nodedoctor speaks.

    >>> language_in(["check", "--lang", "zh_CN.UTF-8"]), language_in(["--lang=xx", "check"])
    ('zh_CN', None)
    """
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        value = argv[i + 1] if arg == "--lang" and i + 1 < len(argv) else None
        if arg.startswith("--lang="):
            value = arg[len("--lang=") :]
        if value is not None:
            try:
                return parse_language(value)
            except ValueError:
                return None
    return None


def open_root(args: argparse.Namespace) -> Root:
    for kind in ("bundle", "root"):
        value = getattr(args, kind, None)
        if isinstance(value, list):  # ``many`` options; batch mode handles more than one
            if len(value) != 1:
                raise UsageError(
                    _("--{option}: this command checks one node at a time").format(option=kind)
                )
            value = value[0]
        if value:
            return open_target(kind, value)
    return live_root()


def open_target(kind: str, path: str) -> Root:
    """The root for ``--bundle FILE`` (``kind`` ``bundle``) or ``--root DIR`` (``root``),
    refused when its files have none of a node's marks."""
    return refuse_unless_node(_open_target(kind, path), path)


def refuse_unless_node(root: Root, shown: str) -> Root:
    """``root``, or a usage error naming ``shown`` when it has none of a node's marks: an
    empty directory, an unmounted mount point or a root's parent is never a healthy node."""
    refused = not_a_node_root(root, shown)
    if refused is None:
        return root
    close = getattr(root, "close", None)
    if close is not None:
        close()  # a bundle's extracted files go now
    raise UsageError(refused)


def _open_target(kind: str, path: str) -> Root:
    if kind == "bundle":
        from nodedoctor.sources.bundle import BundleError, open_bundle

        try:
            return open_bundle(path)
        except BundleError as exc:
            raise UsageError(_("--bundle: {error}").format(error=exc)) from None
    if not os.path.isdir(path):
        raise UsageError(_("--root {path}: not a directory").format(path=path))
    # An extracted bundle keeps its recorded commands and running state. The bundle module
    # (tarfile, gzip) is imported only when the directory has a manifest: start-up cost.
    if os.path.lexists(os.path.join(path, ".nodedoctor")):
        from nodedoctor.sources.bundle import bundle_directory_root

        return bundle_directory_root(path) or directory_root(path)
    return directory_root(path)


def parse_severity(value: str) -> Severity:
    try:
        return Severity(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("{value!r} is not one of: {choices}").format(
                value=value, choices="error, warning, info"
            )
        ) from None


def use_color(stream: object = None) -> bool:
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


def node_options(args: argparse.Namespace) -> tuple[str, ...]:
    """The options, as given, that name the node a command reads (``--root DIR``, ``--bundle
    FILE``, ``--profile P``, ``--kubernetes-version V``): every nodedoctor command its report
    suggests repeats them."""
    out: list[str] = []
    for kind in ("root", "bundle"):
        value = getattr(args, kind, None)
        if isinstance(value, list):  # ``many`` options: one node here
            value = value[0] if len(value) == 1 else None
        if value:
            out += [f"--{kind}", value]
    if getattr(args, "profile", None):
        out += ["--profile", args.profile]
    if getattr(args, "role", None):
        out += ["--role", args.role]
    if getattr(args, "kubernetes_version", None):
        out += ["--kubernetes-version", args.kubernetes_version]
    return tuple(out)


def terminal_columns(stream: object = None, terminal: bool = True) -> int | None:
    """``COLUMNS``, else the width of the terminal ``stream`` (default: stdout) is, else None
    (a pipe, a file; or ``terminal`` false: the output goes elsewhere)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    fileno = getattr(stream or sys.stdout, "fileno", None) if terminal else None
    try:
        return os.get_terminal_size(fileno()).columns if fileno else None
    except (ValueError, OSError):  # not a terminal, or no descriptor (io.UnsupportedOperation)
        return None
