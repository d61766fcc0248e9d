# Copyright: nodedoctor developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Copy the single-file nodedoctor to the target, then run the fix module with it."""

from __future__ import annotations

from ansible_collections.nodedoctor.node.plugins.action.check import ActionModule as _Check


class ActionModule(_Check):
    MODULE = "nodedoctor.node.fix"
