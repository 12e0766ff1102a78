"""`iospki.tasks.state`: the facts deploy, rollover and renew decide on, read through the parsers.

The real captures are the cases the former regex readers got wrong (a pending request whose Status line
is not the section's first line; an IE-3100 that prints no indentation)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from iospki.tasks.connection import TaskFailed
from iospki.tasks.state import (
    cert_sections,
    has_ca,
    has_identity,
    identity_serials,
    pending_request,
    pending_request_ids,
    poll_pending,
    rollover_key,
    server_state,
)
from tests.pki_samples import Cert, Server, certificates, server_show, timers_detail

T0 = datetime(2026, 1, 1, 8, 0, 0)


def test_certificates_sections_and_serials() -> None:
    text = certificates(
        [
            Cert("CA Certificate", 1, "cn=ROOT", "cn=ROOT", T0, T0 + timedelta(days=730), "TP"),
            Cert("Certificate", 0x2A, "cn=ROOT", "cn=r1", T0, T0 + timedelta(days=365), "TP"),
            Cert("Certificate (Rollover)", 0x2B, "cn=ROOT", "cn=r1", T0, T0 + timedelta(days=365), "TP"),
        ]
    )
    assert cert_sections(text) == [
        ("CA Certificate", "Available"),
        ("Certificate", "Available"),
        ("Certificate (Rollover)", "Available"),
    ]
    assert has_ca(text) and has_identity(text) and not pending_request(text)
    assert identity_serials(text) == ["2A", "2B"]


def test_nothing_shown_and_ios_messages() -> None:
    assert not has_ca("") and identity_serials("") == []
    assert not has_ca("% Could not find trustpoint TP\n")
    assert server_state("% Certificate server 'NOPE' is not known\n", "NOPE") is None


def test_output_that_does_not_parse_fails_the_task() -> None:
    with pytest.raises(TaskFailed, match="show crypto pki certificates"):
        has_identity("Certificate\n  Status: Available\n  gibberish that no certificate carries\n")


def test_server_state() -> None:
    on = Server("ROOT", T0, T0 + timedelta(days=730), rollover_end=T0 + timedelta(days=1460))
    st = server_state(server_show(on, T0), "ROOT")
    assert st is not None and st.enabled and st.status == "enabled"
    assert st.ca_fingerprint is not None and len(st.ca_fingerprint) == 32 and " " not in st.ca_fingerprint
    assert st.rollover_status == "available for rollover" and st.rollover_fingerprint
    off = server_state(server_show(Server("ROOT", T0, T0 + timedelta(days=730), http=False), T0), "ROOT")
    assert off is not None and not off.enabled and off.status == "disabled, HTTP Server is disabled"
    assert server_state(server_show(on, T0), "OTHER") is None


def test_poll_pending() -> None:
    text = timers_detail(
        T0, [(T0 + timedelta(minutes=1), "POLL TP"), (T0 + timedelta(days=9), "RENEW TP2")], []
    )
    assert poll_pending(text, "TP") and not poll_pending(text, "TP2") and not poll_pending("", "TP")


def test_real_pending_requests(shared_dir: Path) -> None:
    d = shared_dir / "fixtures" / "real" / "other" / "show_crypto_pki_certificates"
    for name in ("ios_r18_pending_request_tz_msk.txt", "ios_r28_pending_request_dmvpn_lab.txt"):
        text = (d / name).read_text(encoding="utf-8")
        assert pending_request(text) and has_ca(text) and not has_identity(text), name


def test_real_unindented_identity(shared_dir: Path) -> None:
    text = (
        shared_dir
        / "fixtures"
        / "real"
        / "genie"
        / "show_crypto_pki_certificates"
        / "iosxe_rv1__golden_output.txt"
    ).read_text(encoding="utf-8")
    assert has_identity(text) and identity_serials(text) == ["03612596745103596F2C"]


def test_pending_request_ids(shared_dir: Path) -> None:
    d = shared_dir / "fixtures" / "real"
    text = (d / "other" / "show_crypto_pki_server_requests" / "ios_r15_ca_requests_pending.txt").read_text()
    assert pending_request_ids(text, "CA") == [6, 5, 4, 3, 2]
    ra = (d / "genie" / "show_crypto_pki_server_requests" / "iosxe__golden_output_csr8kv_ra.txt").read_text()
    assert pending_request_ids(ra, "root") == [1]
    assert (
        pending_request_ids("", "root") == []
        and pending_request_ids("% Certificate server 'x' is not known", "x") == []
    )


_KEY = """% Key pair was generated at: 12:17:28 UTC Sep 2 2028
Key name: {name}
Key type: RSA KEYS      2048 bits
 Storage Device: private-config
 Usage: General Purpose Key
 Key is not exportable. Redundancy enabled.
 Key Data:
  30820122 300D0609 2A864886 F70D0101 01050003 82010F00 3082010A 02820101
  00B7F6AA 07FE5F10 2C279C4E 8F0892A4 3D27143F C882A3B0 9F452655 E865A79B
  28651331 D6057E16 15C9197B 4152BAA2 C14BA9BE 2BD67732 5099305E 2629F8AB
  E2A73FE2 BBFC4F7C 8695010C EDB37852 FA9C65A2 7E907532 EC52511A F128E419
  0D851F9F 50BDF6DF 3748B51C 10AFCBDE 881E0A8C 8494B774 89C04A86 F406E550
  15A6DA7F E8405135 9A281EFE 1E372569 424D04B6 5B61D4CA 652C3FF8 2DAD4210
  E8733D0F 9491E5D5 DE77D856 B3840AAC E22A254D 3A9B8918 E95C65B4 29E4DA0F
  14DFA6A7 AB6E5A76 ED6AEB94 2F58C0E8 813BBA4D 7F34A878 DFF5B0F2 4EC15CEC
  5061CE75 87DE1D91 3A2B62A9 E51E0497 691047E7 5EC26117 27E74E9A AF2682E1
  DF020301 0001
"""


def test_rollover_key() -> None:
    """The NAME# key pair; the '% Key pair was generated' line that opens every block is output, not an error."""
    one = _KEY.format(name="LABCA")
    assert not rollover_key(one, "LABCA")
    assert rollover_key(one + _KEY.format(name="LABCA#"), "LABCA")
    assert not rollover_key(one + _KEY.format(name="LABCA#"), "LAB")


def test_dialog_answers() -> None:
    """The CA certificate `crypto pki authenticate` offers, and a command IOS refuses (lab wording)."""
    from iospki.parsers.dialogs import offered_fingerprints, rejection

    offer = (
        "r1(config)#crypto pki authenticate LABCA\n"
        "Certificate has the following attributes:\n"
        "       Fingerprint MD5: 9E13AA2D 7074649E D6BFCA5B 08A08931 \n"
        "      Fingerprint SHA1: 0A1B2C3D 4E5F6071 8293A4B5 C6D7E8F9 0A1B2C3D \n"
        "\n% Do you accept this certificate? [yes/no]: "
    )
    assert offered_fingerprints(offer) == {
        "MD5": "9E13AA2D7074649ED6BFCA5B08A08931",
        "SHA1": "0A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D",
    }
    assert offered_fingerprints("% Error in receiving Certificate Authority certificate") == {}
    assert rejection(offer) is None  # the question's '%' is no refusal
    refused = (
        "ca1(config)#crypto pki server NOPE rollover\n% Certificate server 'NOPE' is not known\nca1(config)#"
    )
    assert rejection(refused) == "% Certificate server 'NOPE' is not known"
    assert rejection("% Invalid input detected at '^' marker.") == "% Invalid input detected at '^' marker."
