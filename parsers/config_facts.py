"""Two facts of a running config that the `RunningConfig` model does not carry (its JSON is a fixed contract):
the offsets of the zones the device prints its times in, and whether the text ends with `end`.

The loader (`iospki.state`) reads them here so that no device output is parsed with regexes outside `parsers/`.
"""

from __future__ import annotations

import re
from datetime import timedelta

from .noise import normalize

_TZ = re.compile(r"^\s*clock timezone (\S+)\s+(-?\d+)(?:\s+(\d+))?", re.MULTILINE)
_SUMMER = re.compile(r"^\s*clock summer-time (\S+)\s+(recurring|date)\b(.*)$", re.MULTILINE)
# `end` alone on a line (trailing blanks allowed) after its newline. Not `^end\s*$` in MULTILINE mode: a
# pattern that starts with `^` is tried at every position of the text (~100 us on a 5 KB config)
_END = re.compile(r"\nend[^\S\n]*+(?:\n|\Z)")


def _search(pattern: re.Pattern[str], literal: str, text: str) -> re.Match[str] | None:
    """`pattern.search(text)` for a MULTILINE pattern `^\\s*LITERAL...`, started at the line of the first
    `literal` (no match can end before it, and a match's groups start at a LITERAL): the same match
    groups without trying the pattern at every position before it, and none at all without `literal`."""
    at = text.find(literal)
    if at < 0:
        return None
    return pattern.search(text, text.rfind("\n", 0, at) + 1)


def clock_zones(text: str) -> dict[str, timedelta]:
    """Zone abbreviation -> offset east of UTC from `clock timezone` / `clock summer-time` ({} when unset).

    `clock timezone NAME H [M]`; summer time adds its offset (the last argument, default 60 minutes)
    after 8 words (recurring) or 10 words (date).

    >>> clock_zones("clock timezone CET 1 0\\nclock summer-time CEST recurring last Sun Mar 2:00 last Sun Oct 3:00\\n")
    {'CET': datetime.timedelta(seconds=3600), 'CEST': datetime.timedelta(seconds=7200)}
    >>> clock_zones("clock timezone IST 5 30")
    {'IST': datetime.timedelta(seconds=19800)}
    >>> clock_zones("clock timezone PST -8 0\\nclock summer-time PDT recurring")["PDT"]
    datetime.timedelta(days=-1, seconds=61200)
    """
    m = _search(_TZ, "clock timezone", text)
    return {} if m is None else zones_of(m, _search(_SUMMER, "clock summer-time", text))


def zones_of(m: re.Match[str], s: re.Match[str] | None) -> dict[str, timedelta]:
    """The zones of a `clock timezone` match and a `clock summer-time` match (None: no summer time)."""
    hours, minutes = int(m[2]), int(m[3] or 0)
    std = timedelta(hours=hours, minutes=-minutes if hours < 0 else minutes)
    zones = {m[1]: std}
    if s is not None:
        args = s[3].split()
        n = 8 if s[2] == "recurring" else 10
        extra = int(args[n]) if len(args) > n and args[n].isdigit() else 60
        zones[s[1]] = std + timedelta(minutes=extra)
    return zones


def config_complete(text: str) -> bool:
    """True when the config text has its final `end` line: a read that timed out keeps the head only.

    >>> config_complete("hostname r1\\nend\\n"), config_complete("hostname r1\\nip http serv")
    (True, False)
    """
    text = normalize(text)  # as `split_lines` gives it: CR ends and --More-- remnants fixed
    if text[:3] == "end" and not text[3:].split("\n", 1)[0].strip():
        return True
    # from the end, where a complete config has it (str.rfind: no regex scan). A "\nend" that starts before
    # `at` cannot reach past it (text[at] is a newline, no letter of "end"): rfind(.., 0, at) misses none
    at = text.rfind("\nend")
    while at >= 0:
        if _END.match(text, at):
            return True
        at = text.rfind("\nend", 0, at)
    return False
