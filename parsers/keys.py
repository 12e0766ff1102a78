"""`show crypto key mypubkey rsa [NAME]` (also `ec` and `all`) into `KeysOutput`.

A small line state machine rather than TTP: a key block may start with either the
generation-time line or (older images, usage keys) the `Key name:` line, and the key data
runs until the next block."""

from __future__ import annotations

import re
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from iospki.models import KeyPair, KeysOutput

from .base import ParseError, register
from .ios_time import TimeFormatError, parse_ios_time
from .lines import device_lines
from .noise import blocks

COMMAND = "show crypto key mypubkey rsa"

_GENERATED = re.compile(r"% Key pair was generated at: (?P<t>.+)")
_NAME = re.compile(r"Key name: (?P<name>\S+)")
_TYPE = re.compile(r"Key type: (?P<type>\w+) KEYS(?:\s+(?:(?P<bits>\d+) bits|p(?P<curve>\d+) curve))?")
_STORAGE = re.compile(r"(?:Storage Device|On Cryptographic Device): (?P<storage>.+)")
_USAGE = re.compile(r"Usage: (?P<usage>.+)")
_EXPORT = re.compile(r"Key is (?P<not>not )?exportable\.(?: Redundancy (?P<red>\w+)\.)?")
_DATA_HEAD = re.compile(r"Key Data:")
_HEX = re.compile(r"[0-9A-Fa-f]{1,8}(?: [0-9A-Fa-f]{1,8})*")
_REDACTED = re.compile(r"<[^>]*>")


def _key_size_from_der(hexdata: str) -> int | None:
    """Modulus bits (RSA) or curve bits (EC) of a SubjectPublicKeyInfo; None if not one."""
    try:
        key = load_der_public_key(bytes.fromhex(hexdata))
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # TypeError: a key type cryptography cannot represent; UnsupportedAlgorithm: a changed
        # byte in the algorithm OID (the caller names the block as not a public key)
        return None
    if isinstance(key, rsa.RSAPublicKey):
        return key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.curve.key_size
    return None


def _finish(cur: dict[str, Any], line: str, no: int) -> KeyPair:
    if "name" not in cur:
        raise ParseError(COMMAND, "key block without 'Key name:'", line, no)
    if "type" not in cur:  # IOS prints 'Key type:' right after the name of every key
        raise ParseError(
            COMMAND, f"key {cur['name']!r} has no 'Key type:' line (truncated output?)", line, no
        )
    data = "".join(cur.get("data", [])).upper() or None
    size = cur.get("bits")
    if data:
        derived = _key_size_from_der(data)
        if derived is None:
            raise ParseError(
                COMMAND, f"key data of {cur['name']!r} is not a public key (truncated?)", line, no
            )
        size = derived
    return KeyPair(
        name=cur["name"],
        generated_at=cur.get("generated_at"),
        tz=cur.get("tz"),
        key_type=cur.get("type", "RSA"),
        usage=cur.get("usage"),
        exportable=cur.get("exportable"),
        temporary=cur.get("temporary", False),
        rollover=cur["name"].endswith("#"),
        storage=cur.get("storage"),
        redundancy=cur.get("redundancy"),
        key_size=size,
        key_data=data,
    )


# Fast path: key blocks in the usual order (generation time, name, type, storage or `Temporary key`, usage, export,
# data), each read by one match of `_FAST_KEY`, with blank lines only between them. None of these lines is session noise
# (`device_lines` keeps every one), so the values are those the strict loop reads from the same lines; a value
# the strict patterns (`.+` on the stripped line) would not take, a bad time or key data that is no public key
# sends the text to the strict loop, which names the line. Possessive quantifiers: each token is read once (the
# tokens of a line never need a second split, so no match is lost); one model validation for all keys.
_FAST_KEY = re.compile(
    r"[ \t]*+% Key pair was generated at: (?P<t>[^\n]*+)\n"
    r"[ \t]*+Key name: (?P<name>\S++)[ \t]*+\n"
    r"[ \t]*+Key type: (?P<type>\w++) KEYS(?:[ \t]++(?:(?P<bits>\d++) bits|p(?P<curve>\d++) curve))?+[ \t]*+\n"
    r"[ \t]*+(?:(?:Storage Device|On Cryptographic Device): (?P<storage>[^\n]*+)|(?P<temporary>Temporary key)[ \t]*+)\n"
    r"[ \t]*+Usage: (?P<usage>[^\n]*+)\n"
    r"[ \t]*+Key is (?P<not>not )?+exportable\.(?: Redundancy (?P<red>\w++)\.)?+[ \t]*+\n"
    r"[ \t]*+Key Data:[ \t]*+(?:\n|\Z)"
    r"(?P<data>(?:[ \t]*+[0-9A-Fa-f]{1,8}+(?: [0-9A-Fa-f]{1,8}+)*+[ \t]*+(?:\n|\Z))*+)"
    r"\s*+"
)


