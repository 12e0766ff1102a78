"""`show crypto pki crls` (client CRL cache) on the real output and the behaviour notes' sample."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from iospki.models import CrlsOutput
from iospki.parsers import ParseError, parse
from tests.parse_support import fixture_ids, fixtures, read

FILES = fixtures("show_crypto_pki_crls")


@pytest.mark.parametrize("path", FILES, ids=fixture_ids(FILES))
def test_real_crls(path: Path) -> None:
    text = read(path)
    out = parse("show crypto pki crls", text)
    assert isinstance(out, CrlsOutput)
    assert len(out.crls) == text.count("CRL Issuer Name:")
    exp = json.loads(path.with_name(path.name.replace(".txt", ".genie.json")).read_text())
    (crl,) = out.crls
    fmt = "%H:%M:%S %b %d %Y"
    assert crl.this_update == datetime.strptime(exp["last_update"].replace(" IST", ""), fmt)
    assert crl.downloaded_at == datetime.strptime(exp["crl_downloaded_at"].replace(" IST", ""), fmt)
    assert crl.size_bytes == exp["crl_der_size"] and crl.retrieved_from == [exp["retrieved_from"]]
    assert crl.cache_status == exp["crl_cache_status"]
    assert out.cache_current_bytes == exp["parsed_crl_cache"]["current_size"]
    assert out.cache_max_bytes == exp["parsed_crl_cache"]["maximum_size"]


TWO = """C8Kv1#show crypto pki crls
CRL Issuer Name:
    cn=ca.qytang.com,ou=qytang
    LastUpdate: 10:38:13 GMT Oct 30 2023
    NextUpdate: 16:38:13 GMT Oct 30 2023

    CRL downloaded at: 10:49:43 GMT Oct 30 2023

    Retrieved from CRL Distribution Point:
      ** CDP Not Published - Retrieved via SCEP

 CRL DER is 370 bytes
 CRL is stored in parsed CRL cache

CRL Issuer Name:
    cn=other
    LastUpdate: 10:00:00 GMT Oct 30 2023
    NextUpdate: 11:00:00 GMT Oct 31 2023
    Retrieved from CRL Distribution Point:
      http://192.0.2.11/cgi-bin/pkiclient.exe?operation=GetCRL

 CRL DER is 400 bytes
 CRL is stored in parsed CRL cache


Parsed CRL cache current size is 770 bytes
Parsed CRL cache maximum size is 65536 bytes
"""


def test_two_crls() -> None:
    out = parse("show crypto pki crls", TWO)
    a, b = out.crls
    assert a.issuer == "cn=ca.qytang.com,ou=qytang" and a.next_update == datetime(2023, 10, 30, 16, 38, 13)
    assert a.tz == "GMT" and a.size_bytes == 370
    assert b.issuer == "cn=other" and b.retrieved_from == [
        "http://192.0.2.11/cgi-bin/pkiclient.exe?operation=GetCRL"
    ]
    assert out.cache_current_bytes == 770


@pytest.mark.parametrize(
    "text", ["CRL Issuer Name:\n", "CRL Issuer Name:\n cn=x\n Unexpected: 1\n", "LastUpdate: x"]
)
def test_garbage_raises(text: str) -> None:
    with pytest.raises(ParseError):
        parse("show crypto pki crls", text)
