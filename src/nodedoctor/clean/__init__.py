"""Teardown: plan (:mod:`.plan`, :mod:`.leftovers`) and apply (:mod:`.engine`, :mod:`.ops`)
the removal of what a cluster leaves on a node: foreign cgroup mounts, CNI bpffs, kubelet
mounts, CNI netns mounts and empty kubepods cgroups; orphaned pod directories, CNI
configuration and state and kubeadm's files (moved into :mod:`.journal`), CNI and kube-proxy
interfaces, iptables chains and nftables tables (saved there first); :mod:`.rollback` brings
back what the journal keeps. See DESIGN.md "Cleaning"."""

from __future__ import annotations
