"""Issue 12 §1: SSH host keys are checked by default for every non-lab host.

Against a paramiko SSH server of the test's own that records every authentication attempt:
with no known_hosts file nothing connects at all; with a changed key the key exchange happens
and then nothing is authenticated; with the right key the password does arrive (so the
recorder would have seen one in the other cases). Against the lab with a NON-lab inventory
pointing at its routers: refused before connecting, `inventory keyscan` writes a file that
lets the same inventory collect, a changed key is refused, `--accept-new` is recorded."""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paramiko
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from iospki.cli import app
from iospki.operations import hostkeys
from iospki.operations.inventory import load_nornir
from iospki.state import store
from tests.lab_fixture import PASSWORD, SECRET, USERNAME, MakeLab, write_inventory

ENV = {"IOSPKI_USERNAME": USERNAME, "IOSPKI_PASSWORD": PASSWORD, "IOSPKI_ENABLE_SECRET": SECRET}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IOSPKI_KNOWN_HOSTS", raising=False)
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)


def iospki(*args: str, stdin: str | None = None) -> tuple[int, str]:
    r = CliRunner().invoke(app, list(args), input=stdin, env=ENV)
    assert "Traceback" not in r.output, r.output
    return r.exit_code, r.output


def non_lab(src: Path, dst: Path) -> Path:
    """A copy of a lab inventory whose hosts are NOT lab hosts (as a real-router inventory is),
    with relative file names, so the copy is what is read."""
    dst.mkdir(parents=True)
    for name in ("hosts.yaml", "groups.yaml"):
        shutil.copy(src / name, dst / name)
    defaults = yaml.safe_load((src / "defaults.yaml").read_text())
    defaults.pop("password", None)  # non-lab: credentials from the environment only
    defaults["data"]["lab"] = False
    (dst / "defaults.yaml").write_text(yaml.safe_dump(defaults))
    (dst / "config.yaml").write_text(yaml.safe_dump({"inventory": {"plugin": "SimpleInventory"}}))
    return dst


def fingerprint(key_base64: str) -> str:
    return "SHA256:" + base64.b64encode(
        hashlib.sha256(base64.b64decode(key_base64)).digest()
    ).decode().rstrip("=")


# ------------------------------------------------------------------------------------------------------------------
# A recording SSH server: proof of what a client sent.


class _Recorder(paramiko.ServerInterface):
    def __init__(self, log: list[tuple[str, str]]) -> None:
        self.log = log

    def get_allowed_auths(self, username: str) -> str:
        return "password"

    def check_auth_none(self, username: str) -> int:
        self.log.append(("none", username))
        return paramiko.common.AUTH_FAILED

    def check_auth_password(self, username: str, password: str) -> int:
        self.log.append(("password", password))
        return paramiko.common.AUTH_FAILED

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        self.log.append(("publickey", username))
        return paramiko.common.AUTH_FAILED


class RecordingServer:
    def __init__(self) -> None:
        self.key = _ed25519()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.auth: list[tuple[str, str]] = []
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        t = paramiko.Transport(conn)
        t.add_server_key(self.key)
        try:
            t.start_server(server=_Recorder(self.auth))
            t.accept(10)
        except Exception:  # noqa: BLE001  (a client that gave up: nothing to record)
            pass
        finally:
            t.close()

    def close(self) -> None:
        self._stop = True
        self.sock.close()


def _ed25519() -> paramiko.PKey:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    return paramiko.Ed25519Key.from_private_key(io.StringIO(pem.decode()))


@pytest.fixture
def recorder() -> Iterator[RecordingServer]:
    srv = RecordingServer()
    try:
        yield srv
    finally:
        srv.close()


def _recorder_inventory(tmp_path: Path, srv: RecordingServer) -> Path:
    write_inventory(tmp_path / "lab-style", [("rec", "isr_g1")])
    inv = non_lab(tmp_path / "lab-style", tmp_path / "inv")
    hosts = yaml.safe_load((inv / "hosts.yaml").read_text())
    hosts["rec"].update({"hostname": "127.0.0.1", "port": srv.port})
    (inv / "hosts.yaml").write_text(yaml.safe_dump(hosts))
    return inv


