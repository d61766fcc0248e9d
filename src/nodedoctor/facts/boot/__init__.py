"""The kernel command line: what the running kernel got, and the file that feeds it.

Interface (for the remedies)
----------------------------
``facts.get(boot_chain)`` gives a :class:`BootChain`:

- ``target`` — the :class:`BootFile` the boot loader really reads on this node, or ``None``
  (no boot file in the root, or a PXE/netboot node): ``target.path`` is the file to edit,
  ``target.kind`` a :class:`BootFileKind` (``rpi-cmdline``: ``cmdline.txt`` read by the
  Raspberry Pi firmware, one line; ``grub``: ``/etc/default/grub`` (+ ``grub.d/*.cfg``)
  shell assignments; ``kernel-cmdline``: ``/etc/kernel/cmdline`` for kernel-install/UKI),
  ``target.params`` every parameter written there (each a :class:`PlacedParam` with
  ``source``, 1-based ``line``, 1-based ``position``, ``text``, and for GRUB the
  ``variable``), ``target.read_params`` the ones the boot loader uses (a ``cmdline.txt``'s
  first line only), ``target.edit_line``/``target.edit_variable`` where new parameters go.
- ``apply_commands`` — what must run after the file is edited (``update-grub``, ``grubby``,
  ``grub2-mkconfig``); a reboot is always needed.
- ``stubs`` — files nobody reads that hold parameters (the bookworm ``/boot/cmdline.txt``).

What to change is planned from these facts in nodedoctor.remedies.boot (``controller_fix``,
``plan_cmdline_edit``).

``facts.get(boot_entries)`` (RHEL 8+, GRUB with BLS) reads ``/boot/loader/entries/*.conf`` and
``/boot/grub2/grubenv`` (parsers/bls.py): each entry's parameters (``$kernelopts`` expanded,
every word placed at its file and line), the default entry (grubenv ``saved_entry``) and the
next boot's parameters, or why they cannot be told; ``BootEntries.keeping_off`` says
which of the next boot's words keep a controller off (the same verdict as for /proc/cmdline,
as the entry writes them).

Modules: ``cmdline`` (/proc/cmdline, :class:`PlacedParam`, the kernel's boot messages),
``chain`` (the boot file the boot loader reads), ``entries`` (BLS entries, the next boot),
``verdicts`` (what the parameters say about each controller).

Sources: research incidents.md §1 (which file each OS's boot loader reads, the bookworm
stub, the firmware's device-tree ``cgroup_disable=memory`` in front of cmdline.txt, the
last setting wins, firmware rewrites of ``console=serial0``); for the BLS entries the UAPI Boot
Loader Specification, RHEL 8 "What boot entries are" (``$kernelopts`` in grubenv),
rhboot/grub2#2 and rhinstaller/anaconda#1789/#1790 (the default entry: ``saved_entry``, else
the first in blscfg's sort order), see :func:`boot_entries` and parsers/bls.py.
"""

from __future__ import annotations

from nodedoctor.facts.boot.chain import (
    DEFAULT_GRUB,
    GRUB_D,
    KERNEL_CMDLINE,
    RPI_BOOT_CMDLINE,
    RPI_FIRMWARE_CMDLINE,
    BootChain,
    BootFile,
    BootFileKind,
    boot_chain,
)
from nodedoctor.facts.boot.cmdline import (
    KERNEL_LOG_COMMAND,
    PROC_CMDLINE,
    RELEVANT_KEYS,
    KernelCmdline,
    PlacedParam,
    cgroup_boot_messages,
    kernel_cmdline,
)
from nodedoctor.facts.boot.entries import (
    BLS_ENTRIES,
    GRUBENV,
    BootEntries,
    BootEntry,
    boot_entries,
)
from nodedoctor.facts.boot.verdicts import ControllerVerdict, controller_verdict, no_v1_token

__all__ = [
    "BLS_ENTRIES",
    "DEFAULT_GRUB",
    "GRUBENV",
    "GRUB_D",
    "KERNEL_CMDLINE",
    "KERNEL_LOG_COMMAND",
    "PROC_CMDLINE",
    "RELEVANT_KEYS",
    "RPI_BOOT_CMDLINE",
    "RPI_FIRMWARE_CMDLINE",
    "BootChain",
    "BootEntries",
    "BootEntry",
    "BootFile",
    "BootFileKind",
    "ControllerVerdict",
    "KernelCmdline",
    "PlacedParam",
    "boot_chain",
    "boot_entries",
    "cgroup_boot_messages",
    "controller_verdict",
    "kernel_cmdline",
    "no_v1_token",
]
