# Copyright: nodedoctor developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Run the single-file nodedoctor that the action plugin copied to the target.

It runs with the interpreter that runs the module: the target's own Python (3.9 or newer),
with ``-I`` so that nothing from the target's environment or user site is imported. The
zipapp carries its pure-Python dependencies; nothing is installed on the target.
"""

from __future__ import annotations

import json
import sys

FINDINGS_EXIT = 1

PROFILES = ["kubeadm", "kubespray", "microk8s", "k3s", "kops", "kubekey", "rke2"]
ROLES = ["control-plane", "worker"]


def argument_spec(**own):
    """The options every module takes (root, profile, the Kubernetes version and node role
    the node is to get, only, the zipapp the action plugin copies), plus the module's
    ``own``."""
    spec = {
        "root": {"type": "path", "default": "/"},
        "profile": {"type": "str", "choices": PROFILES},
        "kubernetes_version": {"type": "str"},
        "node_role": {"type": "str", "choices": ROLES},
        "only": {"type": "list", "elements": "str", "default": []},
        "pyz": {"type": "path"},
        "remote_pyz": {"type": "path"},
    }
    spec.update(own)
    return spec


def run_nodedoctor(module, args):
    """(exit code, parsed JSON stdout, stderr) of ``nodedoctor ARGS --format json``.

    Fails the task when nodedoctor could not run or did not print JSON (a usage error, an
    unreadable root, an internal error): that is a failure to check, not a result.
    """
    pyz = module.params["remote_pyz"]
    if not pyz:
        module.fail_json(msg="no nodedoctor.pyz on the target (remote_pyz is empty)")
    command = [sys.executable, "-I", pyz, *args, "--format", "json"]
    rc, out, err = module.run_command(command, check_rc=False)
    if rc not in (0, FINDINGS_EXIT):
        module.fail_json(
            msg="nodedoctor failed (exit %d): %s" % (rc, (err or out).strip()),
            rc=rc,
            cmd=command,
            stderr=err,
        )
    try:
        data = json.loads(out)
    except ValueError:
        module.fail_json(msg="nodedoctor did not print JSON", rc=rc, stdout=out, stderr=err)
    # What nodedoctor says on stderr beside its JSON (a file it could not read, a limit it
    # hit) is for the operator: it goes to the play's output as the task's warnings.
    for line in (err or "").splitlines():
        if line.strip():
            module.warn("nodedoctor: %s" % line.strip())
    return rc, data, err


def root_args(params):
    """The ``--root``, ``--profile``, ``--kubernetes-version``, ``--role`` and ``--only``
    options shared by check and fix."""
    args = []
    if params.get("root") and params["root"] != "/":
        args += ["--root", params["root"]]
    if params.get("profile"):
        args += ["--profile", params["profile"]]
    if params.get("kubernetes_version"):
        args += ["--kubernetes-version", params["kubernetes_version"]]
    if params.get("node_role"):
        args += ["--role", params["node_role"]]
    if params.get("only"):
        args += ["--only", *params["only"]]
    return args