def test_no_known_hosts_refuses_before_connecting(tmp_path: Path, recorder: RecordingServer) -> None:
    inv = _recorder_inventory(tmp_path, recorder)
    rc, out = iospki("collect", "--inventory", str(inv), "--output", str(tmp_path / "out"), "--no-facts")
    assert rc == 2, out
    assert "rec: no known_hosts file" in out and "iospki inventory keyscan" in out
    assert recorder.connections == 0 and recorder.auth == []
    assert not (tmp_path / "out").exists()
    # inventory validate says the same, and the library refuses too (a task never opens the session)
    rc, out = iospki("inventory", "validate", "--inventory", str(inv))
    assert rc == 2 and "no known_hosts file" in out, out
    assert load_nornir(inv).inventory.hosts["rec"].data["_host_key_error"]


def test_changed_key_is_refused_after_the_key_exchange_and_before_any_password(
    tmp_path: Path, recorder: RecordingServer
) -> None:
    inv = _recorder_inventory(tmp_path, recorder)
    other = _ed25519()
    (inv / "known_hosts").write_text(f"[127.0.0.1]:{recorder.port} {other.get_name()} {other.get_base64()}\n")
    rc, out = iospki("collect", "--inventory", str(inv), "--output", str(tmp_path / "out"), "--no-facts")
    assert rc == 3, out
    assert recorder.connections >= 1  # it did connect: the key was seen and refused
    assert recorder.auth == []  # ... and not even the user name was sent
    err = (store.read_error(tmp_path / "out", "rec") or "").lower()
    assert "host key" in err or "known_hosts" in err or "not found" in err, err
    # keyscan names the change and never replaces the key in the file
    before = (inv / "known_hosts").read_text()
    rc, out = iospki("inventory", "keyscan", "--inventory", str(inv), "--accept-new")
    assert rc == 3 and "CHANGED" in out, out
    assert (inv / "known_hosts").read_text() == before
    assert recorder.auth == []


def test_the_right_key_lets_the_password_through(tmp_path: Path, recorder: RecordingServer) -> None:
    """The recorder sees a password when the key is trusted: its silence above means something."""
    inv = _recorder_inventory(tmp_path, recorder)
    rc, out = iospki("inventory", "keyscan", "--inventory", str(inv), stdin="y\n")
    assert rc == 0, out
    assert fingerprint(recorder.key.get_base64()) in out
    assert recorder.auth == []  # the scan itself authenticates nothing
    rc, out = iospki("collect", "--inventory", str(inv), "--output", str(tmp_path / "out"), "--no-facts")
    assert rc == 3, out  # the recorder refuses every login
    assert ("password", PASSWORD) in recorder.auth


# ------------------------------------------------------------------------------------------------------------------
# The lab, with a non-lab inventory.


