# Copyright: nodedoctor developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""nodedoctor.node.check: find what stops a node from running Kubernetes pods."""

from __future__ import annotations

DOCUMENTATION = r"""
module: check
short_description: Find what stops a node from running Kubernetes pods
description:
  - Runs C(nodedoctor check) on the target with the target's own Python (3.9 or newer) and
    returns the findings as structured data, each with its evidence (file, line, text) and fix.
  - The action plugin copies the single-file nodedoctor (C(nodedoctor.pyz)) from the
    controller to the target's temporary directory for the task; nothing is installed on the
    target and no pip is needed there.
  - Fails the task when a finding is at or above O(fail_on).
  - Reads only; in check mode it runs the same way.
version_added: "0.1.0"
options:
  root:
    description:
      - Check the node's files under this directory (a mounted disk image, an extracted
        bundle) instead of the running system. Nothing under it is executed.
    type: path
    default: /
  profile:
    description:
      - The deployer that set the node up, or will (default, detected from the node).
      - When given and nodedoctor detects another deployer on the node, the task warns
        (see RV(detected_deployer)).
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
    description: Run only these rules; a family name (for example C(CgroupDriverMismatch)) names its rules.
    type: list
    elements: str
    default: []
  skip:
    description: Rules not to run.
    type: list
    elements: str
    default: []
  fail_on:
    description: Fail the task when a finding is at or above this severity; C(never) never fails.
    type: str
    choices: [error, warning, info, never]
    default: error
  pyz:
    description:
      - Path on the controller of C(nodedoctor.pyz). Default, the C(NODEDOCTOR_PYZ)
        environment variable, then the collection's C(files/nodedoctor.pyz), then
        C(dist/nodedoctor.pyz) of the repository the collection lives in.
    type: path
  remote_pyz:
    description:
      - Path on the target of a C(nodedoctor.pyz) already there; set by the action plugin
        when it copies one.
    type: path
attributes:
  check_mode:
    description: Can run in check mode and return the same findings (it only reads).
    support: full
  diff_mode:
    description: Nothing is changed, so there is no diff.
    support: none
author: nodedoctor developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Preflight before cluster.yml
  nodedoctor.node.check:
    fail_on: error
  register: nodedoctor

- name: Check a disk image mounted on the controller's host
  nodedoctor.node.check:
    root: /mnt/rpi-image
    fail_on: never
"""

RETURN = r"""
findings:
  description: The findings, as in nodedoctor's JSON report.
  returned: always
  type: list
  elements: dict
  sample:
    - rule: cgroup-driver-mismatch
      severity: error
      title: kubelet uses systemd, containerd uses cgroupfs
      evidence: [{source: /etc/containerd/config.toml, line: 125, text: SystemdCgroup = false}]
      fix: {available: true, summary: set SystemdCgroup = true}
failing:
  description: The rule ids of the findings at or above O(fail_on).
  returned: always
  type: list
  elements: str
summary:
  description: Counts of findings by severity, passed and skipped rules.
  returned: always
  type: dict
skipped_rules:
  description:
    - Rules that could not be evaluated, each with its reason (not C(skipped), which
      Ansible reads as "the task was skipped").
  returned: always
  type: list
  elements: dict
node:
  description: What nodedoctor saw of the node (OS, kernel, cgroup mode, kubelet, runtime).
  returned: always
  type: dict
python:
  description: The version of the target's Python that ran nodedoctor.
  returned: always
  type: str
  sample: 3.9.18
report:
  description: The whole JSON report (C(nodedoctor/report/v1)), for C(nodedoctor report).
  returned: always
  type: dict
detected_deployer:
  description:
    - The deployer nodedoctor detects on the node without O(profile) (for example
      C(microk8s)); null before a deployer has run. When O(profile) is given and differs,
      the task warns.
  returned: always
  type: str
  sample: microk8s
command:
  description: The nodedoctor command line that was run (without the interpreter).
  returned: always
  type: list
  elements: str
  sample: [nodedoctor, check, --profile, kubespray, --kubernetes-version, 1.33.4, --format, json]
"""

