"""Which boot loader command each distribution's layout calls for: the Red Hat family without
ID_LIKE (openEuler, Kylin Linux Advanced Server, Oracle Linux 7), BLS or not, BIOS or UEFI.

The files are the distributions' own, as printed on real nodes:
- openEuler 22.03 LTS-SP3 /etc/os-release (``ID="openEuler"``, no ID_LIKE; ansible's
  test/units/module_utils/facts/system/distribution/fixtures/openeuler_20.03.json has 20.03's);
- openEuler /etc/default/grub as anaconda writes it (no GRUB_ENABLE_BLSCFG; the LVM names and
  ``cgroup_disable=files apparmor=0`` of 22.03's kernel command line);
- openEuler 22.03 aarch64 grub.cfg on the EFI system partition, with its menu entries
  (openeuler-mirror/sysmaster "docs/resolution/01-run sysmaster with vm.md");
- Kylin Linux Advanced Server V10 and Kylin Desktop V10 os-release (ansible's
  kylin_linux_advanced_server_v10.json; the desktop's ``ID_LIKE=debian``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nodedoctor.facts.boot import boot_chain
from nodedoctor.facts.system import os_release
from tests.helpers import facts_from_files

OPENEULER_2203 = (
    'NAME="openEuler"\nVERSION="22.03 (LTS-SP3)"\nID="openEuler"\nVERSION_ID="22.03"\n'
    'PRETTY_NAME="openEuler 22.03 (LTS-SP3)"\nANSI_COLOR="0;31"\n'
)
OPENEULER_DEFAULT_GRUB = (
    "GRUB_TIMEOUT=5\n"
    "GRUB_DISTRIBUTOR=\"$(sed 's, release .*$,,g' /etc/system-release)\"\n"
    "GRUB_DEFAULT=saved\n"
    "GRUB_DISABLE_SUBMENU=true\n"
    'GRUB_TERMINAL_OUTPUT="console"\n'
    'GRUB_CMDLINE_LINUX="resume=/dev/mapper/openeuler-swap rd.lvm.lv=openeuler/root '
    'rd.lvm.lv=openeuler/swap cgroup_disable=files apparmor=0 crashkernel=512M"\n'
    'GRUB_DISABLE_RECOVERY="true"\n'
)
OPENEULER_EFI_GRUB_CFG = """### BEGIN /etc/grub.d/10_linux ###
menuentry 'openEuler (5.10.0-60.18.0.50.oe2203.aarch64) 22.03 LTS' --class openeuler --class gnu-linux --class gnu --class os --unrestricted $menuentry_id_option 'gnulinux-5.10.0-60.18.0.50.oe2203.aarch64-advanced-53b0b401-a14c-43f1-9d96-9a66143bbb17' {
        load_video
        set gfxpayload=keep
        insmod gzio
        insmod part_gpt
        insmod ext2
        set root='hd0,gpt2'
        echo    'Loading Linux 5.10.0-60.18.0.50.oe2203.aarch64 ...'
        linux   /vmlinuz-5.10.0-60.18.0.50.oe2203.aarch64 root=/dev/mapper/openeuler-root ro rd.lvm.lv=openeuler/root rd.lvm.lv=openeuler/swap video=VGA-1:640x480-32@60me console=tty0 crashkernel=1024M,high smmu.bypassdev=0x1000:0x17 smmu.bypassdev=0x1000:0x15 video=efifb:off
        echo    'Loading initial ramdisk ...'
        initrd  /initramfs-5.10.0-60.18.0.50.oe2203.aarch64.img
}
"""  # noqa: E501
KYLIN_SERVER = (
    'NAME="Kylin Linux Advanced Server"\nVERSION="V10 (Sword)"\nID="kylin"\n'
    'VERSION_ID="V10"\nPRETTY_NAME="Kylin Linux Advanced Server V10 (Sword)"\n'
    'ANSI_COLOR="0;31"\n'
)
KYLIN_DESKTOP = (
    'NAME="Kylin"\nVERSION_US="Kylin Linux Desktop V10 (SP1)"\nID=kylin\nID_LIKE=debian\n'
    'PRETTY_NAME="Kylin V10 SP1"\nVERSION_ID="v10"\n'
)


def _openeuler(**extra: str) -> dict[str, str]:
    return {
        "etc/os-release": OPENEULER_2203,
        "etc/default/grub": OPENEULER_DEFAULT_GRUB,
        "usr/sbin/new-kernel-pkg": "",  # openEuler's grubby package ships it
        **extra,
    }


def test_openeuler_is_rhel_like_and_bios_writes_boot_grub2(tmp_path: Path) -> None:
    facts = facts_from_files(
        tmp_path,
        _openeuler(
            **{
                "boot/grub2/grub.cfg": OPENEULER_EFI_GRUB_CFG,
                "proc/sys/kernel/osrelease": "5.10.0-182.0.0.95.oe2203sp3.x86_64\n",
            }
        ),
    )
    assert facts.get(os_release).rhel_like
    chain = facts.get(boot_chain)
    assert chain.target is not None
    assert chain.target.path == "/etc/default/grub"
    assert chain.apply_commands == ("grub2-mkconfig -o /boot/grub2/grub.cfg",)


def test_openeuler_arm64_writes_the_efi_partitions_grub_cfg(tmp_path: Path) -> None:
    facts = facts_from_files(
        tmp_path,
        _openeuler(
            **{
                "boot/efi/EFI/openEuler/grub.cfg": OPENEULER_EFI_GRUB_CFG,
                "proc/sys/kernel/osrelease": "5.10.0-60.18.0.50.oe2203.aarch64\n",
            }
        ),
    )
    chain = facts.get(boot_chain)
    assert chain.apply_commands == ("grub2-mkconfig -o /boot/efi/EFI/openEuler/grub.cfg",)


def test_a_uefi_node_seen_live_writes_the_efi_file_even_beside_boot_grub2(
    tmp_path: Path,
) -> None:
    facts = facts_from_files(
        tmp_path,
        _openeuler(
            **{
                "boot/efi/EFI/openEuler/grub.cfg": OPENEULER_EFI_GRUB_CFG,
                "boot/grub2/grub.cfg": OPENEULER_EFI_GRUB_CFG,
                "sys/firmware/efi/runtime": "",
                "proc/sys/kernel/osrelease": "5.10.0-182.0.0.95.oe2203sp3.x86_64\n",
            }
        ),
    )
    chain = facts.get(boot_chain)
    assert chain.apply_commands == ("grub2-mkconfig -o /boot/efi/EFI/openEuler/grub.cfg",)


def test_unknown_firmware_with_both_files_keeps_boot_grub2(tmp_path: Path) -> None:
    facts = facts_from_files(
        tmp_path,
        _openeuler(
            **{
                "boot/efi/EFI/openEuler/grub.cfg": OPENEULER_EFI_GRUB_CFG,
                "boot/grub2/grub.cfg": OPENEULER_EFI_GRUB_CFG,
                "proc/sys/kernel/osrelease": "5.10.0-182.0.0.95.oe2203sp3.x86_64\n",
            }
        ),
    )
    assert facts.get(boot_chain).apply_commands == ("grub2-mkconfig -o /boot/grub2/grub.cfg",)


def test_the_unified_efi_stub_is_not_the_menu(tmp_path: Path) -> None:
    """RHEL 9 and AlmaLinux 10's EFI grub.cfg only loads /boot/grub2/grub.cfg (Fedora
    Changes/UnifyGrubConfig); this one is an AlmaLinux 10 node's, as printed by its owner."""
    stub = (
        "search --no-floppy --fs-uuid --set=dev 6df325af-1779-4165-a6cd-78fe83c18aab\n"
        "set prefix=($dev)/grub2\n\nexport $prefix\nconfigfile $prefix/grub.cfg\n"
    )
    facts = facts_from_files(
        tmp_path,
        {
            "etc/os-release": 'ID="almalinux"\nID_LIKE="rhel centos fedora"\nVERSION_ID="10.0"\n',
            "etc/default/grub": 'GRUB_CMDLINE_LINUX="rhgb quiet"\nGRUB_ENABLE_BLSCFG=false\n',
            "boot/efi/EFI/almalinux/grub.cfg": stub,
            "sys/firmware/efi/runtime": "",
        },
    )
    assert facts.get(boot_chain).apply_commands == ("grub2-mkconfig -o /boot/grub2/grub.cfg",)


