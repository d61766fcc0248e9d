"""parse-error: a configuration file the node relies on cannot be parsed."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.model import Evidence, FixHint, Issue, Severity
from nodedoctor.rules.base import Rule


def _check_parse_errors(facts: Facts) -> Iterator[Issue]:
    for problem in facts.parse_problems:
        where = f"{problem.path}:{problem.line}" if problem.line else problem.path
        yield Issue(
            title=f"cannot parse {problem.path}",
            message=f"{where}: {problem.message}; rules that need this file were skipped",
            evidence=(Evidence(problem.path, problem.message, problem.line),),
            fix=FixHint(
                summary=f"correct the syntax of {problem.path} at the line shown",
                files=(problem.path,),
            ),
        )


RULE = Rule(
    id="parse-error",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    title="a configuration file the node relies on cannot be parsed",
    check=_check_parse_errors,
    tags=("nodedoctor",),
)
