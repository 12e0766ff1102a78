"""Acceptance checks of issue 2 that cut across the parsers: every real output of a parsed
command survives session noise unchanged, a foreign line anywhere is named in the ParseError,
and every timer kind of the behaviour notes keeps its section, kind and target."""

from __future__ import annotations

import typing
from datetime import datetime
from pathlib import Path

import pytest
from pydantic import BaseModel

from iospki.models import TimersOutput
from iospki.parsers import ParseError, parse
from iospki.parsers import base as parser_base
from tests.parse_support import REAL, fixture_ids, read

# fixture folder -> the command whose output it holds (every folder of a command issue 2 lists)
COMMANDS = {
    "show_clock": "show clock",
    "show_ntp_status": "show ntp status",
    "show_crypto_key_mypubkey_rsa": "show crypto key mypubkey rsa",
    "show_crypto_key_mypubkey_rsa_keyname": "show crypto key mypubkey rsa K",
    "show_crypto_pki_certificates": "show crypto pki certificates",
    "show_crypto_pki_certificates_verbose": "show crypto pki certificates verbose",
    "show_crypto_pki_crls": "show crypto pki crls",
    "show_crypto_pki_server": "show crypto pki server",
    "show_crypto_pki_server_crl": "show crypto pki server CA crl",
    "show_crypto_pki_server_requests": "show crypto pki server CA requests",
    "show_crypto_pki_timer_detail": "show crypto pki timer detail",
    "show_crypto_pki_timers_detail": "show crypto pki timers detail",
    "show_crypto_pki_trustpoints": "show crypto pki trustpoints",
    "show_crypto_pki_trustpoints_status": "show crypto pki trustpoints status",
    "show_crypto_pki_counters": "show crypto pki counters",
    "show_crypto_pki_trustpool": "show crypto pki trustpool",
    "show_crypto_pki_trustpool_count_downloaded": "show crypto pki trustpool | count Downloaded",
    "show_crypto_pki_certificates_pem_server": "show crypto pki certificates pem server",
    "show_crypto_pki_crls_download": "show crypto pki crls download",
}
FILES = sorted(p for d in COMMANDS for p in REAL.glob(f"*/{d}/*.txt")) if REAL.is_dir() else []
MORE = " --More-- " + "\x08" * 10 + " " * 10 + "\x08" * 10


def _noisy(command: str, text: str) -> str:
    """The output as a terminal session captures it: a prompt line, the echo, CR LF line
    ends, trailing spaces, a `--More--` remnant before the fourth line and a trailing prompt."""
    lines = [ln + "   " for ln in text.splitlines()]
    if len(lines) > 4:
        lines[3] = MORE + lines[3]
    return "\r\n".join(["R1#", f"R1#{command}", *lines, "R1#"])


def test_every_fixture_folder_of_a_parsed_command_is_covered() -> None:
    if not REAL.is_dir():
        pytest.skip(f"real fixtures not found under {REAL}")
    folders = {p.parent.name for p in FILES}
    assert folders == set(COMMANDS), set(COMMANDS) - folders


@pytest.mark.parametrize("path", FILES, ids=fixture_ids(FILES))
def test_session_noise_changes_nothing(path: Path) -> None:
    command = COMMANDS[path.parent.name]
    text = read(path)
    clean = parse(command, text)
    assert parse(command, _noisy(command, text)) == clean
    # something was recovered: a list with entries, or a scalar model (clock, NTP, one CRL)
    lists = [v for v in clean.model_dump().values() if isinstance(v, list)]
    assert any(lists) or path.parent.name in {
        "show_clock",
        "show_ntp_status",
        "show_crypto_pki_server_crl",
        "show_crypto_pki_counters",
        "show_crypto_pki_trustpool_count_downloaded",
    }


