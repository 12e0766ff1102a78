"""Every audit rule: a failing and a passing case, from real-format outputs parsed by iospki.parsers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from iospki.audit import RULES, Finding, Severity, run_audit
from iospki.audit.checks import Hit, rule, version_key
from iospki.audit.remedies import auto_enroll
from iospki.audit.remedies import trustpoint as trustpoint_remedy
from iospki.audit.rules import FAILURE_KINDS, Rule
from iospki.operations.intent import CAServerIntent, TrustpointIntent
from iospki.state import store
from iospki.state.loader import HostState, load_collection
from iospki.templates import render_ca_server, render_trustpoint
from tests.pki_samples import Client, Server, Site, write_site

D0 = datetime(2025, 1, 1, 8, 0, 0)


def day(d: float) -> datetime:
    return D0 + timedelta(days=d)


def good_site() -> Site:
    return Site(
        Server("ROOT", D0, day(730), auto_rollover_days=90),
        [Client("R1", id_start=day(292), id_end=day(657), renew=day(584))],
    )


def audit(
    tmp: Path, site: Site, now: datetime = day(400), tweak: Callable[[Path], None] | None = None, **kw: object
) -> list[Finding]:
    write_site(tmp, site, now)
    if tweak:
        tweak(tmp)
    states = load_collection(tmp)
    for st in states:
        assert st.config is not None or st.failed, f"{st.host}: running-config not parsed: {st.errors}"
    return run_audit(states, **kw).findings  # type: ignore[arg-type]


def ids(findings: list[Finding], host: str | None = None) -> set[str]:
    return {f.rule for f in findings if host is None or f.host == host}


def test_every_rule_has_a_check_and_data() -> None:
    for r in RULES:
        assert (r.check is None) == (r.id in FAILURE_KINDS)  # each other rule is bound to its check
        assert r.title and r.rationale and r.remedy and isinstance(r.severity, Severity)
    assert len({r.id for r in RULES}) == len(RULES)


def test_good_site_is_clean(tmp_path: Path) -> None:
    assert audit(tmp_path, good_site()) == []


def test_clock_not_authoritative(tmp_path: Path) -> None:
    site = good_site()
    site.clients[0].authoritative = False
    f = audit(tmp_path, site)
    hit = [x for x in f if x.rule == "clock-not-authoritative"]
    assert [x.host for x in hit] == ["R1"]
    # NTP is configured but unsynchronized: the remedy names the server and the calendar line
    assert hit[0].severity == Severity.critical and hit[0].remedy.startswith("clock calendar-valid")
    assert "127.10.0.254" in hit[0].remedy and hit[0].evidence["ntp"] == "unsynchronized"


@pytest.mark.parametrize(
    ("skew", "window", "found"),
    [
        (timedelta(minutes=-5), timedelta(milliseconds=400), "behind"),
        (timedelta(hours=2), timedelta(milliseconds=400), "ahead of"),
        (timedelta(seconds=59), timedelta(milliseconds=400), None),  # within the 60 s tolerance
        (timedelta(seconds=-61), timedelta(seconds=4), None),  # 61 s, but read within a 4 s window: not sure
        (timedelta(seconds=-65), timedelta(seconds=4), "behind"),
    ],
)
def test_clock_skew_between_client_and_its_ca(
    tmp_path: Path, skew: timedelta, window: timedelta, found: str | None
) -> None:
    site = good_site()
    site.clients[0].clock_skew, site.clients[0].read_window = skew, window
    hits = [x for x in audit(tmp_path, site) if x.rule == "clock-skew"]
    if found is None:
        assert hits == []
        return
    assert [(h.host, h.target) for h in hits] == [("R1", "client")]
    assert f" {found} the clock of its CA server CA (ROOT)" in hits[0].message
    assert float(hits[0].evidence["difference"].split()[0]) == pytest.approx(skew.total_seconds(), abs=3)
    assert hits[0].severity == Severity.warning and "ntp server" in (hits[0].remedy or "")


def test_clock_skew_needs_read_times_and_honours_the_tolerance(tmp_path: Path) -> None:
    site = good_site()
    site.clients[0].clock_skew = timedelta(hours=3)
    site.collector_offset = None  # a collection made before read_times.json existed: nothing to compare
    assert "clock-skew" not in ids(audit(tmp_path / "a", site))
    site.collector_offset = timedelta(0)
    assert "clock-skew" in ids(audit(tmp_path / "b", site))
    assert "clock-skew" not in ids(audit(tmp_path / "c", site, skew_tolerance=timedelta(hours=4)))


def test_clock_skew_prefers_ntp_offsets_when_both_follow_the_same_source(tmp_path: Path) -> None:
    site = good_site()
    site.ca_ntp_offset_ms = 2.0
    # the device clocks ran fast (a lab clock at --rate 3600): read times alone would say one hour,
    # but both are synchronised to one NTP source within milliseconds
    site.clients[0].clock_skew, site.clients[0].ntp_offset_ms = timedelta(hours=1), -3.0
    assert "clock-skew" not in ids(audit(tmp_path / "a", site))
    # NTP says the client runs 5 minutes behind its source (offset = source - local clock)
    site.clients[0].clock_skew, site.clients[0].ntp_offset_ms = timedelta(0), 300_000.0
    hits = [x for x in audit(tmp_path / "b", site) if x.rule == "clock-skew"]
    assert [h.host for h in hits] == ["R1"] and "5 min 0 s behind" in hits[0].message
    assert hits[0].evidence["measured from"].startswith("NTP offsets")
    assert hits[0].evidence["R1 NTP clock offset"] == "300000.0 ms"


def test_ca_server_not_serving(tmp_path: Path) -> None:
    site = good_site()
    site.server.http = False
    f = [x for x in audit(tmp_path, site) if x.rule == "ca-server-not-serving"]
    assert [(x.host, x.target) for x in f] == [("CA", "ROOT")]
    assert "ip http server" in f[0].remedy and "check failed" in f[0].message


def test_cut_off_running_config_is_not_a_missing_http_server(tmp_path: Path) -> None:
    """A running-config read that stopped early (no final `end`) lacks `ip http server`: no finding."""

    def cut(root: Path) -> None:
        text = store.read_outputs(root, "CA")["show running-config"]
        head = text[: text.index("ip http server")] if "ip http server" in text else text
        store.write_output(root, "CA", "show running-config", re.sub(r"(?m)^end\s*$", "", head))

    assert "ca-server-not-serving" not in ids(audit(tmp_path / "a", good_site(), tweak=cut))
    st = next(s for s in load_collection(tmp_path / "a") if s.host == "CA")
    assert st.config_complete is False and st.config is not None and not st.config.ip_http_server
    # a cut-off config of a server that is down is still a finding: the server says check failed
    site = good_site()
    site.server.http = False
    assert "ca-server-not-serving" in ids(audit(tmp_path / "b", site, tweak=cut))


def test_auto_rollover_missing(tmp_path: Path) -> None:
    site = good_site()
    site.server.auto_rollover_days = None
    f = [x for x in audit(tmp_path, site) if x.rule == "auto-rollover-missing"]
    assert [(x.host, x.target, x.impact_at) for x in f] == [("CA", "ROOT", day(730))]
    assert f[0].remedy == "crypto pki server ROOT / auto-rollover 73"


def test_overlap_short_autoenroll(tmp_path: Path) -> None:
    site = good_site()
    site.server.auto_rollover_days = 30
    f = [x for x in audit(tmp_path, site) if x.rule == "rollover-overlap-short-autoenroll"]
    assert [(x.host, x.target) for x in f] == [("R1", "client")]
    assert f[0].evidence["CS SHADOW CERT GENERATION"] == day(700).isoformat(sep=" ")
    assert f[0].remedy == "on CA: crypto pki server ROOT / auto-rollover 73"
    # the forecast says this client escapes the first rollover: renewal at day 584 (capped at day 730), shadow
    # renewal at 584 + 0.8 x 146 = day 700.8, 0.8 days after the rollover CA appears (day 700)
    assert f[0].evidence["forecast shadow renewal"] == f"SHADOW RENEWAL {day(700.8).isoformat(sep=' ')}"
    # ... but not in the next one: the second rollover (day 1460) leaves it without the new CA
    assert (
        f[0].evidence["forecast outage"]
        == f"ca-untrusted from {day(1460).isoformat(sep=' ')} (no recovery predicted)"
    )
    site.server.auto_rollover_days = 73  # exactly (1 - 0.8) x 365
    assert "rollover-overlap-short-autoenroll" not in ids(audit(tmp_path / "b", site))


def test_overlap_short_shadow(tmp_path: Path) -> None:
    site = good_site()
    site.server.auto_rollover_days = 30
    f = [x for x in audit(tmp_path, site) if x.rule == "rollover-overlap-short-shadow"]
    assert [(x.host, x.impact_at) for x in f] == [("CA", day(657))]
    site.server.auto_rollover_days = 73
    assert "rollover-overlap-short-shadow" not in ids(audit(tmp_path / "b", site))


def test_renew_timer_missing(tmp_path: Path) -> None:
    site = good_site()
    site.clients[0].tp_timers = False
    f = [x for x in audit(tmp_path, site) if x.rule == "renew-timer-missing"]
    assert [(x.host, x.target, x.impact_at) for x in f] == [("R1", "client", day(657))]


def test_autoenroll_at_expiry(tmp_path: Path) -> None:
    site = good_site()
    site.clients[0].percent = None
    site.clients[0].renew = None
    f = [x for x in audit(tmp_path, site) if x.rule == "autoenroll-at-expiry"]
    assert [(x.host, x.remedy) for x in f] == [
        ("R1", "crypto pki trustpoint client / auto-enroll 80 regenerate")
    ]


def test_cert_expiring_and_expired(tmp_path: Path) -> None:
    site = good_site()
    c = site.clients[0]
    c.auto, c.renew = False, None
    f = audit(tmp_path, site, now=day(640))  # 17 days before the end
    assert [(x.host, x.rule) for x in f if x.rule.startswith("cert-")] == [("R1", "cert-expiring")]
    f = audit(tmp_path / "b", site, now=day(660))
    assert [(x.host, x.rule, x.impact_at) for x in f if x.rule.startswith("cert-")] == [
        ("R1", "cert-expired", day(657))
    ]
    # with auto-enroll and a RENEW timer before the end: a renewal is in place
    c.auto, c.renew = True, day(650)
    assert not {r for r in ids(audit(tmp_path / "c", site, now=day(640))) if r.startswith("cert-")}


def test_capped_certificate_renewed_by_its_shadow_timer_is_not_expiring(tmp_path: Path) -> None:
    """C9: a certificate capped at the CA's end (day 730) on an auto-enroll trustpoint shows SHADOW, not
    RENEW; that timer is its renewal, so it is not `cert-expiring` while the SHADOW is armed before the end."""
    site = good_site()
    site.server.rollover_end = day(1460)
    c = site.clients[0]
    c.id_start, c.id_end, c.renew = day(584), day(730), day(716)
    assert not {r for r in ids(audit(tmp_path / "armed", site, now=day(710))) if r.startswith("cert-")}
    # the same certificates with no timer armed at all are expiring: the identity and the CA certificate
    c.tp_timers = False
    f = [x for x in audit(tmp_path / "none", site, now=day(710)) if x.rule.startswith("cert-")]
    assert sorted((x.host, x.rule, x.evidence["subject"] == "cn=ROOT") for x in f) == [
        ("R1", "cert-expiring", False), ("R1", "cert-expiring", True)], [x.evidence for x in f]


def test_rollover_ca_missing(tmp_path: Path) -> None:
    site = good_site()
    site.server.rollover_end = day(1460)
    c = site.clients[0]
    c.id_start, c.id_end, c.renew = day(584), day(730), day(700.8)
    # C9: the capped certificate's shadow renewal (day 700.8) fetches the rollover CA; on day 660 that is
    # still to come, on day 701 it is missing
    assert "rollover-ca-missing" not in ids(audit(tmp_path / "c9", site, now=day(660)))
    f = [x for x in audit(tmp_path / "a", site, now=day(701)) if x.rule == "rollover-ca-missing"]
    assert [(x.host, x.impact_at) for x in f] == [("R1", day(730))]
    # without auto-enroll the CA shadow at 90 % of the CA's life (day 657, C5) fetches it
    c.auto, c.renew = False, None
    f = [x for x in audit(tmp_path / "c5", site, now=day(660)) if x.rule == "rollover-ca-missing"]
    assert [(x.host, x.impact_at) for x in f] == [("R1", day(730))]
    c.rollover_ca = True
    assert "rollover-ca-missing" not in ids(audit(tmp_path / "b", site, now=day(660)))


def test_ca_fingerprint_mismatch(tmp_path: Path) -> None:
    site = good_site()
    site.clients[0].ca_fp_seed = "another CA with the same name"
    f = [x for x in audit(tmp_path, site) if x.rule == "ca-fingerprint-mismatch"]
    assert [(x.host, x.target) for x in f] == [("R1", "client")]


def test_trustpoint_not_enrolled(tmp_path: Path) -> None:
    site = good_site()
    site.clients.append(Client("R2", id_start=None, id_end=None))
    f = [x for x in audit(tmp_path, site) if x.rule == "trustpoint-not-enrolled"]
    assert [(x.host, x.target) for x in f] == [("R2", "client")]
    assert "no identity certificate" in f[0].message
    # authenticated (CA certificate present): the remedy is the enrollment alone, the evidence dates the CA
    assert f[0].remedy == "crypto pki enroll client"
    assert f[0].evidence["CA certificate"] == f"{D0.isoformat(sep=' ')} - {day(730).isoformat(sep=' ')}"


def test_requests_pending(tmp_path: Path) -> None:
    site = good_site()
    site.server.grant = "manual"
    site.server.pending = ["hostname=R7.lab"]
    f = [x for x in audit(tmp_path, site) if x.rule == "requests-pending"]
    assert [(x.host, x.target, x.remedy) for x in f] == [("CA", "ROOT", "crypto pki server ROOT grant 1")]


def test_lifetime_exceeds_ca(tmp_path: Path) -> None:
    site = good_site()
    site.server.lifetime_cert_days = 800
    f = [x for x in audit(tmp_path, site) if x.rule == "lifetime-exceeds-ca"]
    assert [(x.host, x.target) for x in f] == [("CA", "ROOT")]


def test_crl_stale(tmp_path: Path) -> None:
    site = good_site()
    site.server.crl_next = day(399)
    f = [x for x in audit(tmp_path, site) if x.rule == "crl-stale"]
    assert [(x.host, x.impact_at) for x in f] == [("CA", day(399))]


def test_weak_crypto(tmp_path: Path) -> None:
    site = good_site()
    site.clients[0].key_bits = 1024
    site.server.hash = "sha1"
    f = [x for x in audit(tmp_path, site) if x.rule == "weak-crypto"]
    assert {x.host for x in f} == {"R1", "CA"}
    assert any("1024" in x.message for x in f) and any("sha1" in x.message for x in f)


def test_weak_signature_remedy_names_the_signing_server(tmp_path: Path) -> None:
    def sha1(root: Path) -> None:
        text = store.read_outputs(root, "R1")["show crypto pki certificates verbose"]
        store.write_output(
            root,
            "R1",
            "show crypto pki certificates verbose",
            text.replace("SHA256 with RSA", "SHA1 with RSA"),
        )

    f = [x for x in audit(tmp_path, good_site(), tweak=sha1) if x.rule == "weak-crypto"]
    ident = next(x for x in f if x.message.startswith("Certificate of client"))
    assert ident.host == "R1" and ident.evidence["signature"] == "SHA1 with RSA Encryption"
    assert ident.remedy == "on CA: crypto pki server ROOT / hash sha256; then on R1: crypto pki enroll client"


@pytest.mark.parametrize(
    ("model", "version", "bad"),
    [
        ("CISCO2911/K9", "Cisco IOS Software, C2900 Software, Version 15.2(4)M3, RELEASE SOFTWARE", True),
        ("CISCO2911/K9", "Cisco IOS Software, C2900 Software, Version 15.4(3)M2, RELEASE SOFTWARE", False),
        ("CISCO2811", "Cisco IOS Software, 2800 Software, Version 12.4(24)T4, RELEASE SOFTWARE", True),
        ("CISCO2811", "Cisco IOS Software, 2800 Software, Version 15.1(4)M12a, RELEASE SOFTWARE", False),
        ("ISR4331/K9", "Cisco IOS XE Software, Version 03.13.05.S", True),
        ("CSR1000V", "Cisco IOS XE Software, Version 17.03.04a", False),
    ],
)
def test_software_unsupported(tmp_path: Path, model: str, version: str, bad: bool) -> None:
    def facts(root: Path) -> None:
        store.write_json(root, "R1", "facts", {"model": model, "os_version": version, "vendor": "Cisco"})

    f = audit(tmp_path, good_site(), tweak=facts)
    assert ("software-unsupported" in ids(f, "R1")) == bad


def test_failed_and_unparseable_hosts(tmp_path: Path) -> None:
    def breakage(root: Path) -> None:
        store.write_error(root, "R9", "R9: TCP connection to 127.10.0.9:2222 refused")
        store.write_output(
            root, "R1", "show crypto pki timers detail", "PKI Timers\n|this is not a timer line\n"
        )

    f = audit(tmp_path, good_site(), tweak=breakage)
    assert sorted((x.host, x.rule) for x in f if x.rule in ("host-unreachable", "parse-error")) == [
        ("R1", "parse-error"),
        ("R9", "host-unreachable"),
    ]
    unreachable = next(x for x in f if x.rule == "host-unreachable")
    assert "refused" in unreachable.message


def test_at_overrides_device_clock(tmp_path: Path) -> None:
    site = good_site()
    c = site.clients[0]
    c.auto, c.renew = False, None
    write_site(tmp_path, site, day(400))
    states = load_collection(tmp_path)
    assert "cert-expired" not in ids(run_audit(states).findings)
    assert "cert-expired" in ids(run_audit(states, at=day(700)).findings)


def test_version_key() -> None:
    assert version_key("15.4(3)M2") > version_key("15.4(3)M")


def test_snapshot_merges_repeated_outputs(tmp_path: Path) -> None:
    """`certificates` + `certificates verbose` list the same certificates once; `timers detail` wins over
    `timers`; software comes from facts.json or `show version`."""
    write_site(tmp_path, good_site(), day(400))
    verbose = (tmp_path / "R1" / store.command_filename("show crypto pki certificates verbose")).read_text()
    store.write_output(tmp_path, "R1", "show crypto pki certificates", verbose)
    detail = (tmp_path / "R1" / store.command_filename("show crypto pki timers detail")).read_text()
    classic = "\n".join(line.split("  (")[0] + ("  " + line.split(") ", 1)[1] if ") " in line else "")
                        for line in detail.splitlines())  # fmt: skip
    store.write_output(tmp_path, "R1", "show crypto pki timers", classic)
    store.write_output(tmp_path, "R1", "show version", "Cisco IOS XE Software, Version 17.03.04a\n"
                       "cisco ISR4451-X/K9 (2RU) processor with 1795999K/6147K bytes of memory.\n")  # fmt: skip
    st = load_collection(tmp_path, ["R1"])[0]
    assert st.errors == []
    assert sorted(c.section for c in st.certificates) == ["CA Certificate", "Certificate"]
    assert st.timers is not None and all(t.at is not None for t in st.timers)
    assert st.software == "17.03.04a" and st.platform == "iosxe" and st.model == "ISR4451-X/K9"


def test_real_csr8kv_outputs(tmp_path: Path) -> None:
    """Real IOS-XE captures (genie csr8kv): a 1-day auto-rollover overlap and a CRL past its next update."""
    real = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real" / "genie"
    if not real.is_dir():
        pytest.skip(f"reference fixtures not found at {real}")
    store.write_output(tmp_path, "csr8kv", "show crypto pki server",
                       (real / "show_crypto_pki_server" / "iosxe__golden_output_csr8kv.txt").read_text())  # fmt: skip
    store.write_output(tmp_path, "csr8kv", "show crypto pki timers detail",
                       (real / "show_crypto_pki_timer_detail" / "iosxe__golden_output_csr8kv.txt").read_text())  # fmt: skip
    states = load_collection(tmp_path)
    assert states[0].errors == []
    f = run_audit(states, at=datetime(2022, 1, 15, 8, 53, 47)).findings
    short = [x for x in f if x.rule == "rollover-overlap-short-shadow"]
    assert [(x.host, x.target) for x in short] == [("csr8kv", "root")]
    assert short[0].evidence["auto-rollover"] == "1 days"
    assert short[0].evidence["CS SHADOW CERT GENERATION"] == "2025-01-03 12:58:34"
    stale = [x for x in f if x.rule == "crl-stale"]
    assert [x.impact_at for x in stale] == [datetime(2022, 1, 6, 0, 58, 35)]
    # the same server audited before its CRL's next update: not stale
    assert "crl-stale" not in {x.rule for x in run_audit(states, at=datetime(2022, 1, 5)).findings}


def test_a_rule_is_its_data_bound_to_its_check(tmp_path: Path) -> None:
    """Adding a rule is one decorated check function: the engine runs it with its data."""
    mine: list[Rule] = []

    @rule("client-named-r1", Severity.info, "A client named R1", "why it matters", "rename it", into=mine)
    def client_named_r1(ctx: object, st: HostState) -> Iterator[Hit]:
        if st.host == "R1":
            yield Hit(None, "R1 is here")

    write_site(tmp_path, good_site(), day(400))
    found = run_audit(load_collection(tmp_path), rules=mine, horizon=None).findings
    assert [(f.rule, f.severity, f.host, f.title, f.message, f.remedy) for f in found] == [
        ("client-named-r1", Severity.info, "R1", "A client named R1", "R1 is here", "rename it")
    ]
    assert mine[0].check is client_named_r1 and "client-named-r1" not in {r.id for r in RULES}


def test_remedies_say_what_the_deploy_templates_configure(tmp_path: Path) -> None:
    """A remedy's config lines are the deploy's own (rendered from the same macros), block / line."""
    site = good_site()
    site.server.auto_rollover_days = None
    f = next(x for x in audit(tmp_path, site) if x.rule == "auto-rollover-missing")
    block = render_ca_server(CAServerIntent(name="ROOT", auto_rollover_days=73))
    assert f.remedy == " / ".join(ln.strip() for ln in block)
    tp = TrustpointIntent(name="client", ca_server="CA", auto_enroll_percent=80, regenerate=True)
    lines = render_trustpoint(tp, "http://127.0.0.1")
    assert trustpoint_remedy("client", auto_enroll(80, True)) == f"{lines[0]} / {lines[-1].strip()}"
