"""The platforms the toolkit knows: one table. Adding a platform touches this table and `inventory/groups.yaml`.

Each row: the inventory's `platform_family` name, the family that says how the toolkit drives the box
(`ios` or `iosxe`, the groups of `inventory/groups.yaml`), the model names that identify it in `show version`
or NAPALM facts, and its software family (the key of the audit's minimum releases, `software-unsupported`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Platform:
    name: str  # inventory `platform_family`, e.g. ISR-G2
    family: str  # ios | iosxe
    software_family: str  # isr_g1 | isr_g2 | iosxe
    models: re.Pattern[str]  # model names of this platform (searched in the model, case-insensitive)


def _models(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


PLATFORMS: tuple[Platform, ...] = (
    # IOS-XE first: their model names are matched anywhere in the model string
    Platform("ISR4K", "iosxe", "iosxe", _models(r"ISR4")),
    Platform("ASR1k", "iosxe", "iosxe", _models(r"ASR1")),
    Platform("CSR1k", "iosxe", "iosxe", _models(r"CSR1")),
    Platform("Cat8k", "iosxe", "iosxe", _models(r"C8[0-9]{3}")),
    Platform("Cat9k", "iosxe", "iosxe", _models(r"C9[0-9]{3}")),
    Platform("ISR1k", "iosxe", "iosxe", _models(r"ISR1[01]")),
    # classic IOS: the model number at the start (CISCO2911/K9, 2811, 891)
    Platform("ISR-G1", "ios", "isr_g1", _models(r"^(?:CISCO)?(?:18[0-9]{2}|28[0-9]{2}|38[0-9]{2})\b")),
    Platform(
        "ISR-G2", "ios", "isr_g2", _models(r"^(?:CISCO)?(?:19[0-9]{2}|29[0-9]{2}|39[0-9]{2}|8[89][0-9])\b")
    ),
)


def _key(name: str) -> str:
    return name.lower().replace("-", "_")


_BY_NAME = {_key(p.name): p for p in PLATFORMS}


def by_name(name: str | None) -> Platform | None:
    """The row of an inventory `platform_family` name (case, '-' and '_' do not matter).

    >>> by_name("isr_g2").family, by_name("CSR1k").software_family, by_name("junos")
    ('ios', 'iosxe', None)
    """
    return _BY_NAME.get(_key(name)) if name else None


def by_model(model: str | None) -> Platform | None:
    """The row whose model names match `model` (as `show version` or NAPALM print it).

    >>> by_model("CISCO2911/K9").name, by_model("ISR4451-X/K9").name, by_model("2811").name, by_model("WS-C3750")
    ('ISR-G2', 'ISR4K', 'ISR-G1', None)
    """
    if not model:
        return None
    return next((p for p in PLATFORMS if p.models.search(model)), None)


def software_family(platform_family: str | None, model: str | None, family: str | None) -> str | None:
    """The software family that sets a host's minimum release: from the inventory's `platform_family`,
    else the model, else an IOS-XE family; None when nothing says (then no minimum is checked).

    >>> software_family("ISR-G1", None, None), software_family(None, "CISCO1941/K9", "ios")
    ('isr_g1', 'isr_g2')
    >>> software_family("iosxe", None, None), software_family(None, None, "iosxe"), software_family(None, None, "ios")
    ('iosxe', 'iosxe', None)
    """
    if platform_family:
        row = by_name(platform_family)
        if row is not None:
            return row.software_family
        # a family name given as the platform ('iosxe'), or a platform this table does not know
        return "iosxe" if _key(platform_family) == "iosxe" else None
    row = by_model(model)
    if row is not None:
        return row.software_family
    return "iosxe" if family == "iosxe" else None
