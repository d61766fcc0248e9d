# Copyright: nodedoctor developers
# Apache-2.0 (see the repository's licence)
"""Copy the single-file nodedoctor to the target, then run the fix module with it."""

from __future__ import annotations

from ansible_collections.nodedoctor.node.plugins.action.check import ActionModule as _Check


class ActionModule(_Check):
    MODULE = "nodedoctor.node.fix"
