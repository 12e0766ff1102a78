"""Security through the real SSH and HTTP of the lab twin: host keys checked against a known-hosts file,
credentials refused, a wrong CA fingerprint never accepted, SCEP requests with bad signatures or replayed
transaction ids refused, and no secret in any artifact."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import asyncssh
import netmiko
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from iospki.cli import app
from iospki.operations.inventory import LAB_CA_PASSPHRASE, LAB_CHALLENGE_PASSWORD
from iospki.state import store
from tests.validate_support import EXAMPLES, Lab, relocate

pytestmark = pytest.mark.lab

SECRETS = ["lab-only-password", "lab-only-enable", LAB_CA_PASSPHRASE, LAB_CHALLENGE_PASSWORD]
OUTPUTS: list[str] = []


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("security")
    inv = base / "inventory"
    relocate(EXAMPLES / "validate-pass", inv)
    hosts = yaml.safe_load((inv / "hosts.yaml").read_text())
    hosts["c2"]["data"].pop("validate_deploy_day", None)
    (inv / "hosts.yaml").write_text(yaml.safe_dump(hosts, sort_keys=False))
    handle = Lab(inv, base / "state").up()
    try:
        yield handle
    finally:
        handle.down()


def iospki(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    r = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    OUTPUTS.append(r.output)
    return r.exit_code, r.output


def test_the_lab_refuses_wrong_ssh_credentials(lab: Lab) -> None:
    with pytest.raises(netmiko.NetmikoAuthenticationException):
        netmiko.ConnectHandler(**lab.netmiko_args("c1", password="not-the-password", auth_timeout=10))
    with pytest.raises(netmiko.NetmikoAuthenticationException):
        netmiko.ConnectHandler(**lab.netmiko_args("c1", username="nobody", auth_timeout=10))
    with netmiko.ConnectHandler(**lab.netmiko_args("c1", secret="wrong-enable")) as conn:
        if conn.check_enable_mode():  # a privilege-15 user lands in enable mode: drop to user mode first
            conn.exit_enable_mode()
        assert not conn.check_enable_mode()
        conn.write_channel("enable" + conn.RETURN)
        for _ in range(3):  # IOS asks three times, then refuses
            conn.read_until_pattern(r"Password:\s*$", read_timeout=10)
            conn.write_channel("wrong-enable" + conn.RETURN)
        out = conn.read_until_pattern(r">\s*$", read_timeout=10)
        assert "% Bad secrets" in out
        assert not conn.check_enable_mode()
    # and the right ones work
    assert "Cisco" in lab.device("c1", "show version")


def test_host_keys_are_checked_against_the_known_hosts_file(lab: Lab, tmp_path: Path) -> None:
    known = lab.state / "known_hosts"
    lines = known.read_text().splitlines()
    addrs = {h["hostname"] for h in lab.hosts.values()}
    assert len(lines) == 3 and all(any(f"[{a}]:" in ln for ln in lines) for a in addrs)
    # the lab's keys trusted explicitly: everything collects
    rc, out = iospki(
        "collect", "--inventory", str(lab.inventory), "--output", str(tmp_path / "ok"), "--no-facts",
        env={"IOSPKI_KNOWN_HOSTS": str(known)},
    )
    assert rc == 0, out
    # c1 announced with another key, c2 not in the file at all: both refused, ca1 still collected
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode().split()
    c1 = lab.hosts["c1"]["hostname"]
    c2 = lab.hosts["c2"]["hostname"]
    forged = [
        f"{ln.split()[0]} {other[0]} {other[1]}" if f"[{c1}]:" in ln else ln
        for ln in lines
        if f"[{c2}]:" not in ln
    ]
    bad = tmp_path / "known_hosts"
    bad.write_text("\n".join(forged) + "\n")
    rc, out = iospki(
        "collect", "--inventory", str(lab.inventory), "--output", str(tmp_path / "bad"), "--no-facts",
        env={"IOSPKI_KNOWN_HOSTS": str(bad)},
    )
    assert rc == 3, out
    meta = store.read_meta(tmp_path / "bad") or {}
    assert meta["hosts_failed"] == ["c1", "c2"] and meta["hosts_ok"] == ["ca1"]
    for h in ("c1", "c2"):
        err = (store.read_error(tmp_path / "bad", h) or "").lower()
        assert "key" in err or "known_hosts" in err, err  # the cause is the host key, not a vague failure
    assert not list((tmp_path / "bad" / "c1").glob("show*.txt"))  # nothing was read from an unverified host


def test_a_wrong_pinned_ca_fingerprint_is_never_accepted(lab: Lab, tmp_path: Path) -> None:
    rc, out = iospki("deploy", "--inventory", str(lab.inventory), "--limit", "ca1", "--backup-dir", str(tmp_path))
    assert rc == 0, out
    hosts = yaml.safe_load((lab.inventory / "hosts.yaml").read_text())
    for tp in hosts["c2"]["data"]["trustpoints"]:
        tp["expected_ca_fingerprint"] = "0123456789ABCDEF0123456789ABCDEF"
    pinned = tmp_path / "pinned"
    relocate_same = pinned
    relocate_same.mkdir()
    for f in lab.inventory.iterdir():
        (pinned / f.name).write_bytes(f.read_bytes())
    (pinned / "hosts.yaml").write_text(yaml.safe_dump(hosts, sort_keys=False))
    rc, out = iospki(
        "deploy", "--inventory", str(pinned), "--limit", "c2", "--backup-dir", str(tmp_path / "bk"), "--json"
    )
    assert rc == 3, out
    row = json.loads(out[out.index("[") :])[0]
    assert row["ok"] is False and "fingerprint" in row["note"].lower()
    certs = lab.device("c2", "show crypto pki certificates")
    assert "CA Certificate" not in certs  # the offered CA certificate was refused, not installed


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _csr(key: rsa.RSAPrivateKey, cn: str) -> x509.CertificateSigningRequest:
    from cryptography.hazmat.primitives import hashes

    return x509.CertificateSigningRequestBuilder().subject_name(_name(cn)).sign(key, hashes.SHA256())


def test_scep_refuses_bad_signatures_and_replayed_transaction_ids(lab: Lab) -> None:
    from iospki.lab.scep import client
    from iospki.lab.scep.messages import FailInfo, PkiStatus

    addr = lab.hosts["ca1"]["hostname"]
    url = f"http://{addr}:8080/cgi-bin/pkiclient.exe"

    async def run() -> None:
        cas = await client.get_ca_certs(url)
        now = datetime.now(timezone.utc)
        key_a = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_b = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        signer_a = client.self_signed_signer(key_a, _name("sec-a.lab"), now)
        # signed with a key that does not match the signer certificate: the signature cannot verify
        bad = await client.enroll(
            url, _csr(key_a, "sec-a.lab"), key_a, signer_a, key_b, cas.recipient, transaction_id="AB" * 16
        )
        assert bad.status == PkiStatus.FAILURE and bad.fail_info == FailInfo.BAD_MESSAGE_CHECK
        assert bad.certificate is None
        good = await client.enroll(
            url, _csr(key_a, "sec-a.lab"), key_a, signer_a, key_a, cas.recipient, transaction_id="CD" * 16
        )
        assert good.status == PkiStatus.SUCCESS and good.certificate is not None
        # the same transaction id again, with another key: a replay, refused
        signer_b = client.self_signed_signer(key_b, _name("sec-b.lab"), now)
        replay = await client.enroll(
            url, _csr(key_b, "sec-b.lab"), key_b, signer_b, key_b, cas.recipient, transaction_id="CD" * 16
        )
        assert replay.status == PkiStatus.FAILURE and replay.fail_info == FailInfo.BAD_REQUEST
        assert replay.certificate is None

    asyncio.run(run())
    # the CA issued exactly one certificate for these requests
    issued = lab.device("ca1", "show crypto pki server VALCA certificates")
    assert "sec-a.lab" in issued and "sec-b.lab" not in issued


def test_scep_probe_pins_the_ca_and_checks_the_next_ca(lab: Lab) -> None:
    url = f"http://{lab.hosts['ca1']['hostname']}:8080"
    server = lab.device("ca1", "show crypto pki server")
    fp = re.search(r"CA cert fingerprint: ([0-9A-F ]+)", server)
    assert fp is not None
    pinned = fp.group(1).replace(" ", "")
    rc, out = iospki("scep", "probe", url, "--ca-fingerprint", pinned)
    assert rc == 0, out
    rc, out = iospki("scep", "probe", url, "--ca-fingerprint", "0123456789ABCDEF0123456789ABCDEF")
    assert rc == 1 and "pinned fingerprint" in out, out  # another CA is never accepted blindly
    # a rollover CA: GetNextCACert must be signed by the current CA key (it is) or carry the expected print
    rc, out = iospki("rollover", "ca1", "--yes", "--inventory", str(lab.inventory))
    assert rc == 0, out
    rc, out = iospki("scep", "probe", url, "--ca-fingerprint", pinned, "--json")
    assert rc == 0, out
    data = json.loads(out[out.index("{") :])
    assert data["next_ca_signature_ok"] is True and data["next_ca_certs"]
    nxt = data["next_ca_certs"][0]["md5"]
    rc, out = iospki("scep", "probe", url, "--next-fingerprint", nxt)
    assert rc == 0, out
    rc, out = iospki("scep", "probe", url, "--next-fingerprint", "AA" * 16)
    assert rc == 1 and "GetNextCACert: not the expected fingerprint" in out, out


def test_no_secret_reaches_any_output(lab: Lab, tmp_path: Path) -> None:
    hits = [f"output: {s}" for o in OUTPUTS for s in SECRETS if s in o]
    for p in lab.state.parent.rglob("*"):
        if p.is_file() and p.name not in ("defaults.yaml",) and "state" not in p.parts:
            data = p.read_bytes()
            hits += [f"{p}: {s}" for s in SECRETS if s.encode() in data]
    assert not hits, hits
