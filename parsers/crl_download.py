"""`show crypto pki crls download` into `CrlDownloadOutput`.

A line state machine: the trustpoint names and the static download times are bare lines
under their headers, which only the position identifies. The three settings lines are
global (printed once, after the lists)."""

from __future__ import annotations

import re
from typing import Any

from iospki.models import CrlDownloadOutput, CrlStaticDownload

from .base import ParseError, register
from .lines import device_lines, require_content

COMMAND = "show crypto pki crls download"

_TRUSTPOINTS = re.compile(r"CRL download for trustpoints\s*:")
_STATIC = re.compile(r"CRL static time download entries:?")
_NAME = re.compile(r"[^\s:]+")
_WEEKDAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_TIME = re.compile(rf"(?P<day>{_WEEKDAYS}) (?P<time>(?:[01]\d|2[0-3]):[0-5]\d)")
# 'CRL prepublish time         : 0 minutes' (only minutes seen in real output)
_LABELS = {
    "prepublish_minutes": ("CRL prepublish time", r"(?P<n>\d+) minutes?"),
    "max_retry_attempts": ("CRL maximum retry attempts", r"(?P<n>\d+)"),
    "retry_interval_minutes": ("CRL retry time interval", r"(?P<n>\d+) minutes?"),
}
_SETTINGS = {field: re.compile(rf"{label}\s*:\s*{value}") for field, (label, value) in _LABELS.items()}


@register(r"(?:show|sh) crypto pki crls? download")
def parse_crl_download(text: str, platform: str | None = None) -> CrlDownloadOutput:
    lines = device_lines(text)
    require_content(COMMAND, lines)
    out: dict[str, Any] = {"trustpoints": [], "static_times": []}
    block = ""  # 'trustpoints' or 'static' while reading a list
    for no, raw in enumerate(lines, 1):
        s = raw.strip()
        if not s:
            continue
        if _TRUSTPOINTS.fullmatch(s) or _STATIC.fullmatch(s):
            block = "trustpoints" if s.startswith("CRL download") else "static"
            if out.get(f"_{block}"):  # a list header once: a second one is a foreign output glued on
                raise ParseError(COMMAND, "a second list header", raw, no)
            out[f"_{block}"] = True
            continue
        for field, rx in _SETTINGS.items():
            if m := rx.fullmatch(s):
                if field in out:
                    raise ParseError(COMMAND, "a second line of this setting", raw, no)
                out[field] = int(m["n"])
                block = ""
                break
        else:
            if block == "static" and (m := _TIME.fullmatch(s)):
                out["static_times"].append(CrlStaticDownload(weekday=m["day"], time=m["time"]))
            elif block == "trustpoints" and _NAME.fullmatch(s):
                out["trustpoints"].append(s)
            else:
                raise ParseError(COMMAND, "unexpected line", raw, no)
    if not out.get("_trustpoints"):
        raise ParseError(COMMAND, "no 'CRL download for trustpoints :' line")
    missing = [label for field, (label, _) in _LABELS.items() if field not in out]
    if missing:  # IOS prints the three settings every time: a missing one is a cut or deleted line
        raise ParseError(COMMAND, f"no {', '.join(repr(x) for x in missing)} line (truncated output?)")
    return CrlDownloadOutput(**{k: v for k, v in out.items() if not k.startswith("_")})
