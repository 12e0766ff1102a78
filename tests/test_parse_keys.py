"""`show crypto key mypubkey rsa [NAME]`: real outputs, the seed's rollover key `ROOTCA#`, and
key sizes derived from the key data's DER."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from iospki.models import KeysOutput
from iospki.parsers import ParseError, parse
from tests.parse_support import fixture_ids, fixtures, read, seed_block

FILES = fixtures("show_crypto_key_mypubkey_rsa", "show_crypto_key_mypubkey_rsa_keyname")


@pytest.mark.parametrize("path", FILES, ids=fixture_ids(FILES))
def test_real_key_outputs(path: Path) -> None:
    text = read(path)
    out = parse("show crypto key mypubkey rsa", text)
    assert isinstance(out, KeysOutput)
    assert [k.name for k in out.keys] == re.findall(r"^Key name: (\S+)\s*$", text, re.M)
    assert sum(k.temporary for k in out.keys) == text.count("Temporary key")
    printed = re.findall(r"^Key type: RSA KEYS(?:\s+(\d+) bits)?\s*$", text, re.M)
    for key, bits in zip(out.keys, printed, strict=True):
        if bits and key.key_size is not None:
            assert key.key_size == int(bits)  # DER-derived size agrees with the printed one
        if "REDACTED" not in text:
            assert key.key_data and key.key_size in (768, 1024, 2048, 2176, 4096)
    gpath = path.with_name(path.name.replace(".txt", ".genie.json"))
    if gpath.is_file():
        for exp in json.loads(gpath.read_text())["keys"].values():
            key = next(k for k in out.keys if k.name == exp["key_name"])
            (info,) = exp["key_type"].values()
            assert key.key_data == "".join("".join(info["key_data"]).split())
            assert key.exportable is (info["key"] == "exportable")
            assert key.usage == info.get("usage") and key.storage == info.get("storage_device")
            assert key.generated_at == datetime.strptime(exp["keypairgen_time"], "%H:%M:%S %Z %b %d %Y")


def test_seed_rollover_key() -> None:
    out = parse(
        "show crypto key mypubkey rsa",
        seed_block("Root-CA# show crypto key mypubkey rsa", "IOS genereert vervolgens"),
    )
    a, b = out.keys
    assert (a.name, a.rollover, a.key_size, a.storage) == ("ROOTCA", False, 1024, "private-config")
    assert (b.name, b.rollover, b.key_size, b.storage) == ("ROOTCA#", True, 1024, "not specified")
    assert b.generated_at == datetime(2017, 7, 10, 13, 14, 18) and b.tz == "CET"


def _key_block(name: str, bits: int, extra: str = "") -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hexd = der.hex().upper()
    words = [hexd[i : i + 8] for i in range(0, len(hexd), 8)]
    rows = "\n".join("  " + " ".join(words[i : i + 8]) for i in range(0, len(words), 8))
    text = (
        f"% Key pair was generated at: 09:24:31 UTC Mar 22 2024\nKey name: {name}\nKey type: RSA KEYS\n{extra}"
        f" Usage: General Purpose Key\n Key is exportable. Redundancy enabled.\n Key Data:\n{rows}\n"
    )
    return text, hexd


def test_key_size_from_der_and_device_storage() -> None:
    a, hex_a = _key_block("tp.one", 1024, " Storage Device: private-config\n")
    b, _ = _key_block("tp.one#", 2048, " On Cryptographic Device: act2 (label=act2, key index=24)\n")
    out = parse("show crypto key mypubkey rsa", "R1#show crypto key mypubkey rsa\r\n" + a + b + "R1#")
    k1, k2 = out.keys
    assert (k1.key_size, k1.key_data, k1.exportable, k1.redundancy) == (1024, hex_a, True, "enabled")
    assert k2.rollover and k2.key_size == 2048 and k2.storage == "act2 (label=act2, key index=24)"


def test_truncated_key_data_is_an_error() -> None:
    text, _ = _key_block("k", 1024)
    with pytest.raises(ParseError) as exc:
        parse("show crypto key mypubkey rsa", text.rsplit("\n", 3)[0])
    assert "'k'" in str(exc.value)


@pytest.mark.parametrize("text", ["Key name: a\n Bogus line\n", " Usage: General Purpose Key\n"])
def test_garbage_raises(text: str) -> None:
    with pytest.raises(ParseError):
        parse("show crypto key mypubkey rsa", text)


EC_ALL = fixtures(
    "show_crypto_key_mypubkey_all", "show_crypto_key_mypubkey_ec", "show_crypto_key_mypubkey_ec_keyname"
)


@pytest.mark.parametrize("path", EC_ALL, ids=fixture_ids(EC_ALL))
def test_ec_and_all_outputs(path: Path) -> None:
    text = read(path)
    out = parse("show crypto key mypubkey all", text)
    assert isinstance(out, KeysOutput)
    types = re.findall(r"^Key type: (\w+) KEYS", text, re.M)
    assert [k.key_type for k in out.keys] == types
    for k in out.keys:
        assert k.key_size in ((256, 384, 521) if k.key_type == "EC" else (768, 1024, 2048, 2176, 4096))
    for m in re.finditer(r"^Key name: (\S+)\nKey type: EC KEYS\s+p(\d+) curve", text, re.M):
        assert next(k for k in out.keys if k.name == m[1]).key_size == int(m[2])
    gpath = path.with_name(path.name.replace(".txt", ".genie.json"))
    exp = json.loads(gpath.read_text())["keys"]
    assert len(exp) == len(out.keys)
    for e in exp.values():
        key = next(k for k in out.keys if k.name == e["key_name"])
        (info,) = e["key_type"].values()
        assert key.key_data == "".join("".join(info["key_data"]).split())


_STORAGE = " Storage Device: private-config"


@pytest.mark.parametrize(
    ("edit", "taken"),
    [
        (lambda t: t, True),
        (lambda t: t.replace("\n  ", "\n\t", 2), True),  # tab-indented key data
        (lambda t: t.replace("\n  ", "\n  \t", 1), True),
        (lambda t: t.replace(" Key Data:\n  ", " Key Data:\n  \n  ", 1), False),  # a blank line in the data
        (lambda t: t.replace("\n  ", "\n  A", 1), False),  # a nine-digit word
        (lambda t: t.replace("\n  ", "\n  A ", 1), False),  # an odd number of digits: no public key
        (lambda t: t.replace(" ", "  ", 30), False),
        (lambda t: t.replace("\n  ", " \n  ", 3), True),  # trailing blanks
        (lambda t: t.replace("UTC Mar", "Fri Mar"), True),  # a weekday where the zone goes: no zone
        (lambda t: t.replace("UTC Mar", "UTC  Mar"), True),  # not the usual time layout: `IOS_TIME` reads it
        (lambda t: t.replace(_STORAGE, "Temporary key"), True),  # IOS-XE's HTTPS server key
        (lambda t: t.replace(_STORAGE, " Temporary key\t"), True),
        (lambda t: t.replace(_STORAGE, "Temporary key\n Storage Device: nvram"), False),
        (lambda t: t.replace(_STORAGE, " Storage Device:  "), False),
    ],
)
def test_fast_path_gives_the_strict_result(edit: Callable[[str], str], taken: bool) -> None:
    """The possessive regex and the blank-free join give what the strict loop gives (issue 13 §1)."""
    from iospki.parsers.keys import _fast, parse_keys

    a, _ = _key_block("tp.one", 1024, _STORAGE + "\n")
    text = edit(a)
    quick = _fast(text)
    assert (quick is not None) == taken
    if quick is not None:
        assert quick == parse_keys(text, None, fast=False)
