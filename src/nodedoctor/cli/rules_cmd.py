"""``nodedoctor rules`` and ``nodedoctor explain ID``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from nodedoctor.cli.common import EXIT_OK, UsageError
from nodedoctor.i18n import _


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("rules", help=_("list the rules"))
    p.set_defaults(func=run_rules)
    e: argparse.ArgumentParser = sub.add_parser(
        "explain", help=_("show a rule's documentation: symptoms, cause, impact, fix, verify")
    )
    e.add_argument("rule_id", metavar="ID")
    e.set_defaults(func=run_explain)


def run_rules(args: argparse.Namespace) -> int:
    from nodedoctor.rules import all_rules

    rules = all_rules()
    width = max(len(r.id) for r in rules)
    for r in rules:
        sys.stdout.write(f"{r.id:<{width}}  {r.most_severe.value:<7}  {_(r.title)}\n")
    return EXIT_OK


def run_explain(args: argparse.Namespace) -> int:
    from nodedoctor.cli.names import canonical_rule_name
    from nodedoctor.i18n import language
    from nodedoctor.rules import rule_by_id
    from nodedoctor.rules.base import DOC_SECTIONS, DOC_SECTIONS_ZH_CN

    rule = rule_by_id(canonical_rule_name(args.rule_id, families=False))
    if rule is None:  # canonical_rule_name names a rule or raises: never here
        raise UsageError(
            _("unknown rule {name!r}; see 'nodedoctor rules'").format(name=args.rule_id)
        )
    doc = rule.localized_doc
    out = [f"{rule.id} ({rule.most_severe.value}): {_(rule.title)}", ""]
    if doc.summary:
        out += [doc.summary, ""]
    out.append(_("Applies to: {versions}").format(versions=_(rule.applies_to)))
    if rule.tags:
        out.append(_("Tags: {tags}").format(tags=", ".join(rule.tags)))
    out.append("")
    chinese = language() == "zh_CN"
    for name in DOC_SECTIONS:
        body = doc.section(name)
        if body:
            heading = f"{DOC_SECTIONS_ZH_CN[name]} ({name.upper()})" if chinese else name.upper()
            out += [heading, body, ""]
    sys.stdout.write("\n".join(out))
    return EXIT_OK
