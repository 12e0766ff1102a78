"""Noise of a live session in captured device output: command echoes and prompts (also
repeated ones), syslog and debug lines interleaved with the output, `terminal exec prompt
timestamp` banners, `--More--` remnants, CR line ends and non-breaking spaces (copied from
web pages). The certificates and running-config parsers call `is_noise` only for lines they
could not place, so ordinary lines never pay for these regexes; `device_lines` (the input of
the TTP-based parsers, whose outputs are short) filters every line."""

from __future__ import annotations

import re

# the pager prompt and the backspaces/blanks that erase it; never a newline (that would join two lines)
_MORE = re.compile(r"[ \t]*--More--[ \t]*[\x08 \t]*")
# "R1#", "R1#show crypto pki cert", "R1(config)#do sh crypto pki certificates", "vg400# show ..."
_PROMPT = re.compile(r"[A-Za-z0-9][\w.\-]*(?:\([\w.\-]+\))?[#>](?:\s*(?:do\s+)?sh(?:ow)?\b.*|\s*)")
# before the output any command may have been echoed after the prompt ("R1#terminal length 0")
_PROMPT_ANY = re.compile(r"[\w.\-/:]+(?:\([\w.\-]+\))?[#>].*")
_ECHO = re.compile(r"(?:do\s+)?sh(?:ow)?\s+\S.*")
# "*Aug 31 05:31:47.015: %SSH-5-ENABLED: ...", "Jul 10 13:14:18.326: CRYPTO_CS: ...", "000123: ..."
_SYSLOG = re.compile(
    r"(?:\d+: )?[*.]?(?:[A-Z][a-z]{2} +\d+ +(?:\d{4} +)?)?\d\d:\d\d:\d\d(?:\.\d+)?(?: [A-Za-z]+)?: +[%A-Z]"
)
_EXEC_TIMESTAMP = re.compile(r"Load for five secs: .*|(?:Time source is [\w ]+|No time source), .*\d{4}")
# a prompt that lost its '#' at the end of a capture (e.g. "iosv-1"); not a hex word of key data
_BARE_HOSTNAME = re.compile(r"(?=.*[^0-9A-Fa-f])[A-Za-z][\w.\-]*")


def normalize(text: str) -> str:
    """The text with CR line ends, `--More--` remnants and NBSPs fixed (line count kept).

    >>> normalize("a\\r\\n --More-- \\x08\\x08b\\xa0c\\r\\n")
    'a\\nb c\\n'
    """
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
    A command echo without a prompt (`show ...`), or a prompt followed by any command,
    counts only before the output starts.

    >>> is_noise("R1#", False), is_noise("R1#show crypto pki timers", False)
    (True, True)
    >>> is_noise("show clock", True), is_noise("show clock", False)
    (True, False)
    >>> is_noise("*Mar  1 00:01:02.123: %SYS-5-CONFIG_I: Configured", False)
    True
    >>> is_noise("Status: Available", True)
    False
    """
    c = s[0]
    if (c.isdigit() or c in "*.JFMASOND") and _SYSLOG.match(s):
        return True
    if ("#" in s or ">" in s) and (_PROMPT_ANY if before_output else _PROMPT).fullmatch(s):
        return True
    if before_output and c in "sd" and _ECHO.fullmatch(s):
        return True
    return c in "LTN" and _EXEC_TIMESTAMP.fullmatch(s) is not None


def device_lines(text: str) -> list[str]:
    """The lines of device output without session noise: `normalize`d, trailing spaces cut,
    echo/prompt/banner lines before the output, syslog lines and prompts anywhere, blank
    lines at either end and a trailing hostname without '#' removed. Indentation is kept.

    >>> device_lines("R1#show clock\\r\\n*10:15:00.123 UTC Mon Mar 4 2024  \\r\\nR1#")
    ['*10:15:00.123 UTC Mon Mar 4 2024']
    """
    out: list[str] = []
    before = True
    for ln in split_lines(text):
        ln = ln.rstrip()
        s = ln.lstrip()
        if not s:
            if not before:
                out.append(ln)
            continue
        if is_noise(s, before):
            continue
        before = False
        out.append(ln)
    while out and not out[-1]:
        out.pop()
    if len(out) > 1 and _BARE_HOSTNAME.fullmatch(out[-1]):
        out.pop()
    return out


def blocks(pattern: re.Pattern[str], text: str) -> list[re.Match[str]] | None:
    """`text` (`normalize`d) as consecutive matches of a block `pattern` from its first non-blank character to
    its end, or None when a part is no such block (or there is none): the fast paths read the usual layouts
    this way and leave anything else to their strict loops."""
    text = normalize(text)
    out: list[re.Match[str]] = []
    pos = len(text) - len(text.lstrip())
    while pos < len(text):
        m = pattern.match(text, pos)
        if m is None or m.end() == pos:
            return None
        out.append(m)
        pos = m.end()
    return out or None
