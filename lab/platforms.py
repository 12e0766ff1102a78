"""Platform identities and `show version` texts per family (classic IOS vs IOS-XE). Texts are data, cheap to fix."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Platform:
    family: str  # ios | iosxe
    platform_family: str  # ISR-G1, ISR-G2, ISR4K, ASR1k, CSR1k
    model: str
    software: str
    image_title: str
    image_name: str
    memory: str
    interfaces: tuple[str, ...]


_DEFAULTS = {
    "ISR-G1": ("ios", "2811", "15.1(4)M12a"),
    "ISR-G2": ("ios", "CISCO2911/K9", "15.4(3)M10"),
    "ISR4K": ("iosxe", "ISR4451-X/K9", "16.09.05"),
    "ASR1k": ("iosxe", "ASR1001-X", "16.12.04"),
    "CSR1k": ("iosxe", "CSR1000V", "17.03.04a"),
}


def make_platform(
    platform_family: str | None, family: str | None, model: str | None, software: str | None
) -> Platform:
    pf = platform_family or ("CSR1k" if family == "iosxe" else "ISR-G2")
    dfam, dmodel, dsw = _DEFAULTS.get(pf, _DEFAULTS["ISR-G2"])
    fam = family or dfam
    model = model or dmodel
    software = software or dsw
    if fam == "ios":
        if "2811" in model or pf == "ISR-G1":
            return Platform(
                fam,
                pf,
                model,
                software,
                "2800 Software (C2800NM-ADVIPSERVICESK9-M)",
                f"flash:c2800nm-advipservicesk9-mz.{_img(software)}.bin",
                "249856K/12288K",
                ("FastEthernet0/0", "FastEthernet0/1"),
            )
        return Platform(
            fam,
            pf,
            model,
            software,
            "C2900 Software (C2900-UNIVERSALK9-M)",
            f"flash0:c2900-universalk9-mz.SPA.{_img(software)}.bin",
            "491520K/32768K",
            ("GigabitEthernet0/0", "GigabitEthernet0/1", "GigabitEthernet0/2"),
        )
    title = {"ISR4K": "ISR Software", "ASR1k": "ASR1000 Software"}.get(pf, "Virtual XE Software")
    mem = {"ISR4K": "1795979K/6147K", "ASR1k": "3695306K/6147K"}.get(pf, "2071829K/3075K")
    intfs = (
        ("GigabitEthernet1", "GigabitEthernet2", "GigabitEthernet3")
        if pf == "CSR1k"
        else ("GigabitEthernet0/0/0", "GigabitEthernet0/0/1")
    )
    return Platform(
        fam,
        pf,
        model,
        software,
        f"{title} (X86_64_LINUX_IOSD-UNIVERSALK9-M)",
        "bootflash:packages.conf",
        mem,
        intfs,
    )


def _img(software: str) -> str:
    # 15.4(3)M10 -> 154-3.M10
    major = software.split("(")[0].replace(".", "")
    rest = software.split("(", 1)[1] if "(" in software else ""
    num, _, train = rest.partition(")")
    return f"{major}-{num}.{train}"


def _xe_short(software: str) -> str:
    # 16.09.05 -> 16.9.5 ; 17.03.04a -> 17.3.4a
    parts = software.split(".")
    return ".".join(p.lstrip("0") or "0" for p in parts)


def _xe_train(software: str) -> str:
    major_minor = tuple(int("".join(ch for ch in p if ch.isdigit()) or 0) for p in software.split(".")[:2])
    names = {
        (16, 3): "Denali",
        (16, 6): "Everest",
        (16, 9): "Fuji",
        (16, 12): "Gibraltar",
        (17, 3): "Amsterdam",
        (17, 6): "Bengaluru",
        (17, 9): "Cupertino",
        (17, 12): "Dublin",
    }
    best = "Fuji"
    for key in sorted(names):
        if key <= major_minor:
            best = names[key]
    return best


def serial_number(name: str, platform: Platform) -> str:
    h = hashlib.sha256(f"{name}/{platform.model}".encode()).hexdigest().upper()
    prefix = "FTX" if platform.family == "ios" else ("9" if platform.platform_family == "CSR1k" else "FOC")
    return (prefix + h)[:11]


def format_uptime(delta: timedelta) -> str:
    secs = max(0, int(delta.total_seconds()))
    weeks, secs = divmod(secs, 604800)
    days, secs = divmod(secs, 86400)
    hours, secs = divmod(secs, 3600)
    minutes = secs // 60
    parts = []
    for n, unit in ((weeks, "week"), (days, "day"), (hours, "hour")):
        if n:
            parts.append(f"{n} {unit}{'s' if n != 1 else ''}")
    parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return ", ".join(parts)


# printed by every family's `show version`, word for word
CRYPTO_NOTICE = (
    "This product contains cryptographic features and is subject to United",
    "States and local country laws governing import, export, transfer and",
    "use. Delivery of Cisco cryptographic products does not imply",
    "third-party authority to import, export, distribute or use encryption.",
)


def show_version(
    hostname: str, platform: Platform, uptime: timedelta, serial: str, reload_reason: str
) -> str:
    sw = platform.software
    up = format_uptime(uptime)
    if platform.family == "ios":
        is_g1 = platform.platform_family == "ISR-G1" or "2811" in platform.model
        rom = (
            "System Bootstrap, Version 12.4(13r)T, RELEASE SOFTWARE (fc1)"
            if is_g1
            else "System Bootstrap, Version 15.0(1r)M15, RELEASE SOFTWARE (fc1)"
        )
        lines = [
            f"Cisco IOS Software, {platform.image_title}, Version {sw}, RELEASE SOFTWARE (fc1)",
            "Technical Support: http://www.cisco.com/techsupport",
            "Copyright (c) 1986-2019 by Cisco Systems, Inc.",
            "Compiled Thu 14-Nov-19 18:02 by prod_rel_team",
            "",
            f"ROM: {rom}",
            "",
            f"{hostname} uptime is {up}",
            f"System returned to ROM by {reload_reason}",
            f'System image file is "{platform.image_name}"',
            "Last reload type: Normal Reload",
            "",
            "",
            *CRYPTO_NOTICE,
            "",
            f"Cisco {platform.model} (revision 1.0) with {platform.memory} bytes of memory.",
            f"Processor board ID {serial}",
            f"{len(platform.interfaces)} {'FastEthernet' if is_g1 else 'Gigabit Ethernet'} interfaces",
            "DRAM configuration is 64 bits wide with parity enabled.",
            "255K bytes of non-volatile configuration memory.",
            "250880K bytes of ATA System CompactFlash 0 (Read/Write)",
            "",
            "Configuration register is 0x2102",
            "",
        ]
        return "\n".join(lines)
    short = _xe_short(sw)
    lines = [
        f"Cisco IOS XE Software, Version {sw}",
        f"Cisco IOS Software [{_xe_train(sw)}], {platform.image_title}, Version {short}, RELEASE SOFTWARE (fc3)",
        "Technical Support: http://www.cisco.com/techsupport",
        "Copyright (c) 1986-2021 by Cisco Systems, Inc.",
        "Compiled Tue 20-Jul-21 06:32 by mcpre",
        "",
        "",
        "Cisco IOS-XE software, Copyright (c) 2005-2021 by cisco Systems, Inc.",
        "All rights reserved.  Certain components of Cisco IOS-XE software are",
        'licensed under the GNU General Public License ("GPL") Version 2.0.  The',
        "software code licensed under GPL Version 2.0 is free software that comes",
        "with ABSOLUTELY NO WARRANTY.  You can redistribute and/or modify such",
        "GPL code under the terms of GPL Version 2.0.  For more details, see the",
        'documentation or "License Notice" file accompanying the IOS-XE software,',
        "or the applicable URL provided on the flyer accompanying the IOS-XE",
        "software.",
        "",
        "",
        "ROM: IOS-XE ROMMON",
        "",
        f"{hostname} uptime is {up}",
        f"Uptime for this control processor is {up}",
        f"System returned to ROM by {reload_reason}",
        f'System image file is "{platform.image_name}"',
        f"Last reload reason: {reload_reason}",
        "",
        "",
        "",
        *CRYPTO_NOTICE,
        "",
        "",
        f"cisco {platform.model} ({'VXE' if platform.platform_family == 'CSR1k' else '2RU'}) processor "
        f"(revision {'VXE' if platform.platform_family == 'CSR1k' else '2RU'}) with {platform.memory} bytes of memory.",
        f"Processor board ID {serial}",
        "Router operating mode: Autonomous",
        f"{len(platform.interfaces)} Gigabit Ethernet interfaces",
        "32768K bytes of non-volatile configuration memory.",
        "3978436K bytes of physical memory.",
        "6188032K bytes of virtual hard disk at bootflash:.",
        "",
        "Configuration register is 0x2102",
        "",
    ]
    return "\n".join(lines)
