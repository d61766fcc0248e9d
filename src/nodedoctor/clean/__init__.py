"""Teardown: plan (:mod:`.plan`) and apply (:mod:`.engine`) the removal of what a cluster
leaves on a node: foreign cgroup mounts, CNI bpffs, kubelet mounts, CNI netns mounts and
empty kubepods cgroups. See DESIGN.md "Cleaning"."""

from __future__ import annotations
