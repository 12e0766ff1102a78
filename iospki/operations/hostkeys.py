"""SSH host keys of the inventory's routers: fetch them (`iospki inventory keyscan`), show their
fingerprints for the operator to compare, and keep them in an OpenSSH known_hosts file.

Fetching a key is the SSH key exchange only: the scan never authenticates, so no username,
password or enable secret leaves this machine while a key is still unconfirmed. A key that
differs from the one already in the file is never replaced (a changed key is what a
man-in-the-middle looks like); the operator removes the old line after checking why.

    >>> known_hosts_name("192.0.2.1", 22), known_hosts_name("127.0.0.1", 2222)
    ('192.0.2.1', '[127.0.0.1]:2222')
"""

from __future__ import annotations

import base64
import hashlib
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import paramiko

from iospki.state.store import atomic_write_text

DEFAULT_FILE = "known_hosts"  # in the inventory directory: read by load_nornir for non-lab hosts


@dataclass(frozen=True)
class ScannedKey:
    host: str
    address: str
    port: int
    key_type: str | None = None
    key_base64: str | None = None
    error: str | None = None  # why no key was read (unreachable, not SSH ...)

    @property
    def name(self) -> str:
        return known_hosts_name(self.address, self.port)

    @property
    def fingerprint(self) -> str:
        """OpenSSH's form, as `ssh-keygen -lf` and `ssh` print it: SHA256:<base64, no padding>."""
        if self.key_base64 is None:
            return "-"
        digest = hashlib.sha256(base64.b64decode(self.key_base64)).digest()
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")

    def line(self) -> str:
        return f"{self.name} {self.key_type} {self.key_base64}"


def known_hosts_name(address: str, port: int) -> str:
    """How OpenSSH (and paramiko) name a host in known_hosts: `[addr]:port` unless port 22."""
    return address if port == 22 else f"[{address}]:{port}"


def fetch_key(host: str, address: str, port: int, timeout: float = 10.0) -> ScannedKey:
    """The host key `address:port` offers, read in the SSH key exchange (no authentication)."""
    try:
        sock = socket.create_connection((address, port), timeout=timeout)
    except OSError as exc:
        return ScannedKey(host, address, port, error=f"cannot connect: {exc.strerror or exc}")
    transport = paramiko.Transport(sock)
    try:
        transport.start_client(timeout=timeout)
        key = transport.get_remote_server_key()
        return ScannedKey(host, address, port, key.get_name(), key.get_base64())
    except (paramiko.SSHException, OSError, EOFError) as exc:
        return ScannedKey(host, address, port, error=f"no SSH key exchange: {exc}")
    finally:
        transport.close()
        sock.close()


def known_keys(path: Path) -> dict[str, set[tuple[str, str]]]:
    """known_hosts name -> {(key type, base64)} of a plain (unhashed) known_hosts file."""
    out: dict[str, set[tuple[str, str]]] = {}
    if not path.is_file():
        return out
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        fields = raw.split()
        if len(fields) < 3 or fields[0].startswith(("#", "@", "|")):
            continue  # comments, markers (@revoked ...) and hashed names are left as they are
        for name in fields[0].split(","):
            out.setdefault(name, set()).add((fields[1], fields[2]))
    return out


def status(scan: ScannedKey, known: dict[str, set[tuple[str, str]]]) -> str:
    """'unreachable', 'known' (that exact key is in the file), 'changed' (the file holds other
    keys for this host: a new key type is treated as a change too, as OpenSSH's accept-new
    does, so no second key slips in beside a trusted one) or 'new'."""
    if scan.key_base64 is None:
        return "unreachable"
    have = known.get(scan.name, set())
    if (scan.key_type, scan.key_base64) in have:
        return "known"
    return "changed" if have else "new"


def record(path: Path, scans: Iterable[ScannedKey], accepted_unconfirmed: bool) -> None:
    """Append the keys' lines to `path` (created if need be), under a comment that says when and
    how they were trusted (the record an audit of trust-on-first-use needs)."""
    new = [s.line() for s in scans]
    if not new:
        return
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    if old and not old.endswith("\n"):
        old += "\n"
    how = (
        "trusted on first use (--accept-new): fingerprints NOT confirmed by an operator"
        if accepted_unconfirmed
        else "fingerprints confirmed by the operator"
    )
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    atomic_write_text(
        path, old + f"# iospki inventory keyscan {stamp}: {how}\n" + "".join(x + "\n" for x in new)
    )
