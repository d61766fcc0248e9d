"""parse-error: a configuration file the node relies on cannot be parsed."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.i18n import N_, _
from nodedoctor.model import Evidence, FixHint, Issue, Severity
from nodedoctor.rules.base import Rule


def _check_parse_errors(facts: Facts) -> Iterator[Issue]:
    for problem in facts.parse_problems:
        where = f"{problem.path}:{problem.line}" if problem.line else problem.path
        yield Issue(
            title=_("cannot parse {path}").format(path=problem.path),
            message=_("{where}: {problem}; rules that need this file were skipped").format(
                where=where, problem=problem.message
            ),
            evidence=(Evidence(problem.path, problem.message, problem.line),),
            fix=FixHint(
                summary=_("correct the syntax of {path} at the line shown").format(
                    path=problem.path
                ),
                files=(problem.path,),
            ),
        )


RULE = Rule(
    id="parse-error",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    title=N_("a configuration file the node relies on cannot be parsed"),
    check=_check_parse_errors,
    tags=("nodedoctor",),
)
