"""Cisco type-7 obfuscation for secrets shown in the running config (`password 7 ...`).

Not encryption: it only keeps challenge and archive passwords from appearing in clear text in the
running config, stored outputs and logs, as IOS does with `service password-encryption`.
"""

from __future__ import annotations

import secrets

_XLAT = "dsfd;kfoA,.iyewrkldJKDHSUBsgvca69834ncxv9873254k;fg87"


def encode(plain: str, seed: int | None = None) -> str:
    s = secrets.randbelow(16) if seed is None else seed
    out = f"{s:02d}"
    for i, ch in enumerate(plain):
        out += f"{ord(ch) ^ ord(_XLAT[(s + i) % len(_XLAT)]):02X}"
    return out


def decode(text: str) -> str:
    if len(text) < 2 or not text[:2].isdigit() or len(text) % 2:
        raise ValueError("not a type-7 string")
    s = int(text[:2])
    body = text[2:]
    return "".join(
        chr(int(body[i : i + 2], 16) ^ ord(_XLAT[(s + i // 2) % len(_XLAT)])) for i in range(0, len(body), 2)
    )
