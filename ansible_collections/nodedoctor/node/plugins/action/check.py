# Copyright: nodedoctor developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Copy the single-file nodedoctor to the target, then run the module with it."""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

#: ansible_collections/nodedoctor/node/plugins/action/ -> the collection, and the repository
#: the collection lives in (whose `make zipapp` writes dist/nodedoctor.pyz).
_COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(_COLLECTION)))


def find_pyz(option):
    candidates = [
        option,
        os.environ.get("NODEDOCTOR_PYZ"),
        os.path.join(_COLLECTION, "files", "nodedoctor.pyz"),
        os.path.join(_REPOSITORY, "dist", "nodedoctor.pyz"),
    ]
    for path in candidates:
        if path and os.path.isfile(os.path.expanduser(path)):
            return os.path.expanduser(path)
    if option:
        raise AnsibleActionFail("pyz: %s is not a file" % option)
    raise AnsibleActionFail(
        "nodedoctor.pyz not found: build it with `make zipapp` (dist/nodedoctor.pyz), or "
        "set the pyz option or NODEDOCTOR_PYZ on the controller"
    )


class ActionModule(ActionBase):
    TRANSFERS_FILES = True
    MODULE = "nodedoctor.node.check"

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        try:
            if not args.get("remote_pyz"):
                local = find_pyz(args.get("pyz"))
                # Where the operator can run the same nodedoctor on the controller (for
                # `explain RULE`): nothing is left installed on the target.
                result["nodedoctor_pyz"] = local
                shell = self._connection._shell
                if shell.tmpdir is None:
                    self._make_tmp_path()
                remote = shell.join_path(shell.tmpdir, "nodedoctor.pyz")
                self._transfer_file(local, remote)
                self._fixup_perms2((shell.tmpdir, remote))
                args["remote_pyz"] = remote
            args.pop("pyz", None)
            result.update(
                self._execute_module(module_name=self.MODULE, module_args=args, task_vars=task_vars)
            )
        except AnsibleActionFail as exc:
            result.update(exc.result)
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
