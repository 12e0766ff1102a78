"""Issue 12 §3 (a, b): hostile input fails fast, and every failure is a ParseError naming the line."""

from __future__ import annotations

import time

import pytest

from iospki.parsers import ParseError, parse
from tests.parse_support import fixtures, read

CHAIN = (
    "hostname R1\n!\ncrypto pki certificate chain TP\n certificate ca 01\n"
    "  30820322 3082020A A0030201 02020101 300D0609 2A864886 F70D0101 0B050030\n{}\n  \tquit\n!\nend\n"
)


@pytest.mark.parametrize(
    "hexline",
    [
        "  " + "0" * 48 + "G",  # one 48-digit word and a bad character (exponential before the fix)
        "  " + " ".join(["01234567"] * 6) + "Z",
        "  " + "ABCDEF01" * 12 + " x",
    ],
)
def test_hostile_hex_line_fails_fast(hexline: str) -> None:
    text = CHAIN.format(hexline)
    start = time.perf_counter()
    with pytest.raises(ParseError) as exc:
        parse("show running-config", text)
    elapsed = time.perf_counter() - start
    assert elapsed < 0.1, elapsed
    assert exc.value.line is not None and exc.value.line.strip() == hexline.strip()
    assert exc.value.lineno == 6


def test_good_hex_lines_still_parse() -> None:
    cfg = parse(
        "show running-config",
        CHAIN.format("  D0E1FB97 2C3E9A21 28CF8B66 CD609017 243F8CB3 5B3DED18 F91083FF"),
    )
    assert [c.serial for c in cfg.chains[0].certificates] == ["01"]


NTP = """\
Clock is synchronized, stratum 3, reference is 192.0.2.123
nominal freq is 250.0000 Hz, actual freq is 250.0000 Hz, precision is 2**10
ntp uptime is 1500 (1/100 of seconds), resolution is 4000
reference time is DD9FA0E4.D3D3F6B5 ({} EST Wed Nov 21 2018)
clock offset is 0.0000 msec, root delay is 0.00 msec
root dispersion is 1.25 msec, peer dispersion is 0.77 msec
loopfilter state is 'CTRL' (Normal Controlled Loop), drift is 0.000000000 s/s
system poll interval is 64, last update was 5 sec ago.
"""


def test_bad_hour_in_ntp_status_names_the_line() -> None:
    assert parse("show ntp status", NTP.format("13:40:23.824")).stratum == 3
    with pytest.raises(ParseError) as exc:
        parse("show ntp status", NTP.format("93:40:23.824"))
    assert exc.value.line is not None and "93:40:23.824" in exc.value.line and exc.value.lineno == 4


KEY = fixtures("show_crypto_key_mypubkey_rsa")


@pytest.mark.parametrize("path", KEY[:1])
def test_changed_byte_in_key_data_names_the_key(path: object) -> None:
    lines = read(path).splitlines()  # type: ignore[arg-type]
    head = next(i for i, ln in enumerate(lines) if ln.strip() == "Key Data:")
    line = lines[head + 1]
    # the first data line holds the algorithm OID of the SubjectPublicKeyInfo: change one digit
    j = next(k for k, ch in enumerate(line) if ch.isdigit() and k > 20)
    bad = line[:j] + ("9" if line[j] != "9" else "8") + line[j + 1 :]
    with pytest.raises(ParseError) as exc:
        parse("show crypto key mypubkey rsa", "\n".join([*lines[: head + 1], bad, *lines[head + 2 :]]))
    assert "not a public key" in str(exc.value) and exc.value.line is not None


def test_every_single_character_change_of_the_real_outputs_is_a_parse_error_or_parses(shared_dir: object) -> None:
    """Over all real outputs, change every fourth alphanumeric character of each line in turn
    (to '9', or 'Z' where it is a '9': a digit, a hex digit or a letter that turns into a
    digit): parse() returns a model or raises ParseError, nothing else. (Every character
    takes about 20 s; the two cases the issue found are the fast tests above.)"""
    from tests.test_parse_acceptance import COMMANDS, FILES

    others: list[str] = []
    runs = 0
    for path in FILES:
        command = COMMANDS[path.parent.name]
        lines = read(path).splitlines()
        for i, ln in enumerate(lines):
            for j, ch in enumerate(ln):
                if not ch.isalnum() or j % 4:
                    continue
                runs += 1
                rep = "9" if ch != "9" else "Z"
                text = "\n".join([*lines[:i], ln[:j] + rep + ln[j + 1 :], *lines[i + 1 :]])
                try:
                    parse(command, text)
                except ParseError:
                    pass
                except Exception as exc:  # noqa: BLE001  (the point of the test)
                    others.append(f"{path.name}:{i + 1}:{j}: {type(exc).__name__}: {exc}")
    assert runs > 4_000
    assert others == []
