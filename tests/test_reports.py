"""Reports: JSON schema, JUnit, Markdown, CSV, Prometheus, timeline, HTML in headless Chromium; CLI exit codes."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml
from typer.testing import CliRunner

from iospki.audit import RULES, run_audit
from iospki.audit.rules import FAILURE_KINDS
from iospki.cli import app
from iospki.reports import formats, render, timeline, writer
from iospki.state import store
from iospki.state.loader import load_collection
from tests.pki_samples import Client, Server, Site, write_site

D0 = datetime(2025, 1, 1, 8, 0, 0)
REPO = Path(__file__).resolve().parents[1]


def day(d: float) -> datetime:
    return D0 + timedelta(days=d)


def make(root: Path, overlap: int = 30, broken: bool = True) -> Path:
    site = Site(
        Server("ROOT", D0, day(730), auto_rollover_days=overlap),
        [
            Client("R1", id_start=day(292), id_end=day(657), renew=day(584)),
            Client("R2", id_start=day(365), id_end=day(730), renew=day(657)),
        ],
    )
    write_site(root, site, day(400))
    if broken:
        store.write_error(root, "R9", "R9: authentication failed")
    return root


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = make(tmp_path_factory.mktemp("coll"))
    return run_audit(load_collection(root))


def test_registry_a_format_is_one_registered_function(result) -> None:  # type: ignore[no-untyped-def]
    # the audit formats come from their modules, each registered once by name
    assert formats("audit") == ("csv", "html", "json", "junit", "markdown", "prometheus")
    for fmt in formats("audit"):
        assert render(result, fmt).strip()

    @writer("test-subject", "shout")
    def shout(res: object) -> str:
        return f"{len(res.findings)} FINDINGS\n"  # type: ignore[attr-defined]

    assert formats("test-subject") == ("shout",)
    assert render(result, "shout", "test-subject") == f"{len(result.findings)} FINDINGS\n"
    with pytest.raises(ValueError, match="'pdf' .*choose from shout"):
        render(result, "pdf", "test-subject")
    # the CLI offers every registered audit format
    r = CliRunner().invoke(app, ["audit", "--format", "pdf", "--offline", "/nonexistent"])
    assert r.exit_code == 2 and "choose from table, csv, html, json, junit, markdown, prometheus" in r.output


def test_json(result) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(render(result, "json"))
    assert doc["schema"] == "iospki.audit/1"
    assert doc["summary"]["hosts"] == 4 and doc["summary"]["hosts_failed"] == 1
    rules = {(f["host"], f["rule"]) for f in doc["findings"]}
    assert ("R2", "rollover-overlap-short-autoenroll") in rules and ("R9", "host-unreachable") in rules
    f = next(f for f in doc["findings"] if f["rule"] == "rollover-overlap-short-autoenroll")
    assert f["remedy"] and f["evidence"]["auto-rollover"] == "30 days" and f["impact_at"]
    outages = {(o["host"], o["reason"], o["start"], o["end"]) for o in doc["forecast"]["outages"]}
    assert ("R2", "no-identity-certificate", day(730).isoformat(), None) in outages
    assert len(doc["certificates"]) == 5  # CA: its CA certificate; R1, R2: identity + CA
    assert {c["host"] for c in doc["certificates"]} == {"CA", "R1", "R2"}


def test_junit(result) -> None:  # type: ignore[no-untyped-def]
    xml = JUnitXml.fromstring(render(result, "junit"))
    cases = [c for suite in xml for c in suite]
    checked_rules = [r for r in RULES if r.id not in FAILURE_KINDS]
    assert len([c for c in cases if c.classname in ("CA", "R1", "R2", "R9")]) >= 4 * len(checked_rules)
    failed = {(c.classname, c.name) for c in cases if any(isinstance(r, Failure) for r in c.result)}
    assert ("R1", "rollover-overlap-short-autoenroll") in failed
    assert ("CA", "rollover-overlap-short-shadow") in failed
    errored = {c.classname for c in cases if any(isinstance(r, Error) for r in c.result)}
    assert errored == {"R9"}
    passed = [c for c in cases if c.classname == "R1" and not c.result]
    assert any(c.name == "cert-expired" for c in passed)


def test_markdown_and_csv(result) -> None:  # type: ignore[no-untyped-def]
    md = render(result, "markdown")
    assert md.startswith("## iospki audit") and "`rollover-overlap-short-autoenroll`" in md
    assert "### Predicted outages" in md
    rows = list(csv.DictReader(io.StringIO(render(result, "csv"))))
    assert len(rows) == 5
    r2 = next(r for r in rows if r["host"] == "R2" and r["kind"] == "identity")
    assert r2["not_after"] == day(730).isoformat() and float(r2["days_left"]) == 330.0


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{((?:[a-zA-Z_]\w*="(?:[^"\\]|\\.)*",?)*)\} (-?[0-9.e+]+)$')


def test_prometheus(result) -> None:  # type: ignore[no-untyped-def]
    text = render(result, "prometheus")
    samples = []
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) \w+ ", line), line
            continue
        m = _SAMPLE.match(line)
        assert m, f"not exposition format: {line}"
        samples.append((m.group(1), m.group(2), float(m.group(3))))
    not_after = [
        s
        for s in samples
        if s[0] == "x509_cert_not_after" and 'host="R2"' in s[1] and 'section="Certificate"' in s[1]
    ]
    assert len(not_after) == 1
    assert not_after[0][2] == day(730).replace(tzinfo=__import__("datetime").timezone.utc).timestamp()
    assert 'trustpoint="client"' in not_after[0][1] and 'serial_number="3"' in not_after[0][1]  # decimal
    # the exporter's label schema (docs/metrics.md of enix/x509-certificate-exporter) plus host/trustpoint/section
    names = set(re.findall(r'(\w+)="', not_after[0][1]))
    exporter = {f"{p}_{k}" for p in ("subject", "issuer") for k in ("C", "ST", "L", "O", "OU", "CN")}
    assert names == exporter | {"serial_number", "filename", "filepath", "host", "trustpoint", "section"}
    assert 'issuer_CN="ROOT"' in not_after[0][1] and 'filepath="R2/client/Certificate"' in not_after[0][1]
    crl = {s[0]: s for s in samples if s[0].startswith("x509_crl") and 'host="CA"' in s[1]}
    assert crl["x509_crl_stale"][2] == 0 and 'issuer_CN="ROOT"' in crl["x509_crl_next_update"][1]
    assert (
        crl["x509_crl_next_update"][2]
        > day(400).replace(tzinfo=__import__("datetime").timezone.utc).timestamp()
    )
    assert any(s[0] == "x509_cert_expired" for s in samples)
    timers = [s for s in samples if s[0] == "iospki_timer_fire_timestamp_seconds"]
    # R1's certificate ends before the CA: RENEW; R2's is capped at the CA's end: its renewal is SHADOW (C9)
    assert any('kind="RENEW"' in s[1] and 'host="R1"' in s[1] for s in timers)
    assert any('kind="SHADOW"' in s[1] and 'host="R2"' in s[1] for s in timers)
    assert not any('kind="RENEW"' in s[1] and 'host="R2"' in s[1] for s in timers)
    crit = [
        s
        for s in samples
        if s[0] == "iospki_audit_findings" and 'rule="rollover-overlap-short-autoenroll"' in s[1]
    ]
    assert crit and crit[0][2] == 2


def test_timeline_png_and_svg(result) -> None:  # type: ignore[no-untyped-def]
    png = timeline.render(result, "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    svg = timeline.render(result, "svg")
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert b"R2 / client" in svg


def test_html_in_headless_chromium(result, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    html = render(result, "html")
    assert "<script" not in html and "http://" not in html.split("<svg", 1)[0]  # self-contained
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("headless browser missing: apt-get install chromium")
    page = tmp_path / "audit.html"
    page.write_text(html, encoding="utf-8")
    artifacts = REPO / "artifacts"
    artifacts.mkdir(exist_ok=True)
    shot = artifacts / "audit-report.png"
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
        "--hide-scrollbars", "--window-size=1400,1800",
    ]  # fmt: skip
    dom = subprocess.run(
        [exe, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<svg" in dom.stdout and 'id="timeline"' in dom.stdout and "R2 / client" in dom.stdout
    console_errors = [
        ln for ln in dom.stderr.splitlines() if "CONSOLE" in ln and ("ERROR" in ln or "Uncaught" in ln)
    ]
    assert console_errors == []
    shot.unlink(missing_ok=True)
    run = subprocess.run([exe, *flags, f"--screenshot={shot}", page.as_uri()], capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert run.returncode == 0 and shot.is_file() and shot.stat().st_size > 10_000, run.stderr[-2000:]
    assert not [ln for ln in run.stderr.splitlines() if "CONSOLE" in ln and "ERROR" in ln]


def test_cli_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    good = make(tmp_path / "good", overlap=90, broken=False)
    r = runner.invoke(app, ["audit", "--offline", str(good)])
    assert r.exit_code == 0, r.output
    bad = make(tmp_path / "bad", overlap=30, broken=False)
    r = runner.invoke(app, ["audit", "--offline", str(bad), "--format", "json"])
    assert r.exit_code == 1 and json.loads(r.stdout)["schema"] == "iospki.audit/1"
    # only warnings and above fail by default; --fail-on critical still fails on the critical findings
    assert runner.invoke(app, ["audit", "--offline", str(bad), "--fail-on", "critical"]).exit_code == 1
    assert (
        runner.invoke(
            app, ["audit", "--offline", str(bad), "--limit", "CA", "--fail-on", "critical"]
        ).exit_code
        == 0
    )
    rules_doc = json.loads(runner.invoke(app, ["audit", "--list-rules", "-f", "json"]).stdout)
    assert [r["id"] for r in rules_doc] == [r.id for r in RULES]
    # --limit reports only the chosen hosts, but the others stay context (R2 needs its CA server's state)
    r = runner.invoke(app, ["audit", "--offline", str(bad), "--limit", "R2", "-f", "json"])
    doc = json.loads(r.stdout)
    assert {(f["host"], f["rule"]) for f in doc["findings"]} == {("R2", "rollover-overlap-short-autoenroll")}
    assert [h["host"] for h in doc["hosts"]] == ["R2"] and {
        o["host"] for o in doc["forecast"]["outages"]
    } == {"R2"}
    # a --limit term that matches nothing is a usage error naming it (audit and forecast share the CLI kit)
    for cmd in ("audit", "forecast"):
        r = runner.invoke(app, [cmd, "--offline", str(bad), "--limit", "R*,nomatch*"])
        assert r.exit_code == 2 and "'nomatch*' matches no host or group" in r.output, r.output
    # groups select hosts of a stored collection when an inventory names them
    inv = tmp_path / "inventory"
    inv.mkdir()
    (inv / "hosts.yaml").write_text(
        "CA: {hostname: 127.0.0.1, groups: [ca_server], data: {lab: true}}\n"
        "R1: {hostname: 127.0.0.2, groups: [pki_client], data: {lab: true}}\n"
        "R2: {hostname: 127.0.0.3, groups: [pki_client], data: {lab: true}}\n"
    )
    (inv / "groups.yaml").write_text("ca_server: {}\npki_client: {}\n")
    r = runner.invoke(
        app, ["audit", "--offline", str(bad), "-i", str(inv), "--limit", "pki_client,!R1", "-f", "json"]
    )
    assert [h["host"] for h in json.loads(r.stdout)["hosts"]] == ["R2"], r.output
    failed = make(tmp_path / "failed", overlap=90, broken=True)
    assert runner.invoke(app, ["audit", "--offline", str(failed)]).exit_code == 3
    for args in (["--format", "pdf"], ["--at", "yesterday"], ["--fail-on", "loud"]):
        assert runner.invoke(app, ["audit", "--offline", str(good), *args]).exit_code == 2
    assert runner.invoke(app, ["audit", "--offline", str(tmp_path / "missing")]).exit_code == 2
    out = tmp_path / "r.xml"
    assert runner.invoke(app, ["audit", "--offline", str(bad), "-f", "junit", "-o", str(out)]).exit_code == 1
    assert JUnitXml.fromfile(str(out)).tests > 0
    # --at moves "now": on day 740 the clients' CA certificates (no rollover CA collected) have ended
    r = runner.invoke(app, ["audit", "--offline", str(good), "--at", day(740).isoformat(), "-f", "json"])
    expired = {(f["host"], f["rule"]) for f in json.loads(r.stdout)["findings"]}
    assert {("R1", "cert-expired"), ("R2", "cert-expired")} <= expired


def test_cli_forecast(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = make(tmp_path / "bad", overlap=30, broken=False)
    r = runner.invoke(app, ["forecast", "--offline", str(bad), "--json", "--horizon", "2y"])
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert ("R2", "client", "no-identity-certificate") in {
        (o["host"], o["trustpoint"], o["reason"]) for o in doc["outages"]
    }
    # R2 (enrolled day 73) holds a certificate capped at the CA's end and shows SHADOW on day 657 (C9): that
    # timer is its shadow renewal, before the rollover CA exists (day 700), so it fails (behaviour doc §1.8);
    # no separate CA shadow at 90 % is predicted beside it
    r2 = [(e["at"], e["event"]) for e in doc["events"] if e["host"] == "R2"]
    assert r2[:3] == [
        (day(657).isoformat(), "SHADOW RENEWAL FAILED"),
        (day(730).isoformat(), "CA CERT END"),
        (day(730).isoformat(), "CERT END"),
    ]
    assert {(o["host"], o["reason"], o["start"]) for o in doc["outages"]} == {
        ("R2", "no-identity-certificate", day(730).isoformat()),
        ("R2", "ca-untrusted", day(730).isoformat()),
    }
    pic = tmp_path / "t.svg"
    good = make(tmp_path / "good", overlap=90, broken=False)
    r = runner.invoke(app, ["forecast", "--offline", str(good), "--json", "--horizon", "2y"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    # the same client with a 90-day overlap: its SHADOW on day 657 finds the rollover CA (day 640): no outage
    assert doc["outages"] == []
    assert [(e["at"], e["event"]) for e in doc["events"] if e["host"] == "R2"][:2] == [
        (day(657).isoformat(), "SHADOW RENEWAL"),
        (day(730).isoformat(), "ROLLOVER ACTIVATION"),
    ]
    r = runner.invoke(app, ["forecast", "--offline", str(good), "--picture", str(pic)])
    assert r.exit_code == 0, r.output
    assert pic.read_bytes().lstrip().startswith(b"<?xml")
    assert runner.invoke(app, ["forecast", "--offline", str(good), "--horizon", "forever"]).exit_code == 2


def test_timeline_groups_many_hosts_by_ca(tmp_path: Path) -> None:
    """Over MAX_ROWS rows: the picture is an overview per CA server; the HTML pages the detail."""
    for name, overlap in (("CA1", 30), ("CA2", 90)):
        clients = [
            Client(
                f"{name}-R{i:02d}",
                id_start=day(10 + 9 * i),
                id_end=day(10 + 9 * i + 365),
                renew=day(300 + 9 * i),
            )
            for i in range(30)
        ]
        write_site(
            tmp_path,
            Site(Server(name, D0, day(730), auto_rollover_days=overlap), clients, ca_host=f"{name}-ca"),
            day(400),
        )
    res = run_audit(load_collection(tmp_path))
    groups = timeline.groups(res)
    assert [len(k) for _, k in groups] == [31, 31]
    assert groups[0][0] == "CA CA1 on CA1-ca" and groups[0][1][0] == (
        "CA1-ca",
        "CA1",
    )  # outages first, CA row first
    svg = timeline.render(res, "svg").decode()
    assert "grouped by CA server" in svg and "CA1-R05 / client" not in svg
    # clients enrolled before day 35 have ended by day 400 (R00-R02); with overlap 30 every client fails
    assert "30 of 30 trustpoints in outage from 2026-01-11" in svg and "today 2026-02-05" in svg
    pages = timeline.pages(res)
    assert len(pages) == 4 and all(len(k) <= timeline.PAGE_ROWS for _, k in pages)
    html = render(res, "html")
    assert html.count("<svg") == 5 and html.count("<details") == 4 and "CA1-R05 / client" in html
