"""Worst-case probes and --fail-on of `iospki lab validate` without a lab (fast): the V1 worst join day per
trustpoint design, the probe hosts written into a copy of the inventory, and how audit findings and probe
verdicts reach the JUnit report and the verdict."""

from __future__ import annotations

import ipaddress
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from iospki.cli import app
from iospki.operations.runner import open_context
from iospki.reports.validation import junit_xml, markdown
from iospki.validate.model import AuditFinding, Probe, Problem, ValidationResult
from iospki.validate.probe import designs, plan_probes, write_probed_inventory
from iospki.validate.worstday import Design, margin, worst_join_day, worst_margin
from tests.validate_support import REPO, relocate

T0 = datetime(2027, 1, 1)
DAY = timedelta(days=1)


def _builtin(tmp: Path, overlap: int | None, change: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """The built-in inventory on fresh addresses with `auto_rollover_days: overlap` (None: no auto-rollover)."""
    inv = tmp / "inventory"
    relocate(REPO / "inventory", inv)
    hosts = yaml.safe_load((inv / "hosts.yaml").read_text())
    hosts["ca1"]["data"]["ca_server"]["auto_rollover_days"] = overlap
    if overlap is None:
        del hosts["ca1"]["data"]["ca_server"]["auto_rollover_days"]
    if change is not None:
        change(hosts)
    (inv / "hosts.yaml").write_text(yaml.safe_dump(hosts, sort_keys=False))
    return inv


def _plan(inv: Path) -> tuple[list[Probe], list[str]]:
    ctx = open_context(str(inv), None)
    try:
        return plan_probes(ctx)
    finally:
        ctx.close()


@pytest.mark.parametrize(
    ("design", "day", "worst"),
    [
        (Design(730, 30, 365, 80), 73.0, -43.0),
        (Design(730, 90, 365, 80), 73.0, 17.0),
        (Design(730, 90, 365, 60), 146.0, -56.0),
        (Design(1095, 30, 365, 80), 146.0, -43.0),  # D = 730 = 2 × 292 + 146
        (Design(365, 30, 365, 80), 0.0, -43.0),  # D = 0: the first certificate is capped
    ],
)
def test_worst_day_has_the_least_margin_of_every_join_day(design: Design, day: float, worst: float) -> None:
    assert worst_join_day(design) == pytest.approx(day % design.step)
    assert worst_margin(design) == pytest.approx(worst)
    # V1 says the worst day is the minimum: search every join day of the first generation, by tenth of a day
    steps = int(design.ca_days * 10)
    found = min(margin(design, j / 10) for j in range(steps))
    assert found == pytest.approx(worst_margin(design), abs=1e-6)


def test_the_builtin_inventory_has_one_design_and_its_probe_joins_on_day_73(tmp_path: Path) -> None:
    inv = _builtin(tmp_path, 30)
    ctx = open_context(str(inv), None)
    try:
        assert [d.describe() for d in designs(ctx.intents)] == [
            "CA 730 d, certificates 365 d, auto-rollover 30, auto-enroll 80"
        ]
        probes, notes = plan_probes(ctx)
        assert notes == [] and len(probes) == 1
        p = probes[0]
        assert (p.join_day, p.shadow_day, p.rollover_day, p.margin_days) == (73.0, 657.0, 700, -43.0)
        assert p.clients == ["r1", "r2", "r3", "r4", "r5"] and p.like_host == "r1" and p.trustpoint == "LABCA"
        used = {str(h.hostname) for h in ctx.full.inventory.hosts.values()}
        assert p.address not in used and ipaddress.ip_address(p.address) in ipaddress.ip_network("127.0.0.0/8")
        dst = write_probed_inventory(ctx, inv, tmp_path / "probed", probes)
    finally:
        ctx.close()
    # the copy is a valid inventory whose probe is a client like r1, joining on day 73
    probed = open_context(str(dst), None)
    try:
        host = probed.full.inventory.hosts[p.host]
        r1 = probed.full.inventory.hosts["r1"]
        assert [g.name for g in host.groups] == [g.name for g in r1.groups]
        assert str(host.hostname) == p.address and host.port == r1.port
        assert host["validate_deploy_day"] == 73.0 and host.get("lab") is True
        assert probed.intents[p.host].trustpoints == probed.intents["r1"].trustpoints
    finally:
        probed.close()
    assert yaml.safe_load((inv / "hosts.yaml").read_text()).keys() == {"ca1", "r1", "r2", "r3", "r4", "r5"}


def test_each_distinct_design_gets_its_own_probe(tmp_path: Path) -> None:
    # r3 renews at 60 %: a second design, worst on day 146
    def r3_at_60(hosts: dict[str, Any]) -> None:
        tps = [dict(t) for t in hosts["r3"]["data"]["trustpoints"]]
        tps[0]["auto_enroll_percent"] = 60
        hosts["r3"]["data"] = {**hosts["r3"]["data"], "trustpoints": tps}

    probes, _ = _plan(_builtin(tmp_path, 90, r3_at_60))
    by_day = {p.join_day: p for p in probes}
    assert sorted(by_day) == [73.0, 146.0]
    assert by_day[146.0].clients == ["r3"] and by_day[146.0].margin_days == pytest.approx(-56.0)
    assert by_day[73.0].clients == ["r1", "r2", "r4", "r5"] and by_day[73.0].margin_days == pytest.approx(17.0)
    assert len({p.address for p in probes}) == 2 and len({p.host for p in probes}) == 2


def test_a_design_without_auto_rollover_is_named_not_probed(tmp_path: Path) -> None:
    probes, notes = _plan(_builtin(tmp_path, None))
    assert probes == [] and len(notes) == 1 and "no auto-rollover" in notes[0] and "r1" in notes[0]


def _result(tmp: Path, fail_on: str) -> ValidationResult:
    res = ValidationResult(tmp, tmp, start=T0, until=T0 + 731 * DAY, hosts=["ca1", "c1", "probe1-day73"])
    res.fail_on = fail_on
    res.day0 = T0
    res.trustpoints = {"c1": ["TP"], "probe1-day73": ["TP"]}
    probe = Probe(
        "probe1-day73", "TP", "c1", ["c1"], "CA 730 d, ...", "127.1.1.250", 73.0, 657.0, 700, -43.0,
        shadow_failed_at=T0 + 657 * DAY,
    )
    res.probes = [probe]
    res.problems = [Problem("probe1-day73", "TP", "renewal", T0 + 657 * DAY, "shadow renewal ... failed")]
    res.audit_findings = [
        AuditFinding("c1", "TP", "rollover-overlap-short-autoenroll", "critical", "needs 73 days", T0),
        AuditFinding("ca1", None, "crl-stale", "warning", "stale", T0),
    ]
    return res


def _cases(xml: str) -> dict[tuple[str, str], ET.Element]:
    return {(c.get("classname", ""), c.get("name", "")): c for c in ET.fromstring(xml).iter("testcase")}


def test_junit_carries_probe_verdicts_and_audit_findings_as_separate_failures(tmp_path: Path) -> None:
    res = _result(tmp_path, "critical")
    cases = _cases(junit_xml(res))
    probe = cases[("probe1-day73", "worst-join-day")].find("failure")
    assert probe is not None
    assert "probe probe1-day73" in probe.get("message", "") and "joined on day 73" in probe.get("message", "")
    assert "shadow renewal on day 657.0" in probe.get("message", "")
    assert cases[("probe1-day73", "renewal")].find("failure") is not None  # the outcome, per check
    audit = cases[("audit.c1", "rollover-overlap-short-autoenroll TP")].find("failure")
    assert audit is not None and audit.get("type") == "audit-critical"
    assert ("audit.ca1", "crl-stale") not in cases  # a warning does not fail --fail-on critical
    assert res.failing_findings == res.audit_findings[:1]
    md = markdown(res)
    assert "| probe1-day73 | c1 |" in md and "2028-10-19T00:00:00Z (day 657.0)" in md
    assert "| critical | rollover-overlap-short-autoenroll | yes |" in md


def test_fail_on_sets_which_findings_fail(tmp_path: Path) -> None:
    res = _result(tmp_path, "warning")
    assert [f.rule for f in res.failing_findings] == ["rollover-overlap-short-autoenroll", "crl-stale"]
    assert ("audit.ca1", "crl-stale") in _cases(junit_xml(res))
    res = _result(tmp_path, "none")
    res.problems = []
    assert res.failing_findings == [] and res.passed  # outcomes only, and none failed
    assert not any(k[0].startswith("audit") for k in _cases(junit_xml(res)))
    res.fail_on = "critical"
    assert not res.passed  # the same findings fail the default gate


def test_bad_fail_on_is_a_usage_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["lab", "validate", "--inventory", str(REPO / "inventory"), "--fail-on", "loud"])
    assert res.exit_code == 2 and "--fail-on" in res.output


def test_a_probe_that_never_joined_is_skipped_not_passed(tmp_path: Path) -> None:
    res = _result(tmp_path, "none")
    res.problems = []
    res.probes[0].joined = False
    res.probes[0].shadow_failed_at = None
    case = _cases(junit_xml(res))[("probe1-day73", "worst-join-day")]
    assert case.find("skipped") is not None and case.find("failure") is None
    assert "| not joined within the span |" in markdown(res)
