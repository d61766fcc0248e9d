"""Remedies: what change a finding calls for, as data (which file, which edit, which
command, restart, reboot). Facts describe the node, rules judge it, remedies plan the change,
the fix engine applies it; a remedy reads facts and never writes anything itself.

A rule builds its finding's remedy when it decides the finding (``Issue.remedy``), with the
planning functions below; ``nodedoctor fix`` carries the remedy out as it is
(``fix/planner.py``, one applier per kind of step in ``fix/appliers.py``).

- :mod:`~nodedoctor.remedies.steps`: :class:`~nodedoctor.remedies.steps.Remedy`, the kinds
  of step, and ``PLAN_ORDER``, the order a plan carries remedies out in.
- :mod:`~nodedoctor.remedies.boot`: the kernel command-line edit that turns cgroup
  controllers on (``plan_cmdline_edit``, ``CmdlineEdit``, ``grubby_command``) and the whole
  decision for ``cgroup-controller-disabled`` (``controller_fix``), which its advice shows;
  :mod:`~nodedoctor.remedies.boot_steps` turns them into steps (``controller_remedy``,
  ``cmdline_ignored_remedy``).
- :mod:`~nodedoctor.remedies.containerd`: CRI out of ``disabled_plugins``, ``version = 2``;
  :mod:`~nodedoctor.remedies.crio`: the cgroup manager drop-in, ``conmon_cgroup``;
  :mod:`~nodedoctor.remedies.driver`: ``cgroup-driver-mismatch`` on either side.
- :mod:`~nodedoctor.remedies.kubelet`: ``Delegate=yes``, the kubelet's cgroup driver, the QoS
  workaround removed once its cause is gone, ``kubepods-invalid``.
- :mod:`~nodedoctor.remedies.by_hand`: the findings whose advice the user carries out.
"""
