"""The command line: the only place that wires sources, facts, rules, renderers and engines."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from nodedoctor.cli.common import (
    EXIT_INTERNAL,
    EXIT_USAGE,
    UsageError,
    add_language_option,
    language_in,
    terminal_columns,
)
from nodedoctor.i18n import ENGLISH, N_, _, language, ngettext, set_language

#: Subcommand modules (``nodedoctor.cli.<name>``, each with ``register(subparsers)``) in the
#: order ``--help`` lists them, with the commands each registers. Running a command imports
#: its own module only: an NPD plugin is a fresh ``check`` every 30 s (tests/speed).
COMMANDS: dict[str, tuple[str, ...]] = {
    "check": ("check",),
    "rules_cmd": ("rules", "explain"),
    "report": ("report",),
    "collect": ("collect",),
    "fix": ("fix", "rollback", "journal"),
    "clean": ("clean",),
    "why": ("why",),
}


#: argparse's own words that a user of nodedoctor sees (its help's headings, its usage
#: errors), as Python 3.9 to 3.13 write them; argparse asks gettext for them, and
#: :func:`_argparse_language` has it ask nodedoctor's catalog instead.
ARGPARSE_WORDS = (
    N_("usage: "),
    N_("positional arguments"),
    N_("options"),
    N_("optional arguments"),
    N_("show this help message and exit"),
    N_("%(prog)s: error: %(message)s\n"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("unrecognized arguments: %s"),
    N_("the following arguments are required: %s"),
    N_("one of the arguments %s is required"),
    N_("not allowed with argument %s"),
    N_("ignored explicit argument %r"),
    N_("expected one argument"),
    N_("expected at most one argument"),
    N_("expected at least one argument"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("invalid %(type)s value: %(value)r"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("unknown parser %(parser_name)r (choices: %(choices)s)"),
    N_("can't open '%(filename)s': %(error)s"),
)
#: argparse's own gettext functions, kept while nodedoctor's stand in for them.
_ARGPARSE_GETTEXT: dict[str, Any] = {}


def _argparse_language() -> None:
    """argparse's words in the language of the run: its module's ``_`` and ``ngettext``
    are nodedoctor's while the language is not English, argparse's own (untouched) in
    English."""
    if not _ARGPARSE_GETTEXT:
        _ARGPARSE_GETTEXT.update(
            gettext=getattr(argparse, "_", None), ngettext=getattr(argparse, "ngettext", None)
        )
    english = language() == ENGLISH
    for name, ours in (("_", _), ("ngettext", ngettext)):
        original = _ARGPARSE_GETTEXT["gettext" if name == "_" else "ngettext"]
        if not english:
            setattr(argparse, name, ours)
        elif original is not None:
            setattr(argparse, name, original)


def _terminal_width() -> int:
    """``shutil.get_terminal_size().columns``, without importing shutil (and with it bz2,
    lzma and fnmatch, ~2 ms): argparse asks for it whenever it makes a formatter, and it
    makes one for every option it adds."""
    return terminal_columns(sys.__stdout__) or 80


class _Formatter(argparse.HelpFormatter):
    """argparse's help formatter, given the width argparse would work out itself."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
        **kwargs: Any,
    ) -> None:
        if width is None:
            width = _terminal_width() - 2  # as argparse does
        super().__init__(prog, indent_increment, max_help_position, width, **kwargs)

    def _split_lines(self, text: str, width: int) -> list[str]:
        """argparse wraps by characters at spaces; Chinese help is wrapped by display
        columns (a wide character takes two) and between wide characters."""
        if text.isascii():
            return super()._split_lines(text, width)
        from nodedoctor.render.text import wrap

        return wrap(" ".join(text.split()), width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.isascii():
            return super()._fill_text(text, width, indent)
        from nodedoctor.render.text import wrap

        return "\n".join(wrap(" ".join(text.split()), width, indent, indent))


class RawDescriptionFormatter(argparse.RawDescriptionHelpFormatter, _Formatter):
    """Descriptions and examples as written (their lines are commands to copy), in either
    language; option help wrapped as :class:`_Formatter` does."""


class _Parser(argparse.ArgumentParser):
    """A subcommand's parser (``add_parser``): argparse's, with the formatter above."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)


class _VersionAction(argparse.Action):
    """``--version``: the build line, worked out only when asked for (``buildinfo`` is a
    cost every other command would pay at start-up)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_args: object) -> NoReturn:
        from nodedoctor.buildinfo import build_info

        # As written, on one line (argparse's version action would reflow it).
        sys.stdout.write(build_info().line() + "\n")
        parser.exit()


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with a ``command`` that one module registers, only that command (the
    rest are not imported). Without one (help, a usage error), every command."""
    parser = argparse.ArgumentParser(
        prog="nodedoctor",
        description=_(
            "Find, explain and safely fix what stops a Kubernetes node from running pods."
        ),
        formatter_class=RawDescriptionFormatter,
    )
    parser.add_argument(
        "--version", action=_VersionAction, help=_("show program's version number and exit")
    )
    add_language_option(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    modules = [m for m, names in COMMANDS.items() if command in names] or list(COMMANDS)
    for module in modules:
        importlib.import_module(f"nodedoctor.cli.{module}").register(sub)
    for subparser in sub.choices.values():
        add_language_option(subparser)  # every command takes it
    return parser


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names: its first word that is not an option nor the value of
    ``--lang`` (the other top-level options, ``--version`` and ``--help``, take no value)."""
    words = iter(argv)
    for arg in words:
        if arg == "--lang":
            next(words, None)
        elif not arg.startswith("-"):
            return arg
    return None


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    set_language(language_in(argv))
    _argparse_language()
    command = _command(argv)
    known = [name for names in COMMANDS.values() for name in names]
    if command is not None and command not in known:
        from nodedoctor.cli.names import suggestion

        print(
            _(
                "nodedoctor: unknown command {command!r}{suggestion}; "
                "'nodedoctor --help' lists the commands"
            ).format(command=command, suggestion=suggestion(command, known)),
            file=sys.stderr,
        )
        return EXIT_USAGE
    parser = build_parser(command)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if getattr(args, "lang", None):  # also as an abbreviation argparse accepts (--la)
        set_language(args.lang)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(_("nodedoctor: {error}").format(error=exc), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        print(
            _("nodedoctor: internal error: {error}").format(error=f"{type(exc).__name__}: {exc}"),
            file=sys.stderr,
        )
        return EXIT_INTERNAL
