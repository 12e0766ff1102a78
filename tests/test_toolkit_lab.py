"""End-to-end: every `iospki` command against the lab twin over real SSH, checking device state afterwards.

One module-scoped lab: a CA server (CSR1k), clients on ISR-G1 and ISR4K, and a host in the inventory that is
down. Tests run in file order (they build on each other, as an engineer's session would).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from iospki.models import CertKind
from iospki.parsers.certificates import parse_certificates
from tests.lab_fixture import LabHandle, MakeLab
from tests.toolkit_support import (
    HOST_DATA,
    HOSTS,
    Cli,
    add_down_host,
    device,
    grep_secrets,
    need_pki,
    no_timestamps,
    set_host_data,
    tp_intent,
)

pytestmark = pytest.mark.lab

TRANSCRIPT: list[str] = []


@pytest.fixture(scope="module")
def lab(make_lab_module: MakeLab) -> Iterator[LabHandle]:
    handle = make_lab_module(hosts=HOSTS, host_data=HOST_DATA)
    add_down_host(handle)
    yield handle


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("toolkit")


@pytest.fixture()
def cli(monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(monkeypatch, TRANSCRIPT)


def inv(lab: LabHandle) -> list[str]:
    return ["--inventory", str(lab.inventory_dir)]


def test_inventory_show_and_validate(lab: LabHandle, cli: Cli) -> None:
    rc, out = cli("inventory", "validate", *inv(lab))
    assert rc == 0, out
    assert "4 hosts, 1 CA servers, 3 trustpoints" in out
    rc, out = cli("inventory", "show", *inv(lab), "--json")
    rows = {r["host"]: r for r in json.loads(out)}
    assert rows["r1"]["netmiko"] == "cisco_ios" and rows["r3"]["netmiko"] == "cisco_xe"
    assert rows["ca1"]["roles"] == ["ca_server"]


def test_dry_run_shows_diff_and_changes_nothing(lab: LabHandle, cli: Cli, work: Path) -> None:
    before = no_timestamps(device(lab, "r1", "show running-config"))
    rc, out = cli("deploy", "--dry-run", *inv(lab), "--limit", "r1,ca1")
    assert rc == 0, out
    ca = lab.hosts["ca1"]
    assert f"+ enrollment url http://{ca.address}:8080" in out
    assert "+ auto-enroll 80 regenerate" in out
    assert "+crypto pki server LABCA" in out and "+ auto-rollover 90" in out
    assert "> crypto pki authenticate LABCA" in out
    assert no_timestamps(device(lab, "r1", "show running-config")) == before
    # NAPALM's own diff of the same lines agrees on the trustpoint block, and its candidate is discarded
    rc, out = cli("deploy", "--dry-run", "--napalm-diff", *inv(lab), "--limit", "r1")
    assert rc == 0, out
    assert "NAPALM compare_config:" in out
    assert "+crypto pki trustpoint LABCA" in out and f"+ enrollment url http://{ca.address}:8080" in out
    # NAPALM toggles `file prompt quiet` around its file copy: a 'Last configuration change' line (and its
    # '!') may appear, but no configuration line changes
    after = no_timestamps(device(lab, "r1", "show running-config"))
    assert [x for x in after.splitlines() if x != "!"] == [x for x in before.splitlines() if x != "!"]


def test_host_down_is_recorded_and_others_carry_on(lab: LabHandle, cli: Cli, work: Path) -> None:
    out_dir = work / "c-down"
    rc, out = cli("collect", *inv(lab), "--output", str(out_dir), "--no-facts")
    assert rc == 3, out
    err = (out_dir / "rdown" / "_error.txt").read_text()
    assert "unreachable" in err and lab.hosts["r1"].address.rsplit(".", 1)[0] in err
    meta = json.loads((out_dir / "meta.json").read_text())
    assert meta["hosts_failed"] == ["rdown"] and meta["hosts_ok"] == ["ca1", "r1", "r3"]
    for h in ("ca1", "r1", "r3"):
        assert (out_dir / h / "show_running-config.txt").read_text().count(f"hostname {h}") == 1
        assert (out_dir / h / "show_clock_detail.json").is_file()
    assert "rdown" in out and "FAILED" in out


def test_progress_bar_on_a_terminal_only(lab: LabHandle, cli: Cli, work: Path) -> None:
    """On a terminal (a pty from `script`) a live progress bar runs; piped output (CI) has none."""
    import os
    import shlex
    import shutil
    import subprocess
    import sys

    if shutil.which("script") is None:
        pytest.skip("needs `script` (apt-get install bsdutils)")
    cmd = [sys.executable, "-c", "from iospki.cli import main; main()", "collect", *inv(lab)]
    cmd += ["--limit", "r1", "--no-facts", "--output", str(work / "c-tty")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOSPKI_")}
    proc = subprocess.run(
        ["script", "-qec", shlex.join(cmd), "/dev/null"], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "\x1b[?25l" in proc.stdout, proc.stdout[-2000:]  # rich's live display hides the cursor
    assert re.search(r"collect\S*\s.*[01]/1", proc.stdout), proc.stdout[-2000:]
    rc, out = cli("collect", *inv(lab), "--limit", "r1", "--no-facts", "--output", str(work / "c-pipe"))
    assert rc == 0 and "\x1b[" not in out and not re.search(r"\b[01]/1\b", out), out


def test_wrong_password_fails_clearly_without_leaking(lab: LabHandle, cli: Cli, work: Path) -> None:
    wrong = "wrong-password-xyz"
    rc, out = cli(
        "collect",
        *inv(lab),
        "--limit",
        "r1",
        "--output",
        str(work / "c-wrong"),
        "--no-facts",
        env={"IOSPKI_PASSWORD": wrong},
    )
    assert rc == 3, out
    err = (work / "c-wrong" / "r1" / "_error.txt").read_text()
    assert "authentication failed" in err
    assert wrong not in out and wrong not in err
    # the device was not touched: only the error is stored for r1
    assert sorted(p.name for p in (work / "c-wrong" / "r1").iterdir()) == ["_error.txt"]


def test_push_rejected_by_device_fails_and_leaves_config_unchanged(lab: LabHandle) -> None:
    from iospki.operations.inventory import load_nornir
    from iospki.tasks import push_config

    before = no_timestamps(device(lab, "r3", "show running-config"))
    nr = load_nornir(lab.inventory_dir, limit="r3")
    res = nr.run(task=push_config, lines=["ip domain name lab.iospki.test", "frobnicate 12"])
    assert res["r3"].failed
    msg = str(res["r3"][0].exception)
    assert "r3: the device rejected the config" in msg and "frobnicate" in msg and "% Invalid input" in msg
    nr.close_connections()
    after = no_timestamps(device(lab, "r3", "show running-config"))
    assert "frobnicate" not in after and after == before
    # the session is usable afterwards (not stuck in config mode)
    assert device(lab, "r3", "show clock").strip()


def test_collect_records_commands_the_device_rejects(lab: LabHandle, work: Path) -> None:
    from iospki.operations.inventory import load_nornir
    from iospki.tasks import collect_pki

    nr = load_nornir(lab.inventory_dir, limit="r1")
    res = nr.run(
        task=collect_pki,
        output=work / "c-rej",
        commands=["show clock detail", "show crypto pki bogus"],
        facts=False,
    )
    nr.close_connections()
    errs = res["r1"][0].result["parse_errors"]
    assert errs["show crypto pki bogus"].startswith("the device rejected the command: % Invalid input")
    assert "show clock detail" not in errs


def test_fingerprint_mismatch_refuses_the_ca(lab: LabHandle, cli: Cli, work: Path, tmp_path: Path) -> None:
    need_pki(lab)
    # the CA first (r3 is not deployed yet)
    rc, out = cli("deploy", *inv(lab), "--limit", "ca1", "--backup-dir", str(work / "backups"))
    assert rc == 0, out
    inv2 = tmp_path / "inv-pinned"  # an inventory holds the lab credentials: not under `work` (grepped)
    import shutil

    shutil.copytree(lab.inventory_dir, inv2)
    (inv2 / "config.yaml").write_text(
        (inv2 / "config.yaml").read_text().replace(str(lab.inventory_dir), str(inv2))
    )
    wrong = "00112233445566778899AABBCCDDEEFF"
    set_host_data(
        inv2,
        "r3",
        {"ntp_servers": ["127.0.0.123"], "trustpoints": [tp_intent(expected_ca_fingerprint=wrong)]},
    )
    rc, out = cli("deploy", "--inventory", str(inv2), "--limit", "r3", "--backup-dir", str(work / "backups"))
    assert rc == 3, out
    assert "refused the CA certificate" in out and wrong in out
    certs = device(lab, "r3", "show crypto pki certificates LABCA")
    assert "CA Certificate" not in certs  # answered `no`: nothing installed


def test_deploy_enrolls_everyone_and_is_idempotent(lab: LabHandle, cli: Cli, work: Path) -> None:
    need_pki(lab)
    rc, out = cli("deploy", *inv(lab), "--limit", "!rdown", "--backup-dir", str(work / "backups"))
    assert rc == 0, out
    assert "enabled" in device(lab, "ca1", "show crypto pki server LABCA")
    fp = re.search(r"CA cert fingerprint:\s*(.+)", device(lab, "ca1", "show crypto pki server LABCA"))
    assert fp, "no CA fingerprint on the server"
    # to pin it, the summary names the CA's fingerprint
    assert f"CA fingerprint MD5 {''.join(fp.group(1).split()).upper()}" in out, out
    for h in ("r1", "r3"):
        certs = device(lab, h, "show crypto pki certificates LABCA")
        assert re.search(r"(?m)^Certificate\s*\n\s*Status: Available", certs), certs
        assert re.search(r"(?m)^CA Certificate\s*\n\s*Status: Available", certs), certs
    # backups were taken before the change
    assert any((work / "backups" / "r1").iterdir())
    rc, out = cli("deploy", "--dry-run", *inv(lab), "--limit", "!rdown", "--json")
    assert rc == 0
    assert all(r["note"] == "in sync" for r in json.loads(out)), out
    rc, out = cli("deploy", *inv(lab), "--limit", "!rdown", "--json", "--backup-dir", str(work / "backups"))
    assert rc == 0 and all(r["changes"] == [] for r in json.loads(out)), out


def test_status_shows_certificates_and_server(lab: LabHandle, cli: Cli) -> None:
    need_pki(lab)
    rc, out = cli("status", *inv(lab), "--limit", "!rdown", "--json")
    assert rc == 0, out
    data = {h["host"]: h for h in json.loads(out)}
    assert data["r1"]["clock_authoritative"] is True and data["r1"]["clock_source"] == "NTP"
    tp = data["r1"]["trustpoints"][0]
    assert tp["name"] == "LABCA" and tp["identity"] and 364 <= tp["identity"]["days_left"] <= 365
    assert "RENEW" in tp["timers"]
    srv = data["ca1"]["servers"][0]
    assert srv["name"] == "LABCA" and srv["status"].startswith("enabled")
    rc, out = cli("status", "r1", *inv(lab))
    assert rc == 0 and "LABCA" in out and "r3" not in out
    assert re.search(r"\d\d:\d\d:\d\d NTP", out), out  # the clock's source, shown with its time
    rc, out = cli("status", *inv(lab), "--json")
    assert rc == 3  # rdown is unreachable
    data = {h["host"]: h for h in json.loads(out)}
    assert "unreachable" in data["rdown"]["error"] and data["r1"]["trustpoints"]


def test_scep_probe_against_the_lab_ca(lab: LabHandle, cli: Cli) -> None:
    need_pki(lab)
    url = f"http://{lab.hosts['ca1'].address}:8080"
    rc, out = cli("scep", "probe", url, "--json")
    assert rc == 0, out
    res = json.loads(out)
    assert "GetNextCACert" in " ".join(res["caps"]) or res["caps"]
    fp = re.search(r"CA cert fingerprint:\s*([0-9A-F ]+)", device(lab, "ca1", "show crypto pki server LABCA"))
    assert fp and res["ca_certs"][0]["md5"] == fp.group(1).replace(" ", "")
    assert res["next_ca_certs"] == [] and res["next_ca_error"]
    # without a URL: the inventory's CA servers (here selected by --limit)
    rc, out = cli("scep", "probe", *inv(lab), "--limit", "ca1,r1", "--json")
    assert rc == 0, out
    assert list(json.loads(out)) == ["ca1 (LABCA)"]


def test_rollover_and_cancel(lab: LabHandle, cli: Cli) -> None:
    need_pki(lab)
    rc, out = cli("rollover", "ca1", "--cancel", "--yes", *inv(lab))
    assert rc == 1 and "rollover present" in out  # pre-check: nothing to cancel
    rc, out = cli("rollover", "LABCA", *inv(lab), input="n\n")
    assert rc == 1 and "aborted" in out
    assert "Rollover status" not in device(lab, "ca1", "show crypto pki server LABCA")
    rc, out = cli("rollover", "ca1", "--yes", *inv(lab), "--json")
    assert rc == 0, out
    checks = {c["check"]: c for c in json.loads(out)["verification"]}
    assert checks["GetNextCACert = rollover CA"]["ok"] and checks["GetNextCACert signed by current CA"]["ok"]
    shown = device(lab, "ca1", "show crypto pki server LABCA")
    assert "Rollover status" in shown
    assert "LABCA#" in device(lab, "ca1", "show crypto key mypubkey rsa")
    rc, out = cli("rollover", "ca1", "--yes", *inv(lab))
    assert rc == 1 and "no rollover yet" in out  # already present: refused
    # cancel: warns, deletes key and certificate, GetNextCACert has nothing any more
    rc, out = cli("rollover", "ca1", "--cancel", "--yes", *inv(lab))
    assert rc == 0, out
    assert "may have to re-enroll" in out
    assert "Rollover status" not in device(lab, "ca1", "show crypto pki server LABCA")
    assert "LABCA#" not in device(lab, "ca1", "show crypto key mypubkey rsa")
    # and again, for the rollover-day test below
    rc, out = cli("rollover", "ca1", "--yes", *inv(lab))
    assert rc == 0, out


def test_renew_replaces_identity_certificate(lab: LabHandle, cli: Cli, work: Path) -> None:
    need_pki(lab)
    # the README's runbook: collect, renew, verify against the collection taken before
    rc, out = cli("collect", *inv(lab), "--limit", "r1", "--output", str(work / "before-renew"))
    assert rc == 0, out
    before = device(lab, "r1", "show crypto pki certificates LABCA")
    rc, out = cli("renew", *inv(lab), "--limit", "r1", "--yes", "--json")
    assert rc == 0, out
    row = json.loads(out)["r1 LABCA"]
    old, new = row["note"].split(" -> ")
    after = device(lab, "r1", "show crypto pki certificates LABCA")
    # serials compared as parsed fields: a bare substring test matched "06" in a time of day
    assert identity_serials(before) == [old]
    assert identity_serials(after) == [new] and new != old
    rc, out = cli("verify", "--before", str(work / "before-renew"), *inv(lab), "--limit", "r1", "--json")
    assert rc == 0, out
    checks = {c["check"]: c for c in json.loads(out)["checks"] if c["host"] == "r1"}
    # r1 has `auto-enroll 80 regenerate`, but a manual renewal keeps the key (regenerate governs auto-enroll)
    assert checks["key kept (manual renewal)"]["ok"] and "key replaced (regenerate)" not in checks, checks
    assert checks["new serial"]["ok"] and checks["valid identity certificate"]["ok"], checks


def test_collect_reads_a_ca_server_the_inventory_does_not_mark(lab: LabHandle, work: Path) -> None:
    need_pki(lab)
    from iospki.operations.inventory import load_nornir
    from iospki.tasks import collect_pki

    nr = load_nornir(lab.inventory_dir, limit="ca1")
    res = nr.run(task=collect_pki, output=work / "c-discover", ca_servers=(), facts=False)
    nr.close_connections()
    assert not res["ca1"].failed, res["ca1"][0].exception
    cmds = res["ca1"][0].result["commands"]
    assert "show crypto pki server LABCA requests" in cmds and "show crypto pki server LABCA certificates" in cmds
    server = json.loads((work / "c-discover" / "ca1" / "show_crypto_pki_server.json").read_text())
    assert [s["name"] for s in server["servers"]] == ["LABCA"]
    # a client has no server block, so nothing is added
    nr = load_nornir(lab.inventory_dir, limit="r1")
    res = nr.run(task=collect_pki, output=work / "c-discover", ca_servers=(), facts=False)
    nr.close_connections()
    assert not any(c.startswith("show crypto pki server") for c in res["r1"][0].result["commands"])


def test_collect_reads_counters_everywhere_and_the_trustpool_where_the_platform_has_it(
    lab: LabHandle, work: Path
) -> None:
    need_pki(lab)
    from iospki.operations.inventory import load_nornir
    from iospki.state.loader import load_host
    from iospki.tasks import collect_pki

    out = work / "c-audit-extra"
    nr = load_nornir(lab.inventory_dir, limit="ca1,r1,r3")
    # r1 (ISR-G1, classic IOS) described as IOS-XE by mistake: its own `show version` keeps the trustpool off it
    nr.inventory.hosts["r1"].data["family"] = "iosxe"
    res = nr.run(task=collect_pki, output=out, ca_servers=(), facts=False)
    nr.close_connections()
    for host, has_trustpool in (("ca1", True), ("r1", False), ("r3", True)):
        assert not res[host].failed, res[host][0].exception
        result = res[host][0].result
        assert "show crypto pki counters" in result["commands"]
        assert ("show crypto pki trustpool" in result["commands"]) is has_trustpool, result["commands"]
        assert result["parse_errors"] == {}, result["parse_errors"]
        state = load_host(out, host)
        assert state.errors == [] and state.parse_errors == {}, state.errors
        assert state.counters is not None and state.counters.failed_validations == 0, state.counters
        if host != "ca1":  # enrolled by deploy: the sessions of that work, and the issued certificate validated
            assert state.counters.sessions_started >= 2 and state.counters.successful_validations >= 1
        if has_trustpool:
            assert state.trustpool and {c.source for c in state.trustpool} == {"Built-In"}
            assert all(c.tz == "UTC" and c.end is not None for c in state.trustpool)
        else:
            assert state.trustpool is None
            assert not (out / host / "show_crypto_pki_trustpool.txt").exists()


def identity_serials(text: str) -> list[str | None]:
    certs = parse_certificates(text).certificates
    return [c.serial for c in certs if c.kind is CertKind.identity and not c.rollover]


def test_verify_through_rollover_day(lab: LabHandle, cli: Cli, work: Path) -> None:
    need_pki(lab)
    rc, out = cli("collect", *inv(lab), "--limit", "!rdown", "--output", str(work / "before"))
    assert rc == 0, out
    lab.clock_advance("731d")
    rc, out = cli("collect", *inv(lab), "--limit", "!rdown", "--output", str(work / "after"))
    assert rc == 0, out
    rc, out = cli(
        "verify", "--before", str(work / "before"), "--after", str(work / "after"), *inv(lab), "--json"
    )
    assert rc == 0, out
    checks = json.loads(out)["checks"]
    names = {(c["host"], c["check"]) for c in checks if c["ok"]}
    for h in ("r1", "r3"):
        assert (
            (h, "new serial") in names
            and (h, "chain valid") in names
            and (h, "key replaced (regenerate)") in names
        )
    # a collection compared with itself proves nothing changed: verification fails
    rc, out = cli("verify", "--before", str(work / "after"), "--after", str(work / "after"), *inv(lab))
    assert rc == 1 and "FAILED" in out


def test_no_secrets_in_outputs_backups_or_logs(lab: LabHandle, work: Path) -> None:
    hits = grep_secrets([work], TRANSCRIPT)
    assert hits == []
    assert any(work.rglob("show_running-config.txt")), "nothing was collected"
    need_pki(lab)
    # the scan covered what would carry a secret if redaction failed: the CA server's outputs (its passphrase
    # dialog ran there) and the running-config backups of the clients (enable secret, enrollment dialogs)
    assert any(work.rglob("show_crypto_pki_server.txt")), "no CA server output was scanned"
    assert any(p.name.startswith("running-config-") for p in (work / "backups").rglob("*.txt"))
