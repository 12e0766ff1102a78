"""Noise of a live session in captured device output: command echoes and prompts (also
repeated ones), syslog and debug lines interleaved with the output, `terminal exec prompt
timestamp` banners, `--More--` remnants, CR line ends and non-breaking spaces (copied from
web pages). The parsers call `is_noise` only for lines they could not place, so ordinary
lines never pay for these regexes."""

from __future__ import annotations

import re

_MORE = re.compile(r" *--More-- *[\x08 ]*")
# "R1#", "R1#show crypto pki cert", "R1(config)#do sh crypto pki certificates", "vg400# show ..."
_PROMPT = re.compile(r"[A-Za-z0-9][\w.\-]*(?:\([\w.\-]+\))?[#>](?:\s*(?:do\s+)?sh(?:ow)?\b.*|\s*)")
_ECHO = re.compile(r"(?:do\s+)?sh(?:ow)?\s+\S.*")
# "*Aug 31 05:31:47.015: %SSH-5-ENABLED: ...", "Jul 10 13:14:18.326: CRYPTO_CS: ...", "000123: ..."
_SYSLOG = re.compile(
    r"(?:\d+: )?[*.]?(?:[A-Z][a-z]{2} +\d+ +(?:\d{4} +)?)?\d\d:\d\d:\d\d(?:\.\d+)?(?: [A-Za-z]+)?: +[%A-Z]"
)
_EXEC_TIMESTAMP = re.compile(r"Load for five secs: .*|(?:Time source is [\w ]+|No time source), .*\d{4}")


def normalize(text: str) -> str:
    """The text with CR line ends, `--More--` remnants and NBSPs fixed (line count kept)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "--More--" in text:
        text = _MORE.sub("", text)
    if "\xa0" in text:
        text = text.replace("\xa0", " ")
    return text


def split_lines(text: str) -> list[str]:
    """The text's lines (line numbers = index + 1) after `normalize`."""
    return normalize(text).split("\n")


def is_noise(s: str, before_output: bool) -> bool:
    """True for a stripped line that is session noise rather than command output.
    A bare command echo (`show ...` without prompt) counts only before the output starts."""
    c = s[0]
    if (c.isdigit() or c in "*.JFMASOND") and _SYSLOG.match(s):
        return True
    if ("#" in s or ">" in s) and _PROMPT.fullmatch(s):
        return True
    if before_output and c in "sd" and _ECHO.fullmatch(s):
        return True
    return c in "LTN" and _EXEC_TIMESTAMP.fullmatch(s) is not None