@pytest.mark.parametrize("path", FILES, ids=fixture_ids(FILES))
def test_a_foreign_line_is_named(path: Path) -> None:
    command = COMMANDS[path.parent.name]
    lines = read(path).splitlines()
    # after the first line, in the middle, before the last line (some captures end with a bare hostname)
    last = max(i for i, ln in enumerate(lines) if ln.strip())
    for at in {1, len(lines) // 2, max(last, 1)}:
        bad = [*lines[:at], "  zzz foreign qqq line", *lines[at:]]
        with pytest.raises(ParseError) as exc:
            parse(command, "\n".join(bad))
        assert exc.value.line is not None and "zzz foreign qqq line" in exc.value.line, (at, exc.value)
        assert repr(exc.value.command)[1:-1].split()[:3] == command.split()[:3]
        assert str(exc.value).startswith("cannot parse")


# ---- timers: every kind of the behaviour notes' inventory (§1.1, §3.3) ---------------------

EVERY_KIND = """\
Router#show crypto pki timers detail
PKI Timers
|          48.241  (2022-01-15T08:54:35Z)
  |          48.241  (2022-01-15T08:54:35Z) SESSION CLEANUP
  |          57.782  (2022-01-16T05:02:44Z) POLL tp.client
|985d11:54:30.614  (2024-09-26T20:48:17Z) SHADOW tp.client
  |291d23:54:53.214  (2022-11-04T03:01:26Z) RENEW tp.client
  |291d23:54:53.214  (2022-11-04T03:01:26Z) RENEW tp-two
Expiry Alert Timers
|304d23:58:41.613  (2022-11-16T08:52:28Z)
  |304d23:58:41.613  (2022-11-16T08:52:28Z) ID(tp.client)
  |303d23:59:25.387  (2026-08-19T14:04:37Z) CA(tp.client)
  |1034d23:54:30.571  (2024-11-15T08:48:17Z) CS(root)
CRL Timers
|     5:54:30.889  (2022-01-15T14:48:17Z)
  |        4:33.164  (2022-01-16T05:06:20Z) CRL auto-download retry timer
  |     5:54:30.889  (2022-01-15T14:48:17Z) CRL EXPIRE cn=root
  |     5:54:30.889  (2022-01-15T14:48:17Z) CRL UPDATE *cn=root
Trustpool Timers
|1283d 6:19:02.213  (2029-04-25T01:55:42Z)
  |1283d 6:19:02.213  (2029-04-25T01:55:42Z) TRUSTPOOL
  | 6.908 (2020-05-02T04:10:40Z) CONNECT RETRY estclient
CS Timers
|     5:54:30.810  (2022-01-15T14:48:17Z)
  |     5:54:30.810  (2022-01-15T14:48:17Z) CS CRL UPDATE
  |1094d23:34:30.810  (2025-01-14T08:28:17Z) CS SHADOW CERT GENERATION
  |1094d23:54:30.569  (2025-01-14T08:48:17Z) CS CERT EXPIRE
  |  6d23:59:57.701  (2025-01-14T08:48:18Z) ER EXPIRE 1
Router#"""

EXPECTED = [
    ("PKI Timers", "SESSION CLEANUP", None, 48.241),
    ("PKI Timers", "POLL", "tp.client", 57.782),
    ("PKI Timers", "SHADOW", "tp.client", 985 * 86400 + 11 * 3600 + 54 * 60 + 30.614),
    ("PKI Timers", "RENEW", "tp.client", 291 * 86400 + 23 * 3600 + 54 * 60 + 53.214),
    ("PKI Timers", "RENEW", "tp-two", 291 * 86400 + 23 * 3600 + 54 * 60 + 53.214),
    ("Expiry Alert Timers", "ID", "tp.client", 304 * 86400 + 23 * 3600 + 58 * 60 + 41.613),
    ("Expiry Alert Timers", "CA", "tp.client", 303 * 86400 + 23 * 3600 + 59 * 60 + 25.387),
    ("Expiry Alert Timers", "CS", "root", 1034 * 86400 + 23 * 3600 + 54 * 60 + 30.571),
    ("CRL Timers", "CRL auto-download retry timer", None, 4 * 60 + 33.164),
    ("CRL Timers", "CRL EXPIRE", "cn=root", 5 * 3600 + 54 * 60 + 30.889),
    ("CRL Timers", "CRL UPDATE", "cn=root", 5 * 3600 + 54 * 60 + 30.889),
    ("Trustpool Timers", "TRUSTPOOL", None, 1283 * 86400 + 6 * 3600 + 19 * 60 + 2.213),
    ("Trustpool Timers", "CONNECT RETRY", "estclient", 6.908),
    ("CS Timers", "CS CRL UPDATE", None, 5 * 3600 + 54 * 60 + 30.810),
    ("CS Timers", "CS SHADOW CERT GENERATION", None, 1094 * 86400 + 23 * 3600 + 34 * 60 + 30.810),
    ("CS Timers", "CS CERT EXPIRE", None, 1094 * 86400 + 23 * 3600 + 54 * 60 + 30.569),
    ("CS Timers", "ER EXPIRE", "1", 6 * 86400 + 23 * 3600 + 59 * 60 + 57.701),
]


def test_every_timer_kind_keeps_section_kind_and_target() -> None:
    out = parse("show crypto pki timers detail", EVERY_KIND)
    assert isinstance(out, TimersOutput)
    got = [(t.section, t.kind, t.target, t.remaining_seconds) for t in out.timers]
    # the unindented SHADOW line (a child printed at column 0, as in the stitched G1 sample) is a timer
    assert got == [(s, k, tg, round(r, 3)) for s, k, tg, r in EXPECTED]
    assert out.timers[-1].at == datetime(2025, 1, 14, 8, 48, 18)
    renews = {(t.kind, t.target) for t in out.timers if t.kind == "RENEW"}
    assert renews == {("RENEW", "tp.client"), ("RENEW", "tp-two")}  # two trustpoints never collide


def test_classic_ios_timers_without_iso_times() -> None:
    classic = "\n".join(
        ln.split("  (")[0] + " " + ln.rsplit(") ", 1)[1] if ") " in ln else ln.split("  (")[0]
        for ln in EVERY_KIND.replace(" | 6.908 (2020-05-02T04:10:40Z)", " | 6.908  (2020-05-02T04:10:40Z)")
        .replace("Router#show crypto pki timers detail", "Router#show crypto pki timers")
        .splitlines()
    )
    assert "(20" not in classic and "|  6d23:59:57.701 ER EXPIRE 1" in classic
    out = parse("show crypto pki timers", classic)
    assert [(t.section, t.kind, t.target, t.remaining_seconds) for t in out.timers] == [
        (s, k, tg, round(r, 3)) for s, k, tg, r in EXPECTED
    ]
    assert all(t.at is None for t in out.timers)


def test_json_names_of_the_contract() -> None:
    """The names other tools read (issue 2's output contract)."""
    timer = parse("show crypto pki timers detail", EVERY_KIND).model_dump(mode="json")["timers"][0]
    assert {"section", "kind", "target", "remaining_seconds", "at"} <= set(timer)
    assert timer["at"] == "2022-01-15T08:54:35"


@pytest.mark.parametrize(
    ("command", "parser"),
    [
        ("show crypto pki certificates", "parse_certificates"),
        ("sh crypto pki certificates TP.one verbose", "parse_certificates"),  # IOS 15: [TP [verbose]]
        ("show crypto pki certificates verbose TP.one", "parse_certificates"),  # IOS-XE / genie order
        ("show crypto pki timer detail", "parse_timers"),
        ("sh crypto pki timers", "parse_timers"),
        ("show crypto pki trustpoints TP status", "parse_trustpoints_status"),
        ("show crypto pki trustpoints", "parse_trustpoints"),
        ("show crypto key mypubkey rsa ROOTCA#", "parse_keys"),
        ("sh run | section crypto pki", "parse_running_config"),
        ("show startup-config", "parse_running_config"),
    ],
)
def test_command_forms(command: str, parser: str) -> None:
    from iospki.parsers.base import lookup

    assert lookup(command).__name__ == parser


def _models(model: type[BaseModel]) -> list[type[BaseModel]]:
    """The model and the models of its list/optional fields, recursively."""
    found = [model]
    for field in model.model_fields.values():
        for arg in typing.get_args(field.annotation) or (field.annotation,):
            for inner in typing.get_args(arg) or (arg,):
                if isinstance(inner, type) and issubclass(inner, BaseModel) and inner not in found:
                    found += _models(inner)
    return found


def test_readme_documents_every_json_name() -> None:
    """Other tools read this JSON: every field of every parser's model is named in the README."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Parsing device output")
    section = readme[start : readme.index("\n## ", start + 1)]
    missing = set()
    for func in set(parser_base._REGISTRY.values()):
        for model in _models(typing.get_type_hints(func)["return"]):
            missing |= {
                f"{model.__name__}.{name}" for name in model.model_fields if f'"{name}"' not in section
            }
    assert not missing, sorted(missing)


@pytest.mark.parametrize(
    ("command", "text", "needle"),
    [
        ("show crypto pki server", "R1#show crypto pki server\nCertificate Server CA:\nR1#", "no lines"),
        ("show crypto key mypubkey rsa", "Key name: a\n", "no 'Key type:' line"),
        ("show crypto pki timers", "PKI Timers\n|  48.241\n", "without timers"),
        (
            "show crypto pki server ROOT crl",
            "Certificate Revocation List:\n    Issuer: cn=R\n",
            "This Update",
        ),
        ("show crypto pki crls", "CRL Issuer Name:\n", "output ends"),
    ],
)
def test_a_cut_off_output_is_an_error_not_an_empty_model(command: str, text: str, needle: str) -> None:
    with pytest.raises(ParseError, match=needle) as exc:
        parse(command, text)
    assert exc.value.command == command  # named as the caller gave it, e.g. with the server name


def test_running_config_survives_session_noise() -> None:
    from tests.test_parse_running_config import FULL

    body = "\n".join(FULL.splitlines()[1:-1])  # without its own echo and prompt
    noisy = _noisy("show running-config", body)
    assert "\r\n" in noisy and "--More--" in noisy
    assert parse("show running-config", noisy) == parse("show running-config", FULL)
