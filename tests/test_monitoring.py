"""The alerting rules and the Grafana dashboard shipped next to the Prometheus textfile read the
metric names the textfile has; promtool accepts the rules and the textfile, and a predicted outage
in a lab collection makes the outage alert fire (promtool's rule unit tests)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from iospki.audit import run_audit
from iospki.reports import render
from iospki.reports.monitoring import ALERT_RULES, DASHBOARD
from iospki.state import store
from iospki.state.loader import load_collection
from tests.lab_pki_support import enroll_trustpoint, start_ca
from tests.test_forecast_lab import COMMANDS, Lab, iso

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool missing: apt-get install prometheus (make test installs it as root)"
)
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$")
_METRIC_IN_EXPR = re.compile(r"\b((?:x509|iospki)_[a-z0-9_]+)\b")
SECRETS = ["monitoring-archive-pw", "monitoring-challenge"]


def _promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], input=stdin, capture_output=True, text=True, timeout=60)


def _samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, line
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out.append((m.group(1), labels, float(m.group(3))))
    return out


@pytest.fixture(scope="module")
def lab_textfile(make_lab_module: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, datetime]]:
    """A CA whose certificate lives 20 days, without auto-rollover, and a client enrolled with it: the
    forecast predicts the client's outage when the CA certificate ends. Collected as `collect` does
    (outputs plus the collector's sent/answered times)."""
    now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    lab = Lab(make_lab_module(hosts=[("ca1", "csr1k"), ("r1", "isr4k")], start=iso(now), rate=0.0))
    try:
        start_ca(lab, "grant auto", "lifetime ca-certificate 20", "lifetime certificate 10",
                 archive=SECRETS[0])
        enroll_trustpoint(lab, "r1", "TP", "rsakeypair TP 2048", f"password 0 {SECRETS[1]}", "auto-enroll 80")
        root = tmp_path_factory.mktemp("collection")
        for host in ("ca1", "r1"):
            cmds = COMMANDS + (["show crypto pki server", "show crypto pki server CA requests"] if host == "ca1" else [])
            times: dict[str, list[str]] = {}
            for cmd in cmds:
                sent = datetime.now(timezone.utc)
                store.write_output(root, host, cmd, lab.show(host, cmd), SECRETS)
                times[cmd] = [sent.isoformat(), datetime.now(timezone.utc).isoformat()]
            store.write_json(root, host, store.READ_TIMES, times, SECRETS)
        result = run_audit(load_collection(root), at=now)
        yield render(result, "prometheus"), now
    finally:
        lab.close()


def test_rules_file_is_valid_yaml_with_the_documented_alerts() -> None:
    doc = yaml.safe_load(ALERT_RULES.read_text())
    names = {r["alert"] for g in doc["groups"] for r in g["rules"]}
    assert names == {"IospkiCertificateExpiringSoon", "IospkiCertificateExpired", "IospkiOutagePredicted",
                     "IospkiForecastIncomplete", "IospkiPkiTimerMissing", "IospkiCollectionStale"}


@needs_promtool
def test_promtool_checks_the_rules() -> None:
    run = _promtool("check", "rules", str(ALERT_RULES))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS: 6 rules found" in run.stdout


@pytest.mark.lab
@needs_promtool
def test_promtool_accepts_the_lab_textfile(lab_textfile: tuple[str, datetime]) -> None:
    text, _ = lab_textfile
    run = _promtool("check", "metrics", stdin=text)
    assert run.returncode == 0, run.stdout + run.stderr
    for secret in SECRETS:
        assert secret not in text


@pytest.mark.lab
def test_rules_and_dashboard_read_only_metrics_the_textfile_has(lab_textfile: tuple[str, datetime]) -> None:
    text, _ = lab_textfile
    # a metric counts as written when the textfile declares it (a gauge with no sample in a healthy
    # collection, e.g. iospki_forecast_unpredictable, still has its HELP line)
    written = set(re.findall(r"^# HELP (\w+) ", text, re.M))
    assert {name for name, _, _ in _samples(text)} <= written
    rules = set(_METRIC_IN_EXPR.findall(ALERT_RULES.read_text()))
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {m for e in exprs for m in _METRIC_IN_EXPR.findall(e)}
    # every metric an alert or a panel reads is one the lab collection's textfile carries
    assert rules and used and rules <= written and used <= written, (rules - written, used - written)
    assert "iospki_collection_timestamp_seconds" in written


def _unit_test(text: str, now: datetime, alert: str, eval_offset: timedelta) -> dict[str, Any]:
    """A promtool rule unit test whose input series are the textfile's samples, with every timestamp
    value moved so that the collection's 'now' is the evaluation instant (Unix time `eval` in the test)."""
    epoch_now = now.replace(tzinfo=timezone.utc).timestamp()
    eval_at = int(eval_offset.total_seconds())
    series = []
    for name, labels, value in _samples(text):
        if name.endswith("_timestamp_seconds") or name in ("x509_cert_not_after", "x509_cert_not_before",
                                                          "x509_crl_next_update", "x509_crl_this_update"):
            value = value - epoch_now + eval_at
        sel = name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
        series.append({"series": sel, "values": f"{value:.0f}x{eval_at // 60 + 5}"})
    return {"rule_files": [str(ALERT_RULES)], "evaluation_interval": "1m",
            "tests": [{"interval": "1m", "input_series": series,
                       "alert_rule_test": [{"eval_time": f"{eval_at // 60}m", "alertname": alert,
                                            "exp_alerts": []}]}]}


@pytest.mark.lab
@needs_promtool
def test_outage_alert_fires_for_the_predicted_outage(lab_textfile: tuple[str, datetime], tmp_path: Path) -> None:
    text, now = lab_textfile
    outages = [(lab, v) for name, lab, v in _samples(text) if name == "iospki_forecast_outage_start_timestamp_seconds"]
    assert outages, "the forecast predicts no outage for a CA without auto-rollover"
    r1 = [lab for lab, v in outages if lab["host"] == "r1"]
    assert r1, outages
    # promtool compares the firing alerts with exp_alerts: first ask for none and read what fired
    spec = _unit_test(text, now, "IospkiOutagePredicted", timedelta(hours=2))
    test_file = tmp_path / "outage_test.yml"
    test_file.write_text(yaml.safe_dump(spec))
    run = _promtool("test", "rules", str(test_file))
    assert run.returncode != 0 and "IospkiOutagePredicted" in run.stdout + run.stderr, run.stdout + run.stderr
    # then state the alert we expect, with the host and trustpoint labels, and promtool must agree
    expected = [{"exp_labels": {**lab, "severity": "critical"}} for lab in r1]
    spec["tests"][0]["alert_rule_test"][0]["exp_alerts"] = [
        {**e, "exp_annotations": {
            "summary": f"r1 {e['exp_labels']['trustpoint']}: outage predicted ({e['exp_labels']['reason']}) in "
                       + _humanize(next(v for lab, v in outages if lab == {k: x for k, x in e["exp_labels"].items()
                                                                           if k != "severity"})
                                   - now.replace(tzinfo=timezone.utc).timestamp()),
            "description": "iospki forecast names the event that fails and why; iospki audit lists the rule and its remedy."}}
        for e in expected
    ]
    test_file.write_text(yaml.safe_dump(spec))
    run = _promtool("test", "rules", str(test_file))
    assert run.returncode == 0, run.stdout + run.stderr


@needs_promtool
@pytest.mark.parametrize("age_days", [3, 1])
def test_stale_collection_alert_fires_only_when_old(tmp_path: Path, age_days: int) -> None:
    # hourly samples and rule evaluations (the rule has no `for:`): 120 steps to day 5, not 7,200 one-minute
    # steps (promtool took ~10 s for those); the sample at the evaluation time is the one the rule reads
    eval_h = 5 * 24
    collected = eval_h * 3600 - age_days * 86400
    fires = age_days > 2
    expected = [{"exp_labels": {"host": "r1", "severity": "warning"},
                 "exp_annotations": {"summary": f"r1: PKI state last collected {_humanize(age_days * 86400)} ago"}}]
    spec = {"rule_files": [str(ALERT_RULES)], "evaluation_interval": "1h", "tests": [{
        "interval": "1h",
        "input_series": [{"series": 'iospki_collection_timestamp_seconds{host="r1"}', "values": f"{collected}x{eval_h + 5}"}],
        "alert_rule_test": [{"eval_time": f"{eval_h}h", "alertname": "IospkiCollectionStale",
                             "exp_alerts": expected if fires else []}],
    }]}
    f = tmp_path / "stale.yml"
    f.write_text(yaml.safe_dump(spec))
    run = _promtool("test", "rules", str(f))
    assert run.returncode == 0, run.stdout + run.stderr


def _humanize(seconds: float) -> str:
    """Prometheus' humanizeDuration for the durations these alerts print (days, hours, minutes, seconds)."""
    s = int(seconds) if seconds >= 1 else seconds
    if isinstance(s, float):
        return f"{s:.4g}s"
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    parts = [f"{d}d"] if d else []
    if d or h:
        parts.append(f"{h}h")
    if d or h or m:
        parts.append(f"{m}m")
    parts.append(f"{sec}s")
    return " ".join(parts)
