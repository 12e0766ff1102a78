"""`iospki lab validate` end to end on the two example inventories (each ~1.5 min: a 730-day CA, 3 routers).

The passing example (auto-rollover 90) must pass; the failing one (auto-rollover 30, a client enrolled on day
73) must fail naming that client, its trustpoint, the time and the cause, while the day-0 client passes. Both get
the worst-day probe of their design (day 73, V1); the span run is --as-deployed (no probe).
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iospki.cli import app
from iospki.forecast import ROLLOVER_ACTIVATION, SHADOW_RENEWAL
from iospki.models import CertKind
from iospki.operations.inventory import LAB_CA_PASSPHRASE, LAB_CHALLENGE_PASSWORD
from iospki.state.loader import load_collection
from tests.validate_support import EXAMPLES, relocate

pytestmark = pytest.mark.lab

SECRETS = ["lab-only-password", "lab-only-enable", LAB_CA_PASSPHRASE, LAB_CHALLENGE_PASSWORD]


def _start(kind: str, tmp: Path, *extra: str) -> tuple[subprocess.Popen[str], Path]:
    """`iospki lab validate` as a user runs it, in a child process (the runs go side by side)."""
    inv = tmp / "inventory"
    relocate(EXAMPLES / f"validate-{kind}", inv)
    out = tmp / "out"
    cmd = [sys.executable, "-c", "from iospki.cli import main; main()", "lab", "validate"]
    cmd += ["--inventory", str(inv), "--output", str(out), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True), out


Run = tuple[int, str, Path]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    started = {k: _start(k, tmp_path_factory.mktemp(f"validate-{k}")) for k in ("pass", "fail")}
    started["span"] = _start(
        "fail", tmp_path_factory.mktemp("validate-span"), "--through", "100d", "--no-audit", "--as-deployed"
    )
    done: dict[str, Run] = {}
    for k, (proc, out) in started.items():
        output, _ = proc.communicate(timeout=900)
        done[k] = (proc.returncode, output, out)
    return done


def _cases(out: Path) -> dict[tuple[str, str], ET.Element]:
    root = ET.parse(out / "junit.xml").getroot()
    return {(c.get("classname", ""), c.get("name", "")): c for c in root.iter("testcase")}


def _grep_secrets(out: Path) -> list[str]:
    hits = []
    for p in out.rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            hits += [f"{p}: {s}" for s in SECRETS if s.encode() in data]
    return hits


@pytest.fixture(scope="module")
def passing(runs: dict[str, Run]) -> Run:
    return runs["pass"]


@pytest.fixture(scope="module")
def failing(runs: dict[str, Run]) -> Run:
    return runs["fail"]


def test_passing_topology_passes(passing: tuple[int, str, Path]) -> None:
    rc, output, out = passing
    assert rc == 0, output
    assert "validate PASSED" in output
    cases = _cases(out)
    # one case per host and check; clients have the identity/trust/events checks, the CA server does not
    for host in ("c1", "c2"):
        for check in ("deploy", "collect", "identity", "trust", "events"):
            case = cases[(host, check)]
            assert case.find("failure") is None and case.find("error") is None, (host, check)
    assert ("ca1", "identity") not in cases and ("ca1", "deploy") in cases
    result = json.loads((out / "result.json").read_text())
    assert result["passed"] is True and result["problems"] == []
    assert [p["join_day"] for p in result["probes"]] == [73.0]  # the worst-day probe passed with the clients
    assert result["host_keys_checked"] is True  # every SSH session verified the lab's host keys
    # the lab really went through the rollover: both clients got a shadow certificate and activated it
    seen = {(e["host"], e["event"]) for e in result["events_confirmed"]}
    for host in ("c1", "c2"):
        assert (host, SHADOW_RENEWAL) in seen and (host, ROLLOVER_ACTIVATION) in seen, seen
    # and the last collection shows every client holding a valid certificate from the NEW CA
    last = sorted((out / "collections").iterdir())[-1]
    states = {s.host: s for s in load_collection(last)}
    ca = states["ca1"].cert("VALCA", CertKind.ca)
    assert ca is not None and ca.start is not None
    for host in ("c1", "c2"):
        st = states[host]
        ident = st.cert("VALCA", CertKind.identity)
        assert ident is not None and ident.start is not None and ident.end is not None
        assert st.now is not None and ident.start <= st.now < ident.end
        assert ident.start >= ca.start  # issued under the rollover CA, now active
    assert (out / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "PASSED" in (out / "summary.md").read_text()
    assert not _grep_secrets(out)


def test_thirty_day_overlap_fails_naming_host_time_and_cause(failing: tuple[int, str, Path]) -> None:
    rc, output, out = failing
    assert rc == 1, output
    cases = _cases(out)
    fail = cases[("c2", "identity")].find("failure")
    assert fail is not None
    msg = fail.get("message", "")
    assert "c2 trustpoint VALCA" in msg and "no valid identity certificate" in msg
    at = datetime.strptime(msg.split(" at ", 1)[1].split(":", 1)[0] + ":00:00", "%Y-%m-%dT%H:%M:%S")
    result = json.loads((out / "result.json").read_text())
    start = datetime.fromisoformat(result["start"].rstrip("Z"))
    assert 725 <= (at - start).days <= 731  # the outage starts when the CA rolls over (day 730)
    assert cases[("c2", "trust")].find("failure") is not None  # it never got the rollover CA either
    # the client enrolled on day 0 is fine with a 30-day overlap (by under a day, §1.8)
    for check in ("identity", "trust", "events"):
        assert cases[("c1", check)].find("failure") is None, check
    # the device state confirms it: c2's certificate ended and nothing replaced it
    last = sorted((out / "collections").iterdir())[-1]
    st = {s.host: s for s in load_collection(last)}["c2"]
    ident = st.cert("VALCA", CertKind.identity)
    assert st.now is not None and (ident is None or (ident.end is not None and ident.end <= st.now))
    summary = (out / "summary.md").read_text()
    assert "FAILED" in summary and "| c2 | VALCA | identity |" in summary
    # the probe of the design joins on day 73 as c2 does, and fails the same way
    probe = result["probes"][0]
    assert probe["join_day"] == 73.0 and probe["shadow_failed_day"] == pytest.approx(657, abs=0.1)
    assert "FAIL c2 trustpoint VALCA" in output
    assert not _grep_secrets(out)


def test_a_span_stops_the_clock_there(runs: dict[str, Run]) -> None:
    rc, output, out = runs["span"]
    # the failing topology looks fine for its first 100 days: the late client joined on day 73, nothing ends
    assert rc == 0, output
    result = json.loads((out / "result.json").read_text())
    start = datetime.fromisoformat(result["start"].rstrip("Z"))
    until = datetime.fromisoformat(result["until"].rstrip("Z"))
    assert (until - start).days == 100
    assert any("after deploy of c2" in c["reason"] for c in result["checkpoints"])
    assert result["probes"] == [] and result["hosts"] == ["c1", "c2", "ca1"]  # --as-deployed
    last = datetime.fromisoformat(result["checkpoints"][-1]["at"].rstrip("Z"))
    assert until <= last < until + timedelta(hours=1)


def test_bad_through_is_a_usage_error(tmp_path: Path) -> None:
    inv = tmp_path / "inventory"
    relocate(EXAMPLES / "validate-pass", inv)
    res = CliRunner().invoke(app, ["lab", "validate", "--inventory", str(inv), "--through", "soon"])
    assert res.exit_code == 2
    assert "--through" in res.output