def test_entries_without_blscfg_are_not_read_so_no_grubby(tmp_path: Path) -> None:
    """anaconda#1712: a non-BLS install can still have files in /boot/loader/entries; GRUB
    reads them only when grub2-mkconfig wrote ``blscfg`` (GRUB_ENABLE_BLSCFG=true, or unset
    without new-kernel-pkg)."""
    facts = facts_from_files(
        tmp_path,
        _openeuler(
            **{
                "boot/loader/entries/x.conf": "title openEuler\n",
                "boot/grub2/grub.cfg": OPENEULER_EFI_GRUB_CFG,
            }
        ),
    )
    assert facts.get(boot_chain).apply_commands == ("grub2-mkconfig -o /boot/grub2/grub.cfg",)


@pytest.mark.parametrize(
    ("default_grub_tail", "new_kernel_pkg", "grubby"),
    [
        ("GRUB_ENABLE_BLSCFG=true\n", True, True),
        ("GRUB_ENABLE_BLSCFG=false\n", False, False),
        ("", False, True),
        ("", True, False),
    ],
)
def test_blscfg_as_grub2_mkconfig_decides(
    tmp_path: Path, default_grub_tail: str, new_kernel_pkg: bool, grubby: bool
) -> None:
    files = {
        "etc/os-release": 'ID="rocky"\nID_LIKE="rhel centos fedora"\n',
        "etc/default/grub": 'GRUB_CMDLINE_LINUX="rhgb quiet"\n' + default_grub_tail,
        "boot/loader/entries/x.conf": "title Rocky\n",
    }
    if new_kernel_pkg:
        files["usr/sbin/new-kernel-pkg"] = ""
    commands = facts_from_files(tmp_path, files).get(boot_chain).apply_commands
    assert (commands == ("grubby --update-kernel=ALL",)) is grubby