def _fast(text: str) -> KeysOutput | None:
    """The usual layout read by `_FAST_KEY`, or None: the strict loop decides."""
    matches = blocks(_FAST_KEY, text)
    if matches is None:
        return None
    keys: list[dict[str, Any]] = []
    for m in matches:
        t, name, key_type, bits, curve, storage, temporary, usage, no, red, data = m.groups()
        # a temporary key (IOS-XE's `TP-self-signed-...server`) prints `Temporary key` where the storage goes
        storage, usage = storage and storage.rstrip(), usage.rstrip()
        if storage == "" or not usage:
            return None
        try:
            when, tz = parse_ios_time(t)
        except TimeFormatError:
            return None
        size = bits or curve
        key_size = int(size) if size else None
        # the hex words without their blanks (spaces and tabs only: `_FAST_KEY`), as the strict loop joins them
        data = data.replace(" ", "").replace("\n", "")
        if "\t" in data:
            data = data.replace("\t", "")
        if data:
            data = data.upper()
            key_size = _key_size_from_der(data)
            if key_size is None:
                return None
        keys.append(
            {
                "name": name,
                "generated_at": when,
                "tz": tz,
                "key_type": key_type,
                "usage": usage,
                "exportable": no is None,
                "temporary": temporary is not None,
                "rollover": name.endswith("#"),
                "storage": storage,
                "redundancy": red,
                "key_size": key_size,
                "key_data": data or None,
            }
        )
    return KeysOutput.model_validate({"keys": keys})


@register(r"(?:show|sh) crypto key (?:mypubkey|my) (?:rsa|ec|all)(?: \S+)?")
def parse_keys(text: str, platform: str | None = None, *, fast: bool = True) -> KeysOutput:
    """`fast=False` skips the fast path (the tests compare both)."""
    if fast:
        quick = _fast(text)
        if quick is not None:
            return quick
    lines = device_lines(text)
    keys: list[KeyPair] = []
    cur: dict[str, Any] = {}
    in_data = False
    last_line, last_no = "", 0
    for no, raw in enumerate(lines, 1):
        s = raw.strip()
        if not s:
            continue
        if m := _GENERATED.fullmatch(s):
            if cur:
                keys.append(_finish(cur, last_line, last_no))
            try:
                when, tz = parse_ios_time(m["t"])
            except TimeFormatError as exc:
                raise ParseError(COMMAND, str(exc), raw, no) from None
            cur, in_data = {"generated_at": when, "tz": tz}, False
        elif m := _NAME.fullmatch(s):
            if "name" in cur:  # a block without a generation line
                keys.append(_finish(cur, last_line, last_no))
                cur = {}
            cur["name"], in_data = m["name"], False
        elif not cur:
            raise ParseError(COMMAND, "unexpected line before the first key", raw, no)
        elif m := _TYPE.fullmatch(s):
            cur["type"] = m["type"]
            size = m["bits"] or m["curve"]
            cur["bits"] = int(size) if size else None
        elif m := _STORAGE.fullmatch(s):
            cur["storage"] = m["storage"]
        elif s == "Temporary key":
            cur["temporary"] = True
        elif m := _USAGE.fullmatch(s):
            cur["usage"] = m["usage"]
        elif m := _EXPORT.fullmatch(s):
            cur["exportable"] = m["not"] is None
            cur["redundancy"] = m["red"]
        elif _DATA_HEAD.fullmatch(s):
            in_data, cur["data"] = True, []
        elif in_data and _HEX.fullmatch(s):
            cur["data"].append(s.replace(" ", ""))
        elif in_data and _REDACTED.fullmatch(s):
            pass  # key data redacted in a published capture
        else:
            raise ParseError(COMMAND, "unexpected line", raw, no)
        last_line, last_no = raw, no
    if cur:
        keys.append(_finish(cur, last_line, last_no))
    return KeysOutput(keys=keys)
