"""Templates: pure rendering (StrictUndefined), then render -> push to the lab -> `show running-config` ->
`iospki.parsers` (RunningConfig) -> compare with the intent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import jinja2
import pytest

from iospki.models import RunningConfig
from iospki.operations.intent import CAServerIntent, HostIntent, TrustpointIntent
from iospki.templates import render, render_ca_server, render_prerequisites, render_trustpoint
from tests.lab_fixture import LabHandle, MakeLab
from tests.toolkit_support import ca_intent, tp_intent

FULL_CA = CAServerIntent(
    name="ROOTCA",
    issuer="CN=RootCA,OU=TAC,O=Cisco",
    lifetime_ca_days=730,
    lifetime_certificate_days=365,
    lifetime_crl_hours=24,
    lifetime_enrollment_request_hours=48,
    auto_rollover_days=90,
    grant="auto",
    database_level="complete",
    database_url="nvram:",
    database_archive="pkcs12",
    hash="sha256",
    cdp_url="http://127.0.0.1/ROOTCA.crl",
    http_port=8080,
)
FULL_TP = TrustpointIntent(
    name="Root-CA",
    ca_server="ca1",
    auto_enroll_percent=80,
    regenerate=True,
    key_label="spoke-1-RSA",
    key_size=2048,
    subject="CN=spoke-1.cisco.com,OU=CVO",
    serial_number=True,
    revocation_check="crl",
    enrollment_retry_count=5,
    enrollment_retry_period=2,
)


def test_ca_server_block_has_every_option_of_the_seed() -> None:
    lines = render_ca_server(FULL_CA, archive_password="not-a-real-one")
    assert lines == [
        "crypto pki server ROOTCA",
        " database level complete",
        " database url nvram:",
        " database archive pkcs12 password not-a-real-one",
        " issuer-name CN=RootCA,OU=TAC,O=Cisco",
        " grant auto",
        " lifetime crl 24",
        " lifetime certificate 365",
        " lifetime ca-certificate 730",
        " lifetime enrollment-request 48",
        " auto-rollover 90",
        " hash sha256",
        " cdp-url http://127.0.0.1/ROOTCA.crl",
    ]
    # manual grant is IOS's default: no grant line; no archive password -> no archive line
    minimal = render_ca_server(CAServerIntent(name="CA", database_archive="pkcs12"))
    assert minimal == ["crypto pki server CA"]
    assert " grant none" in render_ca_server(CAServerIntent(name="CA", grant="none"))


def test_trustpoint_block() -> None:
    assert render_trustpoint(FULL_TP, "http://192.0.2.1:80") == [
        "crypto pki trustpoint Root-CA",
        " enrollment url http://192.0.2.1:80",
        " enrollment retry count 5",
        " enrollment retry period 2",
        " serial-number",
        " ip-address none",
        " subject-name CN=spoke-1.cisco.com,OU=CVO",
        " revocation-check crl",
        " rsakeypair spoke-1-RSA 2048",
        " auto-enroll 80 regenerate",
    ]
    plain = render_trustpoint(
        TrustpointIntent(name="T", ca_server="c", auto_enroll_percent=None), "http://1.2.3.4"
    )
    assert " auto-enroll" in plain and " serial-number none" in plain
    assert not any(
        "auto-enroll" in x
        for x in render_trustpoint(TrustpointIntent(name="T", ca_server="c", auto_enroll=False), "u")
    )


def test_prerequisites() -> None:
    ca = HostIntent(domain_name="example.net", ntp_servers=["192.0.2.1", "192.0.2.2"], ca_server=FULL_CA)
    assert render_prerequisites(ca) == [
        "ip domain name example.net",
        "ntp server 192.0.2.1",
        "ntp server 192.0.2.2",
        "ip http server",
        "ip http port 8080",
    ]
    assert render_prerequisites(HostIntent(calendar_valid=True)) == ["clock calendar-valid"]


def test_strict_undefined_and_purity() -> None:
    with pytest.raises(jinja2.UndefinedError):
        render("trustpoint.j2", tp=FULL_TP)  # no url
    a = render_trustpoint(FULL_TP, "http://x")
    assert a == render_trustpoint(FULL_TP, "http://x")  # pure: same input, same lines


# ----------------------------------------------------------------------------------------- against the lab


@pytest.fixture(scope="module")
def lab(make_lab_module: MakeLab) -> Iterator[LabHandle]:
    yield make_lab_module(hosts=[("ca1", "csr1k"), ("r2", "isr_g2")])


@pytest.mark.lab
def test_render_push_read_back_parse_compare(lab: LabHandle) -> None:
    from iospki.operations.inventory import load_nornir
    from iospki.parsers import parse
    from iospki.tasks import push_config

    ca = CAServerIntent.model_validate({**ca_intent(), "hash": "sha256", "lifetime_crl_hours": 24})
    ca_host = HostIntent(domain_name="lab.iospki.test", ntp_servers=["127.0.0.123"], ca_server=ca)
    tp = TrustpointIntent.model_validate(
        tp_intent(subject="CN=r2.lab.iospki.test,O=iospki", enrollment_retry_period=2)
    )
    url = f"http://{lab.hosts['ca1'].address}:{ca.http_port}"
    lines = {
        "ca1": render_prerequisites(ca_host) + render_ca_server(ca),
        "r2": render_prerequisites(HostIntent(calendar_valid=True)) + render_trustpoint(tp, url),
    }
    nr = load_nornir(lab.inventory_dir)
    res = nr.run(task=lambda task: push_config(task, lines[task.host.name]))
    assert not res.failed, {h: str(r[0].exception) for h, r in res.items() if r.failed}
    assert res["ca1"][0].changed and res["r2"][0].changed
    again = nr.run(task=lambda task: push_config(task, lines[task.host.name]))
    assert all(r[0].result == [] and not r[0].changed for r in again.values())  # idempotent

    from tests.toolkit_support import device

    rc = parse("show running-config", device(lab, "ca1", "show running-config"))
    assert isinstance(rc, RunningConfig)
    assert rc.domain_name == "lab.iospki.test" and rc.ntp_servers == ["127.0.0.123"]
    assert rc.ip_http_server and rc.ip_http_port == ca.http_port
    srv = next(s for s in rc.servers if s.name == ca.name)
    assert srv.issuer_name == ca.issuer and srv.grant == "auto"
    assert srv.database_level == ca.database_level and srv.database_url == ca.database_url
    assert srv.lifetime_certificate == timedelta(days=365) and srv.lifetime_ca_certificate == timedelta(
        days=730
    )
    assert srv.lifetime_crl == timedelta(hours=24) and srv.hash == "sha256"
    assert srv.auto_rollover == timedelta(days=90)

    rc2 = parse("show running-config", device(lab, "r2", "show running-config"))
    assert isinstance(rc2, RunningConfig)
    assert rc2.clock_calendar_valid
    t = next(x for x in rc2.trustpoints if x.name == tp.name)
    assert t.enrollment_url == url and t.subject_name == tp.subject
    assert t.auto_enroll and t.auto_enroll_percent == 80 and t.auto_enroll_regenerate
    assert t.rsakeypair == "IOSPKI-KEY" and t.rsakeypair_size == 2048
    assert t.revocation_check == ["none"] and t.enrollment_retry_period == 2
    assert t.serial_number == "none"
    nr.close_connections()
