"""CRI-O's ``crio.conf`` and its ``crio.conf.d/*.conf`` drop-ins (TOML), with key lines.

>>> conf = parse_crio_config('[crio.runtime]\\ncgroup_manager = "cgroupfs"\\n'
...                          'conmon_cgroup = "system.slice"\\n')
>>> conf.get(("crio", "runtime", "cgroup_manager"))
'cgroupfs'
>>> conf.locate(("crio", "runtime", "conmon_cgroup"))
TomlLine(line=3, text='conmon_cgroup = "system.slice"')
"""

from __future__ import annotations

from nodedoctor.parsers.containerd import ContainerdConfigFile, parse_containerd_config

#: A CRI-O file is plain TOML; the containerd parser already keeps the lines of every key.
CrioConfigFile = ContainerdConfigFile


def parse_crio_config(text: str) -> CrioConfigFile:
    return parse_containerd_config(text)
