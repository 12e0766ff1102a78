"""The lab's control channel answers only its owner (issue 12 §8): a request without the token of the 0600 state
file, with a wrong token, or with a Host header that is not a loopback address (a web page reaching it by DNS
rebinding) is refused and changes nothing; the state file and the routers' key storage are 0600."""

from __future__ import annotations

import http.client
import json
import stat
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from iospki.lab.control import loopback_host
from tests.lab_fixture import LabHandle
from tests.lab_pki_support import start_ca
from tests.test_forecast_lab import Lab

pytestmark = pytest.mark.lab


def _post(handle: LabHandle, path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, str]:
    """A raw POST with exactly these headers (no Host header of http.client's own)."""
    url = urlsplit(handle._state()["control"])
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
    try:
        conn.putrequest("POST", path, skip_host=True, skip_accept_encoding=True)
        data = json.dumps(body).encode()
        for k, v in {"Content-Type": "application/json", "Content-Length": str(len(data)), **headers}.items():
            conn.putheader(k, v)
        conn.endheaders(data)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_loopback_host_names() -> None:
    for ok in ("127.0.0.1", "127.0.0.1:8080", "127.9.3.1:1", "localhost:80", "[::1]:80", "::1"):
        assert loopback_host(ok), ok
    for bad in (None, "", "evil.example:8080", "192.0.2.1:80", "127.0.0.1.nip.io", "[2001:db8::1]:80", "0.0.0.0"):
        assert not loopback_host(bad), bad


def test_control_refuses_without_token_or_with_a_foreign_host(make_lab: Any) -> None:
    handle = make_lab(hosts=[("ca1", "csr1k")], start="2027-01-01T00:00:00Z", rate=0.0)
    state = handle._state()
    token = state["token"]
    assert len(token) >= 32
    assert _mode(handle.state_dir / "lab.json") == 0o600
    url = urlsplit(state["control"])
    host = f"{url.hostname}:{url.port}"
    before = handle.clock_now()
    advance = {"action": "advance", "by": "10d"}
    fault = {"host": "ca1", "kind": "ssh-down", "on": True}
    for body, path in ((advance, "/clock"), (fault, "/fault"), ({}, "/stop")):
        status, text = _post(handle, path, body, {"Host": host})
        assert status == 401 and "token" in text, (path, status, text)
        status, text = _post(handle, path, body, {"Host": host, "Authorization": "Bearer not-the-token"})
        assert status == 401, (path, status, text)
        # the right token through a page on another origin: the Host header gives it away
        status, text = _post(handle, path, body, {"Host": "attacker.example", "Authorization": f"Bearer {token}"})
        assert status == 403 and "Host" in text, (path, status, text)
    assert handle.clock_now() == before  # nothing was changed, and the lab still runs
    assert handle.status()["pid"] == handle.pid
    assert handle.status()["hosts"][0]["faults"] == []  # the refused fault was not injected
    # the owner (token from the state file, loopback Host) is served
    status, text = _post(handle, "/clock", advance, {"Host": host, "Authorization": f"Bearer {token}"})
    assert status == 200, text
    assert handle.clock_now() != before
    assert token not in (handle.state_dir / "lab.log").read_text(errors="replace")


def test_ca_key_storage_is_private(make_lab: Any) -> None:
    handle = make_lab(hosts=[("ca1", "csr1k")], start="2027-01-01T00:00:00Z", rate=0.0)
    lab = Lab(handle)
    try:
        start_ca(lab, "grant auto")
    finally:
        lab.close()
    nvram = handle.state_dir / "devices" / "ca1" / "nvram"
    private = nvram / "private-config"
    assert private.is_file() and b"BEGIN PRIVATE KEY" in private.read_bytes()  # the CA's RSA key pair lives here
    files = [p for p in nvram.iterdir() if p.is_file()]
    assert any(p.suffix in (".p12", ".pem") for p in files), files  # the CA's key archive
    assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
