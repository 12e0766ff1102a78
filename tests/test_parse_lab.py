"""The part B parsers on outputs of the lab twin read over real SSH (netmiko), after enabling a
certificate server on an emulated CSR1000v: every output parses and agrees with the others."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from netmiko import ConnectHandler

from iospki.models import (
    Clock,
    Crl,
    CrlsOutput,
    IssuedCertificatesOutput,
    KeysOutput,
    RequestsOutput,
    ServersOutput,
    TimersOutput,
    TrustpointsOutput,
    TrustpointStatusOutput,
)
from iospki.parsers import parse
from tests.lab_fixture import MakeLab
from tests.netmiko_text import send_text

pytestmark = pytest.mark.lab

PASSPHRASE = "lab-test-passphrase"  # throwaway, loopback lab only


def test_ca_server_outputs_parse_and_agree(make_lab: MakeLab) -> None:
    lab = make_lab(hosts=[("ca1", "csr1k"), ("r1", "isr_g1")])
    with ConnectHandler(**lab.hosts["ca1"].netmiko()) as c:
        c.send_config_set(
            [
                "clock calendar-valid",
                "ip http server",
                "crypto pki server CA",
                "grant auto",
                "auto-rollover 30",
                "database level complete",
            ]
        )
        c.config_mode()
        send_text(c, "crypto pki server CA", expect_string=r"cs-server")
        # each question is read up to by pattern (send_command_timing would wait 2 s of silence after each)
        asks = r"(assword: |\[yes/no\]: )$"
        until = rf"{asks}|cs-server\)#\s*$"
        out = send_text(c, "no shutdown", expect_string=until, strip_prompt=False, read_timeout=60)
        for _ in range(3):
            if not re.search(asks, out):
                break
            answer = PASSPHRASE if "assword" in out else "yes"
            out = send_text(
                c, answer, expect_string=until, strip_prompt=False, cmd_verify=False, read_timeout=60
            )
        c.exit_config_mode()
        got = {
            cmd: parse(cmd, send_text(c, cmd))
            for cmd in [
                "show clock detail",
                "show crypto pki timers",
                "show crypto key mypubkey rsa",
                "show crypto pki trustpoints",
                "show crypto pki trustpoints status",
                "show crypto pki server",
                "show crypto pki crls",
                "show crypto pki server CA requests",
                "show crypto pki server CA certificates",
                "show crypto pki server CA crl",
            ]
        }
    clock = got["show clock detail"]
    assert isinstance(clock, Clock) and clock.authoritative and clock.source == "hardware calendar"
    servers = got["show crypto pki server"]
    assert isinstance(servers, ServersOutput)
    (srv,) = servers.servers
    assert (srv.name, srv.status, srv.grant_mode, srv.database_level, srv.auto_rollover_days) == (
        "CA",
        "enabled",
        "auto",
        "complete",
        30,
    )
    assert srv.ca_expires is not None and srv.autorollover_at == srv.ca_expires - timedelta(days=30)
    timers = got["show crypto pki timers"]
    assert isinstance(timers, TimersOutput)
    cs = {t.kind: t for t in timers.timers if t.section == "CS Timers"}
    # IOS-XE prints the absolute time in UTC; the lab's clock zone is UTC too
    assert cs["CS CERT EXPIRE"].at == srv.ca_expires
    assert cs["CS SHADOW CERT GENERATION"].at == srv.autorollover_at
    assert cs["CS CRL UPDATE"].at == srv.crl_next_update
    keys = got["show crypto key mypubkey rsa"]
    assert isinstance(keys, KeysOutput) and [(k.name, k.key_size) for k in keys.keys] == [("CA", 2048)]
    tps = got["show crypto pki trustpoints"]
    assert isinstance(tps, TrustpointsOutput) and tps.trustpoints[0].name == "CA"
    st = got["show crypto pki trustpoints status"]
    assert isinstance(st, TrustpointStatusOutput)
    assert st.trustpoints[0].ca_fingerprint_md5 == srv.ca_fingerprint and st.trustpoints[0].keys_generated
    issued = got["show crypto pki server CA certificates"]
    assert isinstance(issued, IssuedCertificatesOutput)
    assert [(c.serial, c.expires) for c in issued.certificates] == [("1", srv.ca_expires)]
    crl = got["show crypto pki server CA crl"]
    crls = got["show crypto pki crls"]
    assert isinstance(crl, Crl) and isinstance(crls, CrlsOutput)
    assert crl.next_update == srv.crl_next_update == crls.crls[0].next_update and crl.entries == 0
    reqs = got["show crypto pki server CA requests"]
    assert isinstance(reqs, RequestsOutput) and reqs.requests == []

    # classic IOS on the ISR G1: countdown only, no ISO time
    with ConnectHandler(**lab.hosts["r1"].netmiko()) as c:
        t = parse("show crypto pki timers", send_text(c, "show crypto pki timers"))
    assert isinstance(t, TimersOutput) and t.timers and all(x.at is None for x in t.timers)
