# Copyright: nodedoctor developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""nodedoctor.node.fix: make the edits that fix nodedoctor's findings."""

from __future__ import annotations

DOCUMENTATION = r"""
module: fix
short_description: Fix what stops a node from running Kubernetes pods
description:
  - Runs C(nodedoctor fix) on the target with the target's own Python. It plans the edits that
    fix the findings (format-preserving, one file at a time) and applies them atomically,
    keeping the original bytes in nodedoctor's journal so C(nodedoctor rollback) restores them.
  - In check mode (C(--check)) it only plans, and reports C(changed) when the plan has edits.
  - With C(--diff) the plan's unified diff of every file is shown.
  - Services are restarted only with O(restart); a reboot is never done (see RV(reboot)).
  - The action plugin copies the single-file nodedoctor from the controller for the task.
version_added: "0.1.0"
options:
  root:
    description: Fix the node's files under this directory instead of the running system.
    type: path
    default: /
  profile:
    description:
      - The deployer that set the node up, or will (default, detected from the node).
    type: str
    choices: [kubeadm, kubespray, microk8s, k3s, kops, kubekey, rke2]
  kubernetes_version:
    description:
      - The Kubernetes version the deployer will install (C(--kubernetes-version)); rules that
        depend on the kubelet's version judge against it while no kubelet is installed.
        Default, the installed kubelet's, else the deployer's current default.
    type: str
  node_role:
    description:
      - What the node is to be, where nothing on it tells yet (C(--role)); deployers require
        more CPUs and memory of a control plane.
    type: str
    choices: [control-plane, worker]
  only:
    description: Fix only the findings of these rules.
    type: list
    elements: str
    default: []
  restart:
    description: After applying, restart the services the plan names (live node only).
    type: bool
    default: false
  pyz:
    description: Path on the controller of C(nodedoctor.pyz) (see M(nodedoctor.node.check)).
    type: path
  remote_pyz:
    description: Path on the target of a C(nodedoctor.pyz) already there.
    type: path
attributes:
  check_mode:
    description: In check mode the fix is planned and nothing is written.
    support: full
  diff_mode:
    description: Shows the unified diff of every file the plan edits.
    support: full
author: nodedoctor developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Show what would change
  nodedoctor.node.fix:
  check_mode: true
  diff: true

- name: Fix the cgroup driver mismatch and restart what it needs
  nodedoctor.node.fix:
    only: [cgroup-driver-mismatch]
    restart: true
"""

RETURN = r"""
plan:
  description:
    - The plan as C(nodedoctor fix --format json) gives it (steps with their diffs, commands,
      restarts, reboot, refusals, instructions it will not carry out).
  returned: always
  type: dict
applied:
  description: What the apply did (files written, journal id, commands, outcomes per rule).
  returned: when not in check mode and the plan had edits
  type: dict
journal:
  description: The journal id to give C(nodedoctor rollback).
  returned: when files were written
  type: str
manual:
  description: The plan's instructions for findings nodedoctor only explains (each with its rule, the instruction and why it is not done automatically).
  returned: when not in check mode and the plan had edits
  type: list
  elements: dict
restart_needed:
  description: Services to restart for the fix to take effect (when O(restart) is false).
  returned: when not in check mode and the plan had edits
  type: list
  elements: str
reboot:
  description: Whether a reboot is needed for the fix to take effect.
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.nodedoctor.node.plugins.module_utils.runner import (
    argument_spec,
    root_args,
    run_nodedoctor,
)


def _diffs(plan):
    return [
        {"before_header": step["path"], "after_header": step["path"], "prepared": step["diff"]}
        for step in plan.get("steps", [])
        if step.get("diff")
    ]


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(restart={"type": "bool", "default": False}),
        supports_check_mode=True,
    )
    params = module.params
    args = ["fix", *root_args(params)]

    planned = run_nodedoctor(module, args)[1]
    plan = planned.get("plan", {})
    has_edits = bool(plan.get("steps") or plan.get("commands"))
    result = {
        "changed": has_edits,
        "plan": plan,
        "reboot": bool(plan.get("reboot", {}).get("required")),
    }
    if module._diff:
        result["diff"] = _diffs(plan)
    if module.check_mode or not has_edits:
        result["msg"] = (
            "%d file edit(s) planned" % len(plan.get("steps", []))
            if has_edits
            else "nothing to fix"
        )
        module.exit_json(**result)

    apply_args = [*args, "--apply", "--yes"]
    if params["restart"]:
        apply_args.append("--restart")
    done = run_nodedoctor(module, apply_args)[1]
    applied = done.get("applied")
    result["plan"] = done.get("plan", plan)
    if module._diff:
        result["diff"] = _diffs(result["plan"])
    if "refused" in done:
        module.fail_json(
            msg="nothing written: %s: %s" % (done["refused"]["path"], done["refused"]["reason"]),
            **result,
        )
    result["applied"] = applied or {}
    result["changed"] = bool(result["applied"].get("written") or result["applied"].get("commands"))
    if result["applied"].get("journal"):
        result["journal"] = result["applied"]["journal"]
    # A fix that takes effect only when a service restarts (a Delegate= drop-in, a runtime
    # config) still fires until then: that is a pending restart, not a failed fix.
    restarts = result["plan"].get("restart", [])
    pending = set() if params["restart"] else {r.get("rule") for r in restarts}
    outcomes = result["applied"].get("outcomes", [])
    waiting = [
        o
        for o in outcomes
        if o.get("status") == "needs-restart"
        or (o.get("status") == "still-wrong" and o.get("rule") in pending)
    ]
    result["restart_needed"] = (
        sorted({r.get("service") for r in restarts}) if waiting and not params["restart"] else []
    )
    still_wrong = [
        o["rule"] for o in outcomes if o.get("status") == "still-wrong" and o["rule"] not in pending
    ]
    # Findings the plan only explains (a step nodedoctor will not take for you).
    result["manual"] = [
        i
        for i in result["plan"].get("will_not_do", [])
        if i.get("rule") in {o.get("rule") for o in outcomes if o.get("status") == "manual"}
    ]
    failed_commands = [
        " ".join(c.get("argv", []))
        for c in result["applied"].get("commands", []) + result["applied"].get("restarted", [])
        if c.get("returncode") != 0
    ]
    if still_wrong or failed_commands:
        module.fail_json(
            msg="fix applied but not everything is right: %s"
            % ", ".join(still_wrong + ["failed: " + c for c in failed_commands]),
            **result,
        )
    result["msg"] = "wrote %d file(s)" % len(result["applied"].get("written", []))
    if result["restart_needed"]:
        result["msg"] += "; restart to take effect: %s" % ", ".join(result["restart_needed"])
    if result["manual"]:
        result["msg"] += "; left to do by hand: %s" % ", ".join(
            sorted({i.get("rule", "") for i in result["manual"]})
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
