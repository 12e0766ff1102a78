"""`show crypto pki certificates pem [TP]` into `PemOutput`.

    ------Trustpoint: server------
    % Self-signed CA certificate:
    -----BEGIN CERTIFICATE-----
    <base64 lines>
    -----END CERTIFICATE-----

A line state machine: a `% <label>:` line opens a certificate of the trustpoint above it,
the PEM block follows. The base64 lines are checked for shape (one token of at most 64
characters, PEM's line width), not decoded: the one real capture (genie's) is anonymised
and is not valid base64, and a parser must read what the device printed, not judge it."""

from __future__ import annotations

import re
from typing import Any

from iospki.models import PemCertificate, PemOutput, PemTrustpoint

from .base import ParseError, register
from .lines import device_lines

COMMAND = "show crypto pki certificates pem"

_TRUSTPOINT = re.compile(r"-+Trustpoint: (?P<name>\S+?)-+")
_LABEL = re.compile(r"% (?P<label>[^%:]*[Cc]ertificate):")
_BEGIN = "-----BEGIN CERTIFICATE-----"
_END = "-----END CERTIFICATE-----"
_BODY = re.compile(r"[^\s\-]\S{0,63}")


@register(r"(?:show|sh) crypto pki certificates? pem(?: \S+)?")
def parse_pem(text: str, platform: str | None = None) -> PemOutput:
    lines = device_lines(text)
    tps: list[dict[str, Any]] = []
    body: list[str] | None = None  # the open PEM block's lines, None outside one
    expect_begin = False
    for no, raw in enumerate(lines, 1):
        s = raw.strip()
        if body is not None:  # inside BEGIN .. END every line is the block's
            if s == _END:
                tps[-1]["certificates"][-1]["pem"] = "\n".join([*body, s])
                body = None
            elif _BODY.fullmatch(s):
                body.append(s)
            else:
                raise ParseError(COMMAND, "not a PEM line inside BEGIN .. END", raw, no)
            continue
        if not s:
            continue
        if expect_begin:
            if s != _BEGIN:
                raise ParseError(COMMAND, f"expected {_BEGIN!r} after the certificate label", raw, no)
            body, expect_begin = [s], False
        elif m := _TRUSTPOINT.fullmatch(s):
            tps.append({"name": m["name"], "certificates": []})
        elif m := _LABEL.fullmatch(s):
            if not tps:
                raise ParseError(COMMAND, "certificate before any '---Trustpoint: NAME---' line", raw, no)
            tps[-1]["certificates"].append({"label": m["label"]})
            expect_begin = True
        else:
            raise ParseError(COMMAND, "unexpected line", raw, no)
    if body is not None or expect_begin:
        raise ParseError(COMMAND, f"output ends inside a certificate (no {_END!r})", lines[-1], len(lines))
    return PemOutput(
        trustpoints=[
            PemTrustpoint(name=tp["name"], certificates=[PemCertificate(**c) for c in tp["certificates"]])
            for tp in tps
        ]
    )
