"""`iospki lab validate` searches the worst case (issue 11 §5): the built-in inventory, whose clients all enrol
on day 0, gets a probe client joining on the worst day of its design (V1: day 73 for CA 730 days, certificates
365 days, auto-enroll 80). With `auto-rollover 30` the run must fail naming the probe and the day its shadow
renewal found no rollover CA (day 657; the rollover CA comes on day 700); with 90 it passes, the probe's
shadow renewal finding the rollover CA (day 640) and the probe ending on the new CA.

Both runs go side by side as child processes of the CLI, as a CI job runs it (~2.5 min each, through the
rollover: the shortest `--through` that shows the outage)."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from iospki.forecast import ROLLOVER_ACTIVATION, SHADOW_RENEWAL
from tests.validate_support import REPO, relocate

pytestmark = [pytest.mark.lab, pytest.mark.slow]

Run = tuple[int, str, Path]


def _start(overlap: int, tmp: Path) -> tuple[subprocess.Popen[str], Path]:
    inv = tmp / "inventory"
    relocate(REPO / "inventory", inv)
    hosts = yaml.safe_load((inv / "hosts.yaml").read_text())
    hosts["ca1"]["data"]["ca_server"]["auto_rollover_days"] = overlap
    (inv / "hosts.yaml").write_text(yaml.safe_dump(hosts, sort_keys=False))
    out = tmp / "out"
    cmd = [sys.executable, "-c", "from iospki.cli import main; main()", "lab", "validate"]
    cmd += ["--inventory", str(inv), "--output", str(out), "--through", "rollover"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True), out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Run]:
    started = {d: _start(d, tmp_path_factory.mktemp(f"worstday-{d}")) for d in (30, 90)}
    done: dict[int, Run] = {}
    for d, (proc, out) in started.items():
        output, _ = proc.communicate(timeout=1200)
        done[d] = (proc.returncode, output, out)
    return done


def _day(at: str, day0: str) -> float:
    t = datetime.fromisoformat(at.rstrip("Z"))
    return (t - datetime.fromisoformat(day0.rstrip("Z"))).total_seconds() / 86400


def _probe(result: dict[str, Any]) -> dict[str, Any]:
    probes = result["probes"]
    assert len(probes) == 1, probes  # the built-in inventory has one trustpoint design
    probe: dict[str, Any] = probes[0]
    assert probe["join_day"] == 73.0 and probe["clients"] == ["r1", "r2", "r3", "r4", "r5"]
    return probe


def test_thirty_day_overlap_fails_on_the_probe_joining_on_day_73(runs: dict[int, Run]) -> None:
    rc, output, out = runs[30]
    assert rc == 1, output
    result = json.loads((out / "result.json").read_text())
    probe = _probe(result)
    name = probe["host"]
    # the probe really joined on day 73 (deployed then), a router like r1
    deploy = next(c for c in result["checkpoints"] if c["reason"] == f"after deploy of {name}")
    assert 73 <= _day(deploy["at"], result["day0"]) < 73.1
    # its shadow renewal found no rollover CA on day 657 (V1: 365 + 0.8 x 365), 43 days before day 700
    assert probe["shadow_failed_at"] is not None
    assert 657 <= _day(probe["shadow_failed_at"], result["day0"]) < 657.1
    renewal = [p for p in result["problems"] if p["host"] == name and p["check"] == "renewal"]
    assert len(renewal) == 1 and "no rollover CA" in renewal[0]["cause"] and "day 657" in renewal[0]["cause"]
    # and it has no certificate from the CA's end on: the outcome, not only a prediction
    ident = [p for p in result["problems"] if p["host"] == name and p["check"] == "identity"]
    assert ident and 730 <= _day(ident[0]["at"], result["day0"]) < 731
    # the day-0 clients survive by under a day (§1.8): no outcome problem for them
    assert {p["host"] for p in result["problems"]} == {name}
    # the reports name the probe and the day
    cases = {(c.get("classname"), c.get("name")): c for c in ET.parse(out / "junit.xml").iter("testcase")}
    fail = cases[(name, "worst-join-day")].find("failure")
    assert fail is not None and "joined on day 73" in fail.get("message", "")
    assert "shadow renewal on day 657.0" in fail.get("message", "")
    # the audit's critical findings fail it too, as their own cases (--fail-on critical, the default)
    audit = cases[("audit.r1", "rollover-overlap-short-autoenroll LABCA")].find("failure")
    assert audit is not None and audit.get("type") == "audit-critical"
    assert f"| {name} | r1, r2, r3, r4, r5 |" in (out / "summary.md").read_text()
    assert f"probe {name}" in output and "shadow renewal on day 657.0" in output


def test_ninety_day_overlap_passes_with_the_probe(runs: dict[int, Run]) -> None:
    rc, output, out = runs[90]
    assert rc == 0, output
    result = json.loads((out / "result.json").read_text())
    probe = _probe(result)
    assert result["passed"] is True and result["problems"] == []
    assert probe["shadow_failed_at"] is None and probe["margin_days"] == 17.0
    assert not [f for f in result["audit_findings"] if f["fails_run"]]
    # the probe went through the rollover: its shadow renewal on day 657 found the rollover CA (day 640)
    seen = {(e["host"], e["event"]): e for e in result["events_confirmed"]}
    shadow = seen[(probe["host"], SHADOW_RENEWAL)]
    assert 657 <= _day(shadow["at"], result["day0"]) < 657.1
    assert (probe["host"], ROLLOVER_ACTIVATION) in seen
    cases = {(c.get("classname"), c.get("name")): c for c in ET.parse(out / "junit.xml").iter("testcase")}
    assert cases[(probe["host"], "worst-join-day")].find("failure") is None
