"""Faults injected into the lab twin; after each one the state of EVERY device is read back over SSH.

One lab for the module: a CA server (ca1) and three clients (c1, c2, c3). Tests run in file order and build on
each other as an engineer's day would: deploy with a push cut half-way, enrol while the CA's HTTP server is
down or its clock not authoritative, collect while routers are down / refuse the password / are slow / drop
the session / send truncated output, and a collection interrupted by Ctrl-C.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from iospki.cli import app
from iospki.operations.inventory import LAB_CA_PASSPHRASE, LAB_CHALLENGE_PASSWORD
from iospki.state import store
from tests.validate_support import EXAMPLES, Lab, relocate

pytestmark = pytest.mark.lab

SECRETS = ["lab-only-password", "lab-only-enable", LAB_CA_PASSPHRASE, LAB_CHALLENGE_PASSWORD]
IDENTITY = re.compile(r"^Certificate\s*$", re.MULTILINE)
SERIAL = re.compile(r"^Certificate\s*\n\s+Status: Available\s*\n\s+Certificate Serial Number \(hex\): (\S+)", re.M)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("faults")
    inv = base / "inventory"
    relocate(EXAMPLES / "validate-pass", inv)
    hosts = yaml.safe_load((inv / "hosts.yaml").read_text())
    hosts["c2"]["data"].pop("validate_deploy_day", None)
    c3 = dict(hosts["c2"], groups=["isr_g1", "pki_client", "site_rtm"])
    c3["hostname"] = hosts["c2"]["hostname"].rsplit(".", 1)[0] + ".13"
    hosts["c3"] = c3
    (inv / "hosts.yaml").write_text(yaml.safe_dump(hosts, sort_keys=False))
    # a dropped session is only noticed when a read times out: keep that wait short here (lab answers in ms)
    defaults = yaml.safe_load((inv / "defaults.yaml").read_text())
    defaults["connection_options"]["netmiko"]["extras"]["read_timeout_override"] = 15
    (inv / "defaults.yaml").write_text(yaml.safe_dump(defaults, sort_keys=False))
    handle = Lab(inv, base / "state").up()
    try:
        yield handle
    finally:
        handle.down()


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("faults-work")


TRANSCRIPT: list[str] = []


def iospki(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, list(args), catch_exceptions=False)
    TRANSCRIPT.append(r.output)
    return r.exit_code, r.output


def deploy(lab: Lab, work: Path, limit: str, *extra: str) -> tuple[int, dict[str, dict[str, object]]]:
    rc, out = iospki(
        "deploy", "--inventory", str(lab.inventory), "--limit", limit, "--backup-dir", str(work / "bk"), "--json",
        "--wait", "20", *extra,
    )
    rows = json.loads(out[out.index("[") :])
    return rc, {str(r["host"]): r for r in rows}


def serials(lab: Lab, host: str) -> list[str]:
    return SERIAL.findall(lab.device(host, "show crypto pki certificates"))


def test_baseline_deploy(lab: Lab, work: Path) -> None:
    rc, rows = deploy(lab, work, "ca1,c1")
    assert rc == 0, rows
    assert serials(lab, "c1")
    assert "Status: enabled" in lab.device("ca1", "show crypto pki server")


def test_push_cut_half_way_is_completed_by_the_next_deploy(lab: Lab, work: Path) -> None:
    # the plan for a fresh router, to compare with
    rc, out = iospki("deploy", "--dry-run", "--json", "--inventory", str(lab.inventory), "--limit", "c2,c3")
    plans = {r["host"]: r["plan"] for r in json.loads(out[out.index("[") :])}
    fresh = len(plans["c2"]["diff"]["trustpoints"])
    assert fresh >= 4 and fresh == len(plans["c3"]["diff"]["trustpoints"])

    lab.fault("c2", "drop-config")  # the SSH session drops after two lines of each config push
    rc, rows = deploy(lab, work, "c2")
    lab.fault("c2", "drop-config", on=False)
    assert rc == 3 and rows["c2"]["ok"] is False
    assert rows["c2"]["note"], "the host is reported failed with a cause"
    # the push was NOT re-sent blindly: exactly the two lines before the drop are on the device
    rc, out = iospki("deploy", "--dry-run", "--json", "--inventory", str(lab.inventory), "--limit", "c2")
    partial = json.loads(out[out.index("[") :])[0]["plan"]
    assert "prerequisites" not in partial["diff"]
    # the block and its first line went in before the drop; only what is missing is planned
    assert len(partial["diff"]["trustpoints"]) < fresh, partial
    running = lab.device("c2", "show running-config")
    first_child = plans["c2"]["diff"]["trustpoints"][1].strip()
    assert "crypto pki trustpoint VALCA" in running and first_child in running
    assert first_child not in [x.strip() for x in partial["diff"]["trustpoints"]]
    assert "Certificate" not in lab.device("c2", "show crypto pki certificates")
    # the backup taken before the push holds the config as it was
    backups = [p for p in (work / "bk" / "c2").rglob("*") if p.is_file()]
    assert backups and all("crypto pki trustpoint" not in b.read_text() for b in backups)

    rc, rows = deploy(lab, work, "c2")  # detects the partial state from the running config and completes it
    assert rc == 0, rows
    assert serials(lab, "c2")
    rc, out = iospki("deploy", "--dry-run", "--json", "--inventory", str(lab.inventory), "--limit", "c2")
    assert json.loads(out[out.index("[") :])[0]["note"] == "in sync"
    assert serials(lab, "c1")  # the others untouched


def test_ca_http_down_during_enrollment(lab: Lab, work: Path) -> None:
    before = {h: serials(lab, h) for h in ("c1", "c2")}
    lab.configure("ca1", ["no ip http server"])
    try:
        rc, rows = deploy(lab, work, "c3")
    finally:
        lab.configure("ca1", ["ip http server"])
    assert rc == 3 and rows["c3"]["ok"] is False
    note = str(rows["c3"]["note"])
    assert "c3" in note and ("connect" in note.lower() or "GetCACert" in note), note
    assert serials(lab, "c3") == []  # no worse off: it had no certificate before either
    assert {h: serials(lab, h) for h in ("c1", "c2")} == before
    assert "Status: enabled" in lab.device("ca1", "show crypto pki server")


def test_ca_clock_not_authoritative_stops_enrollment(lab: Lab, work: Path) -> None:
    before = {h: serials(lab, h) for h in ("c1", "c2")}
    lab.fault("ca1", "ntp-unreachable")
    try:
        assert lab.device("ca1", "show clock detail").lstrip().startswith("*")
        rc, rows = deploy(lab, work, "c3")
    finally:
        lab.fault("ca1", "ntp-unreachable", on=False)
    assert rc == 3 and rows["c3"]["ok"] is False
    assert "clock not authoritative" in str(rows["c3"]["note"]), rows["c3"]
    assert serials(lab, "c3") == []
    assert {h: serials(lab, h) for h in ("c1", "c2")} == before
    rc, rows = deploy(lab, work, "c3")  # the clock is back: the same command now succeeds
    assert rc == 0, rows
    assert serials(lab, "c3")


def test_rollover_stops_while_the_ca_clock_is_not_authoritative_or_its_http_is_down(lab: Lab) -> None:
    before = {h: serials(lab, h) for h in ("c1", "c2", "c3")}
    server_before = lab.device("ca1", "show crypto pki server")
    lab.fault("ca1", "ntp-unreachable")
    try:
        rc, out = iospki("rollover", "ca1", "--yes", "--json", "--inventory", str(lab.inventory))
    finally:
        lab.fault("ca1", "ntp-unreachable", on=False)
    assert rc == 1, out
    assert "clock" in out.lower() and "not authoritative" in out, out
    lab.configure("ca1", ["no ip http server"])
    try:
        rc, out = iospki("rollover", "ca1", "--yes", "--json", "--inventory", str(lab.inventory))
    finally:
        lab.configure("ca1", ["ip http server"])
    assert rc == 1, out
    assert "HTTP" in out or "http" in out, out
    # nothing happened on any device: no rollover CA or key, every client keeps its certificate
    server = lab.device("ca1", "show crypto pki server")
    assert server == server_before and "Rollover status" not in server
    assert "Key name: VALCA#" not in lab.device("ca1", "show crypto key mypubkey rsa")
    assert {h: serials(lab, h) for h in ("c1", "c2", "c3")} == before


def test_collect_survives_down_refused_password_and_slow_routers(lab: Lab, work: Path) -> None:
    before = {h: serials(lab, h) for h in ("c1", "c2", "c3")}
    lab.fault("c1", "down")
    lab.fault("c2", "bad-password")
    lab.fault("c3", "slow")
    out_dir = work / "collect-faults"
    try:
        t0 = time.monotonic()
        rc, out = iospki("collect", "--inventory", str(lab.inventory), "--output", str(out_dir), "--no-facts")
        took = time.monotonic() - t0
    finally:
        for h, k in (("c1", "down"), ("c2", "bad-password"), ("c3", "slow")):
            lab.fault(h, k, on=False)
    assert rc == 3, out
    err_c1 = store.read_error(out_dir, "c1") or ""
    err_c2 = store.read_error(out_dir, "c2") or ""
    assert err_c1 and "c1" not in err_c2
    assert "authentication failed" in err_c2  # not retried: the same password again would not help
    assert store.read_error(out_dir, "c3") is None and store.read_error(out_dir, "ca1") is None
    certs = store.read_output(out_dir, "c3", "show crypto pki certificates") or ""
    assert SERIAL.search(certs), "the slow router was collected completely"
    meta = store.read_meta(out_dir) or {}
    assert meta["hosts_failed"] == ["c1", "c2"] and meta["hosts_ok"] == ["c3", "ca1"]
    assert took < 240
    # every device is as it was (the toolkit changed nothing while failing)
    assert {h: serials(lab, h) for h in ("c1", "c2", "c3")} == before
    assert all(not h["faults"] for h in lab.status()["hosts"])


def test_dropped_session_is_reconnected_for_read_only_commands(lab: Lab, work: Path) -> None:
    from iospki.operations.collection import collect_into
    from iospki.operations.runner import open_context

    ctx = open_context(str(lab.inventory), None)
    try:
        first = collect_into(ctx, work / "drop-1", facts=False)
        assert not first.failed
        lab.fault("c1", "drop-session")  # kills the open session ...
        lab.fault("c1", "drop-session", on=False)  # ... and the router answers again
        second = collect_into(ctx, work / "drop-2", facts=False)
        assert not second.failed, second.failed  # the dead session was replaced, the commands re-read
        assert SERIAL.search(store.read_output(work / "drop-2", "c1", "show crypto pki certificates") or "")
        lab.fault("c1", "drop-session")  # now every session drops at the first command
        try:
            third = collect_into(ctx, work / "drop-3", facts=False)
        finally:
            lab.fault("c1", "drop-session", on=False)
        assert set(third.failed) == {"c1"} and third.failed["c1"]
        assert set(third.ok) == {"ca1", "c2", "c3"}
    finally:
        ctx.close()


def test_truncated_output_is_a_per_host_error_not_a_crash(lab: Lab, work: Path) -> None:
    out_dir, full_dir = work / "collect-truncated", work / "collect-whole"
    # the same output collected without the fault, so this test stands on its own (no order dependency)
    iospki("collect", "--inventory", str(lab.inventory), "--output", str(full_dir), "--no-facts", "--limit", "c2")
    lab.fault("c2", "truncate-output")
    try:
        iospki("collect", "--inventory", str(lab.inventory), "--output", str(out_dir), "--no-facts")
    finally:
        lab.fault("c2", "truncate-output", on=False)
    text = store.read_output(out_dir, "c2", "show crypto pki certificates") or ""
    full = store.read_output(full_dir, "c2", "show crypto pki certificates") or ""
    assert text and len(text) < len(full) * 0.75, "the output really was cut"
    rc, out = iospki("audit", "--offline", str(out_dir), "--format", "json")
    assert rc in (1, 3), out  # findings / failed hosts: never a crash (exit 1 with a traceback) or usage error
    report = json.loads(out[out.index("{") :])
    parse_errors = [f for f in report["findings"] if f["rule"] == "parse-error"]
    assert parse_errors and {f["host"] for f in parse_errors} == {"c2"}, parse_errors
    assert all(f["target"] and f["target"] in f["message"] for f in parse_errors)  # names the command
    # the other hosts were audited as usual
    assert {f["host"] for f in report["findings"]} - {"c2"} <= {"c1", "c3", "ca1"}


def test_ctrl_c_during_collect_leaves_whole_files_and_a_rerun_completes(lab: Lab, work: Path) -> None:
    out_dir = work / "collect-interrupted"
    cmd = [sys.executable, "-c", "from iospki.cli import main; main()", "collect"]
    cmd += ["--inventory", str(lab.inventory), "--output", str(out_dir), "--no-facts"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(out_dir.rglob("*.txt")):
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)  # Ctrl-C while outputs are being written
        proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    stored = [p for p in out_dir.rglob("*") if p.is_file()]
    assert stored, "something was stored before the interrupt"
    # interrupted half-way: meta.json still carries the marker collect wrote before the first read (issue 12 §2)
    assert (store.read_meta(out_dir) or {}).get("interrupted") is True
    for p in stored:
        assert not p.name.startswith(".tmp-"), f"temporary file left under a final name: {p}"
        if p.suffix == ".json":
            json.loads(p.read_text())  # whole, parseable
    rc, out = iospki("collect", "--inventory", str(lab.inventory), "--output", str(out_dir), "--no-facts")
    assert rc == 0, out
    meta = store.read_meta(out_dir) or {}
    assert meta["hosts_ok"] == ["c1", "c2", "c3", "ca1"]
    for h in ("c1", "c2", "c3"):
        assert SERIAL.search(store.read_output(out_dir, h, "show crypto pki certificates") or "")
    for p in out_dir.rglob("*"):
        assert not p.name.startswith(".tmp-")


def test_a_fleet_renewal_holds_at_most_m_enrollments_against_the_ca(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    from iospki.operations.resilience import ca_limiter

    before = {h: serials(lab, h) for h in ("c1", "c2", "c3")}
    monkeypatch.setenv("IOSPKI_CA_ENROLL_LIMIT", "1")
    limiter = ca_limiter()
    rc, out = iospki("renew", "--inventory", str(lab.inventory), "--limit", "c1,c2,c3", "--yes", "--json")
    assert rc == 0, out
    assert limiter.peak == {"ca1": 1}  # three routers renewed, one enrollment at a time against ca1
    after = {h: serials(lab, h) for h in ("c1", "c2", "c3")}
    assert all(after[h] and after[h] != before[h] for h in after), (before, after)


def test_no_secret_in_any_output(lab: Lab, work: Path) -> None:
    hits = [f"transcript: {s}" for t in TRANSCRIPT for s in SECRETS if s in t]
    for p in work.rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            hits += [f"{p}: {s}" for s in SECRETS if s.encode() in data]
    assert not hits, hits
