"""Issue 12 §2: an offline audit never passes an incomplete collection.

A host whose required outputs (clock, running-config, certificates, timers; `show crypto pki server` on a CA)
are missing or unreadable, or a collection `collect` marked interrupted, is a `collection-incomplete` finding
naming the commands, and the audit exits 3. The forecast lists the hosts it could not predict and exits 3.
A folder of outputs gathered by other means (no meta.json) audits as usual when it is complete.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from junitparser import Error, JUnitXml
from typer.testing import CliRunner

from iospki.cli import app
from iospki.state import store
from iospki.state.loader import REQUIRED_OUTPUTS, load_collection
from tests.lab_fixture import LabHandle
from tests.pki_samples import Client, Server, Site, write_site

D0 = datetime(2025, 1, 1, 8, 0, 0)


def day(d: float) -> datetime:
    return D0 + timedelta(days=d)


def complete(root: Path) -> Path:
    """A CA and two clients with every output `collect` reads, as another tool would leave them: no meta.json."""
    site = Site(
        Server("ROOT", D0, day(730), auto_rollover_days=90),
        [
            Client("R1", id_start=day(292), id_end=day(657), renew=day(584)),
            Client("R2", id_start=day(365), id_end=day(730), renew=day(657)),
        ],
    )
    write_site(root, site, day(400))
    return root


def audit(root: Path) -> tuple[int, dict]:  # type: ignore[type-arg]
    r = CliRunner().invoke(app, ["audit", "--offline", str(root), "--format", "json"])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.output
    return r.exit_code, json.loads(r.stdout)


def incomplete(doc: dict) -> dict[str, str]:  # type: ignore[type-arg]
    return {f["host"]: f["message"] for f in doc["findings"] if f["rule"] == "collection-incomplete"}


def test_complete_outputs_without_meta_audit_normally(tmp_path: Path) -> None:
    root = complete(tmp_path / "c")
    assert store.read_meta(root) is None
    rc, doc = audit(root)
    assert rc in (0, 1), doc  # findings, perhaps; never "hosts failed"
    assert doc["summary"]["hosts_failed"] == 0 and incomplete(doc) == {}
    assert doc["summary"]["hosts"] == 3


@pytest.mark.parametrize(
    ("host", "filename", "command"),
    [
        ("R1", "show_crypto_pki_certificates_verbose.txt", "show crypto pki certificates"),
        ("R2", "show_crypto_pki_timers_detail.txt", "show crypto pki timers"),
        ("R1", "show_clock.txt", "show clock detail"),
        ("R2", "show_running-config.txt", "show running-config"),
        ("CA", "show_crypto_pki_server.txt", "show crypto pki server"),
    ],
)
def test_a_deleted_required_output_exits_3_naming_host_and_command(
    tmp_path: Path, host: str, filename: str, command: str
) -> None:
    root = complete(tmp_path / "c")
    (root / host / filename).unlink()
    rc, doc = audit(root)
    assert rc == 3, doc
    found = incomplete(doc)
    assert set(found) == {host}, found
    assert command in found[host], found
    assert doc["summary"]["hosts_failed"] == 1
    # the table names it too, in the finding line
    r = CliRunner().invoke(app, ["audit", "--offline", str(root)])
    assert r.exit_code == 3
    assert "collection-incomplete" in r.stdout and command in r.stdout and "1 failed" in r.stdout


def test_an_unreadable_required_output_is_named(tmp_path: Path) -> None:
    root = complete(tmp_path / "c")
    store.write_output(root, "R1", "show clock", "this is not a clock\n")
    rc, doc = audit(root)
    assert rc == 3
    assert "show clock detail unreadable" in incomplete(doc)["R1"]
    # JUnit: an erroring case of its own, so a CI dashboard shows it red
    r = CliRunner().invoke(app, ["audit", "--offline", str(root), "--format", "junit"])
    assert r.exit_code == 3
    xml = JUnitXml.fromstring(r.stdout)
    errors = [
        (c.classname, c.name) for suite in xml for c in suite if any(isinstance(x, Error) for x in c.result)
    ]
    assert ("R1", "collection-incomplete") in errors, errors


def test_a_second_spelling_of_a_required_output_counts(tmp_path: Path) -> None:
    """`show crypto pki certificates verbose` stands for the plain command (the same parser reads both)."""
    root = complete(tmp_path / "c")
    st = {s.host: s for s in load_collection(root)}
    assert all(not s.incomplete for s in st.values())
    # a CA server in the running config makes `show crypto pki server` required; a client has none
    assert [r.command for r in REQUIRED_OUTPUTS if r.needed(st["CA"])][-1] == "show crypto pki server"
    assert "show crypto pki server" not in [r.command for r in REQUIRED_OUTPUTS if r.needed(st["R1"])]


def test_an_emptied_host_folder_and_a_vanished_one(tmp_path: Path) -> None:
    root = complete(tmp_path / "c")
    for p in (root / "R2").iterdir():
        p.unlink()
    rc, doc = audit(root)
    assert rc == 3 and "R2" in incomplete(doc)
    # meta.json lists R1, whose folder is gone: not silently dropped
    store.write_meta(root, ["CA", "R1", "R2"], [])
    for p in (root / "R1").iterdir():
        p.unlink()
    (root / "R1").rmdir()
    rc, doc = audit(root)
    assert rc == 3
    assert {"R1", "R2"} <= set(incomplete(doc)), doc
    assert "show crypto pki certificates" in incomplete(doc)["R1"]


def test_interrupted_marker_fails_every_host(tmp_path: Path) -> None:
    root = complete(tmp_path / "c")
    store.write_meta(root, [], [], interrupted=True, extra={"hosts_planned": ["CA", "R1", "R2", "R3"]})
    assert store.read_meta(root)["interrupted"] is True  # type: ignore[index]
    rc, doc = audit(root)
    assert rc == 3
    found = incomplete(doc)
    assert set(found) == {"CA", "R1", "R2", "R3"}, found
    assert all("interrupted" in m for m in found.values())
    # the finished collection's meta.json (no marker) audits normally again
    store.write_meta(root, ["CA", "R1", "R2"], [])
    rc, doc = audit(root)
    assert rc in (0, 1) and incomplete(doc) == {}


def test_an_unreadable_meta_json_cannot_vouch_for_the_collection(tmp_path: Path) -> None:
    root = complete(tmp_path / "c")
    (root / store.META_FILE).write_text(
        '{"hosts_ok": ["CA", "R1"'
    )  # cut short by hand: no atomic write did this
    rc, doc = audit(root)
    assert rc == 3
    found = incomplete(doc)
    assert set(found) == {"CA", "R1", "R2"} and all("meta.json is unreadable" in m for m in found.values())


def test_forecast_names_the_hosts_it_could_not_predict(tmp_path: Path) -> None:
    root = complete(tmp_path / "c")
    runner = CliRunner()
    r = runner.invoke(app, ["forecast", "--offline", str(root), "--json", "--horizon", "2y"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["unpredictable"] == []
    (root / "R1" / "show_crypto_pki_certificates_verbose.txt").unlink()
    r = runner.invoke(app, ["forecast", "--offline", str(root), "--json", "--horizon", "2y"])
    assert r.exit_code == 3, r.output
    doc = json.loads(r.stdout)
    assert [u["host"] for u in doc["unpredictable"]] == ["R1"]
    assert "show crypto pki certificates" in doc["unpredictable"][0]["reason"]
    assert not any(e["host"] == "R1" for e in doc["events"]) and doc["outages"] == []
    r = runner.invoke(app, ["forecast", "--offline", str(root), "--horizon", "2y"])
    assert r.exit_code == 3
    assert "no outages predicted\n" not in r.stdout  # never the clean verdict
    assert "not predicted" in r.stdout and "R1" in r.stdout
    # without timers the simulator arms them from the running config: predicted, but the audit fails it
    root2 = complete(tmp_path / "t")
    (root2 / "R2" / "show_crypto_pki_timers_detail.txt").unlink()
    r = runner.invoke(app, ["forecast", "--offline", str(root2), "--json", "--horizon", "2y"])
    assert r.exit_code == 0 and json.loads(r.stdout)["unpredictable"] == []
    assert audit(root2)[0] == 3


def test_kill_9_during_collect_leaves_a_collection_that_fails_the_audit(
    lab: LabHandle, tmp_path: Path
) -> None:
    """kill -9 (nothing can be cleaned up): the marker written before the first device read stays."""
    base = [sys.executable, "-c", "from iospki.cli import main; main()"]
    full = tmp_path / "full"
    done = subprocess.run(
        [*base, "collect", "--inventory", str(lab.inventory_dir), "--output", str(full), "--no-facts"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    meta = store.read_meta(full) or {}
    assert "interrupted" not in meta and meta["hosts_ok"] == sorted(lab.hosts)
    rc, doc = audit(full)
    assert rc in (0, 1) and incomplete(doc) == {}, doc
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [*base, "collect", "--inventory", str(lab.inventory_dir), "--output", str(killed), "--no-facts"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(killed.rglob("*.txt")):
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (store.read_meta(killed) or {}).get("interrupted") is True
    rc, doc = audit(killed)
    assert rc == 3
    assert set(incomplete(doc)) == set(lab.hosts), doc
    r = CliRunner().invoke(app, ["forecast", "--offline", str(killed), "--json"])
    assert r.exit_code == 3
    assert {u["host"] for u in json.loads(r.stdout)["unpredictable"]} == set(lab.hosts)


def test_reports_name_the_hosts_not_predicted(tmp_path: Path) -> None:
    from iospki.audit import run_audit
    from iospki.reports import render

    root = complete(tmp_path / "c")
    (root / "R1" / "show_crypto_pki_certificates_verbose.txt").unlink()
    result = run_audit(load_collection(root))
    assert result.forecast is not None
    assert [u.host for u in result.forecast.unpredictable] == ["R1"]
    assert not any(e.host == "R1" for e in result.forecast.events)
    html = render(result, "html")
    assert "Not predicted" in html and "None predicted for the other hosts" in html
    assert "<p>None predicted.</p>" not in html
    md = render(result, "markdown")
    assert "### Not predicted" in md and "| R1 | " in md
    prom = render(result, "prometheus")
    assert 'iospki_forecast_unpredictable{host="R1"} 1' in prom
    promtool = shutil.which("promtool")
    if promtool is not None:  # the textfile stays valid for node_exporter
        checked = subprocess.run([promtool, "check", "metrics"], input=prom, capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "iospki_forecast_unpredictable{" not in render(
        run_audit(load_collection(complete(tmp_path / "ok"))), "prometheus"
    )
