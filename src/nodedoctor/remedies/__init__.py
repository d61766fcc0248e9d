"""Remedies: what change a finding calls for, as data (which file, which edit, which
command, reboot). Facts describe the node, rules judge it, remedies plan the change, the fix
engine applies it; a remedy reads facts and never writes anything itself.

- :mod:`nodedoctor.remedies.boot`: the kernel command-line edit that turns cgroup
  controllers on (``plan_cmdline_edit``, ``CmdlineEdit``, ``grubby_command``) and the
  whole fix of ``cgroup-controller-disabled`` (``controller_fix``).
"""
