"""What ``--help`` says of the commands that change or judge a node: a description and
examples, printed as written (lines of at most 78 columns, examples whole), in the language
of the run (nodedoctor.i18n: a translation keeps the lines within 78 display columns).

Each example is a command a user can paste; tests/test_cli_help.py parses every one with the
command's own parser, so an example cannot name an option that does not exist.
"""

from __future__ import annotations

from typing import Any

from nodedoctor.i18n import N_, _

HELP: dict[str, tuple[str, str]] = {
    "check": (
        N_(
            """\
Check a node for what stops it from running pods: cgroups, the kubelet's and
the runtime's configuration, the boot command line, AppArmor, cloud-init and
what a torn-down cluster left behind. Every finding names its evidence (file
and line, command output), the cause, the impact and the fix.

Without --root or --bundle the machine it runs on is checked. Exit status: 0
nothing at or above --fail-on, 1 findings at or above it, 2 usage or input
error, 3 internal error.

The text report leads with one line per finding and the verdict, then each
finding's details. It is wrapped at the terminal's width (COLUMNS, else the
terminal's, else 80; at most 100), never inside a word; a command stands on a
line of its own, whole, even when longer, so that it pastes as printed (so
does a path longer than the width). Every nodedoctor command it suggests
names the node checked (--root, --bundle, --profile)."""
        ),
        N_(
            """\
examples:
  nodedoctor check                                  this machine
  nodedoctor check --root /mnt/node-disk            a mounted node image
  nodedoctor check --bundle node7.tar.gz            a bundle from 'collect'
  nodedoctor check --only CgroupDriverMismatch      one family of rules
  nodedoctor check --fail-on warning --format json  for CI and scripts
  nodedoctor check --logs kubelet.log               rules the log points at
  nodedoctor check --root /srv/a /srv/b -j 2        many nodes, JSON lines"""
        ),
    ),
    "fix": (
        N_(
            """\
Plan the edits that fix the findings of a check; with --apply, make them.
Every edited file is saved in a journal first ('nodedoctor journal' lists
them) and 'nodedoctor rollback' restores it byte for byte. Services are
restarted only with --restart; a reboot is never done, only said.

On a --root directory the files under it are edited (an offline image); a
bundle is a copy of a node and can only be planned."""
        ),
        N_(
            """\
examples:
  nodedoctor fix                                    show the plan here
  nodedoctor fix --only swap-enabled --apply        apply one rule's fix
  nodedoctor fix --apply --yes --restart            apply all, restart services
  nodedoctor fix --root /mnt/node-disk --apply      edit an offline image
  nodedoctor rollback                               undo the last apply"""
        ),
    ),
    "clean": (
        N_(
            """\
Plan the teardown that 'kubeadm reset', 'kk delete cluster' and the other
deployers' uninstallers leave undone (foreign cgroup mounts, CNI bpffs and
network namespaces, kubelet mounts, empty kubepods cgroups); with --apply,
do it on this machine, then verify that nothing is left. Nothing is done
while the kubelet or the container runtime runs, unless --stop stops them
first (through systemd) or --force is given."""
        ),
        N_(
            """\
examples:
  nodedoctor clean                                  show the plan here
  nodedoctor clean --root /mnt/node-disk            plan for an offline image
  nodedoctor clean --apply                          do it, after a y/N prompt
  nodedoctor clean --apply --yes --stop             stop kubelet, runtime first"""
        ),
    ),
}


def help_kwargs(command: str) -> dict[str, Any]:
    """``add_parser`` keywords: ``command``'s description and examples, kept as written."""
    from nodedoctor.cli import RawDescriptionFormatter

    description, epilog = HELP[command]
    return {
        "description": _(description),
        "epilog": _(epilog),
        "formatter_class": RawDescriptionFormatter,
    }