@pytest.mark.lab
def test_keyscan_then_collect_against_the_lab(make_lab: MakeLab, tmp_path: Path) -> None:
    lab = make_lab(hosts=[("r1", "isr_g1"), ("r3", "isr4k")])
    inv = non_lab(lab.inventory_dir, tmp_path / "inv")
    lab_key = (lab.state_dir / "known_hosts").read_text().split()[1:3]  # every lab router shares one key
    want = fingerprint(lab_key[1])

    # 1. refused, nothing collected
    rc, out = iospki("collect", "--inventory", str(inv), "--output", str(tmp_path / "none"), "--no-facts")
    assert rc == 2 and "no known_hosts file" in out and "r1, r3" in out, out
    assert not (tmp_path / "none").exists()

    # 2. keyscan shows the fingerprints; not confirmed: nothing written
    rc, out = iospki("inventory", "keyscan", "--inventory", str(inv), stdin="n\n")
    assert rc == 2 and out.count(want) == 2 and "nothing written" in out, out
    assert not (inv / "known_hosts").exists()

    # 3. confirmed: the file holds both routers, and the same inventory now collects
    rc, out = iospki("inventory", "keyscan", "--inventory", str(inv), stdin="y\n")
    assert rc == 0 and "2 key(s) confirmed" in out, out
    text = (inv / "known_hosts").read_text()
    for h in lab.hosts.values():
        assert f"[{h.address}]:{h.port} {lab_key[0]} {lab_key[1]}" in text
    assert "confirmed by the operator" in text
    rc, out = iospki("collect", "--inventory", str(inv), "--output", str(tmp_path / "ok"), "--no-facts")
    assert rc == 0, out
    assert "Cisco" in (store.read_output(tmp_path / "ok", "r1", "show version") or "")

    # 4. a second scan: everything known, the file unchanged
    rc, out = iospki("inventory", "keyscan", "--inventory", str(inv))
    assert rc == 0 and "known" in out, out
    assert (inv / "known_hosts").read_text() == text

    # 5. r1's key changed: r1 refused (nothing read), r3 still collected
    other = _ed25519()
    r1 = lab.hosts["r1"]
    forged = text.replace(
        f"[{r1.address}]:{r1.port} {lab_key[0]} {lab_key[1]}",
        f"[{r1.address}]:{r1.port} {other.get_name()} {other.get_base64()}",
    )
    (inv / "known_hosts").write_text(forged)
    rc, out = iospki("collect", "--inventory", str(inv), "--output", str(tmp_path / "bad"), "--no-facts")
    assert rc == 3, out
    meta: dict[str, Any] = store.read_meta(tmp_path / "bad") or {}
    assert meta["hosts_failed"] == ["r1"] and meta["hosts_ok"] == ["r3"], meta
    assert not list((tmp_path / "bad" / "r1").glob("show*.txt"))

    # 6. --accept-new into a fresh file: written without asking, and said so in the file and the output
    fresh = tmp_path / "tofu_known_hosts"
    rc, out = iospki(
        "inventory",
        "keyscan",
        "--inventory",
        str(inv),
        "--output",
        str(fresh),
        "--accept-new",
        "--limit",
        "r3",
    )
    assert rc == 0 and "trusted on first use" in out, out
    assert "trusted on first use (--accept-new)" in fresh.read_text()
    assert hostkeys.known_keys(fresh) == {
        f"[{lab.hosts['r3'].address}]:{lab.hosts['r3'].port}": {tuple(lab_key)}
    }


def test_keyscan_status_of_a_scanned_key(tmp_path: Path) -> None:
    a, b = _ed25519(), _ed25519()
    scan = hostkeys.ScannedKey("r1", "127.0.0.1", 2222, a.get_name(), a.get_base64())
    f = tmp_path / "known_hosts"
    f.write_text(
        "# a comment\n"
        f"[127.0.0.1]:2222,r1 {a.get_name()} {a.get_base64()} a trailing comment\n"
        f"127.0.0.2 {b.get_name()} {b.get_base64()}\n"
        "|1|hashed|name ssh-ed25519 AAAA\n"
    )
    known = hostkeys.known_keys(f)
    assert set(known) == {"[127.0.0.1]:2222", "r1", "127.0.0.2"}
    assert hostkeys.status(scan, known) == "known"
    other = hostkeys.ScannedKey("r2", "127.0.0.2", 22, a.get_name(), a.get_base64())
    assert hostkeys.status(other, known) == "changed"  # another key is on file for that address
    rsa = paramiko.RSAKey.generate(2048)
    extra_type = hostkeys.ScannedKey("r2", "127.0.0.2", 22, rsa.get_name(), rsa.get_base64())
    assert hostkeys.status(extra_type, known) == "changed"  # a new key type beside a trusted one: not "new"
    assert (
        hostkeys.status(hostkeys.ScannedKey("r3", "127.0.0.3", 22, a.get_name(), a.get_base64()), known)
        == "new"
    )
    assert (
        hostkeys.status(hostkeys.ScannedKey("r4", "127.0.0.4", 22, error="cannot connect"), known)
        == "unreachable"
    )
    # the fingerprint is OpenSSH's (ssh-keygen -lf): SHA256 of the key blob, base64 without padding
    assert scan.fingerprint == fingerprint(a.get_base64()) and not scan.fingerprint.endswith("=")


def test_fingerprint_is_what_ssh_keygen_prints(tmp_path: Path) -> None:
    tool = shutil.which("ssh-keygen")
    if tool is None:
        pytest.skip("ssh-keygen not installed")
    key = _ed25519()
    scan = hostkeys.ScannedKey("r1", "127.0.0.1", 2222, key.get_name(), key.get_base64())
    f = tmp_path / "known_hosts"
    f.write_text(scan.line() + "\n")
    out = subprocess.run([tool, "-l", "-f", str(f)], capture_output=True, text=True, check=True).stdout
    assert scan.fingerprint in out.split(), out