import sys

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.nodedoctor.node.plugins.module_utils.runner import (
    argument_spec,
    root_args,
    run_nodedoctor,
)

_RANK = {"info": 1, "warning": 2, "error": 3}

#: The rule a run that only asks what nodedoctor detects runs: it reads little and exists in
#: every build; the node section of its report is filled all the same.
_DETECT_ONLY = "swap-enabled"


def _where(finding):
    """``source:line`` of a finding's first evidence, or ``""``."""
    evidence = finding.get("evidence") or []
    if not evidence or not evidence[0].get("source"):
        return ""
    first = evidence[0]
    line = first.get("line")
    return "%s:%s" % (first["source"], line) if line is not None else first["source"]


def _profile_warning(module, params):
    """When a profile is given, the deployer nodedoctor detects without it (a second,
    one-rule run): a warning when they differ, since checking a MicroK8s node as Kubespray's
    hides the errors only MicroK8s's layout explains. ``None`` when they agree or nothing is
    detected (a node before its deployer ran)."""
    args = ["check"]
    if params.get("root") and params["root"] != "/":
        args += ["--root", params["root"]]
    detected = run_nodedoctor(module, args + ["--only", _DETECT_ONLY])[1]
    deployer = ((detected.get("node") or {}).get("kubelet") or {}).get("deployer")
    if not deployer or deployer == params["profile"]:
        return deployer, None
    return deployer, (
        "profile %s was given, but nodedoctor detects a %s node: the findings are judged "
        "against %s's layout and may hide this node's problems; leave profile unset to use "
        "what nodedoctor detects" % (params["profile"], deployer, params["profile"])
    )


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            skip={"type": "list", "elements": "str", "default": []},
            fail_on={
                "type": "str",
                "choices": ["error", "warning", "info", "never"],
                "default": "error",
            },
        ),
        supports_check_mode=True,
    )
    params = module.params
    args = ["check", *root_args(params)]
    if params["skip"]:
        args += ["--skip", *params["skip"]]
    report = run_nodedoctor(module, args)[1]

    findings = report.get("findings", [])
    threshold = _RANK.get(params["fail_on"], 99)
    failing = [f["rule"] for f in findings if _RANK.get(f.get("severity"), 0) >= threshold]
    result = {
        "changed": False,
        "findings": findings,
        "failing": sorted(set(failing)),
        "summary": report.get("summary", {}),
        "skipped_rules": report.get("skipped", []),
        "node": report.get("node", {}),
        "report": report,
        "python": "%d.%d.%d" % sys.version_info[:3],
        "command": ["nodedoctor", *args, "--format", "json"],
    }
    if params.get("profile"):
        detected, mismatch = _profile_warning(module, params)
        result["detected_deployer"] = detected
        if mismatch:
            module.warn(mismatch)
    else:
        result["detected_deployer"] = (result["node"].get("kubelet") or {}).get("deployer")
    # Findings below the threshold do not fail the task; those at warning reach the play's
    # output all the same.
    for finding in findings:
        if finding.get("severity") == "warning" and finding["rule"] not in failing:
            where = _where(finding)
            module.warn(
                "%s: %s%s" % (finding["rule"], finding.get("title", ""), " (%s)" % where if where else "")
            )
    if failing:
        module.fail_json(
            msg="%d finding(s) at or above %s: %s"
            % (len(failing), params["fail_on"], ", ".join(result["failing"])),
            **result,
        )
    summary = result["summary"]
    result["msg"] = "%s error(s), %s warning(s), %s passed, %s skipped" % (
        summary.get("error", 0),
        summary.get("warning", 0),
        summary.get("passed", 0),
        summary.get("skipped", 0),
    )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