def test_kylin_server_is_rhel_like_kylin_desktop_is_debian(tmp_path: Path) -> None:
    server = facts_from_files(
        tmp_path / "server",
        {"etc/os-release": KYLIN_SERVER, "etc/default/grub": 'GRUB_CMDLINE_LINUX="quiet"\n'},
    )
    desktop = facts_from_files(
        tmp_path / "desktop",
        {"etc/os-release": KYLIN_DESKTOP, "etc/default/grub": 'GRUB_CMDLINE_LINUX="quiet"\n'},
    )
    assert server.get(boot_chain).apply_commands == ("grub2-mkconfig -o /boot/grub2/grub.cfg",)
    assert desktop.get(boot_chain).apply_commands == ("update-grub",)


def test_oracle_linux_7_has_no_id_like(tmp_path: Path) -> None:
    facts = facts_from_files(
        tmp_path,
        {
            "etc/os-release": 'NAME="Oracle Linux Server"\nVERSION="7.3"\nID="ol"\n'
            'VERSION_ID="7.3"\n',
            "etc/default/grub": 'GRUB_CMDLINE_LINUX="quiet"\n',
        },
    )
    assert facts.get(os_release).rhel_like


def test_an_unknown_distribution_with_grub2_mkconfig_installed(tmp_path: Path) -> None:
    facts = facts_from_files(
        tmp_path,
        {
            "etc/os-release": 'NAME="Anolis OS"\nVERSION="23"\nID="anolis"\nVERSION_ID="23"\n',
            "etc/default/grub": 'GRUB_CMDLINE_LINUX="quiet"\n',
            "usr/sbin/grub2-mkconfig": "",
            "usr/sbin/new-kernel-pkg": "",
        },
    )
    assert facts.get(boot_chain).apply_commands == ("grub2-mkconfig -o /boot/grub2/grub.cfg",)
