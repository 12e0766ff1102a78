"""Set-up steps the lab PKI tests share: a running certificate server, a client trustpoint enrolled with it."""

from __future__ import annotations

import time

from tests.test_forecast_lab import Lab


def start_ca(
    lab: Lab, *lines: str, host: str = "ca1", name: str = "CA", archive: str = "lab-archive-pw"
) -> None:
    """`crypto pki server NAME` with `lines` under it, `ip http server` and NTP, then `no shutdown`.
    The archive password is set, so IOS asks no passphrase."""
    conn = lab.conn(host)
    conn.send_config_set(
        [
            "ntp server 127.0.0.1",
            "ip http server",
            f"crypto pki server {name}",
            f"database archive pkcs12 password 0 {archive}",
            *lines,
        ]
    )
    conn.config_mode()
    lab.ask(host, f"crypto pki server {name}", r"\(cs-server\)#")
    out = lab.ask(host, "no shutdown", r"\(cs-server\)#")
    assert "% Certificate Server enabled." in out, out
    conn.exit_config_mode()


def enroll_trustpoint(
    lab: Lab,
    host: str,
    trustpoint: str,
    *lines: str,
    ca_host: str = "ca1",
    prelude: tuple[str, ...] = ("ntp server 127.0.0.1",),
    seconds: float = 10.0,
) -> None:
    """Configure `trustpoint` (enrollment URL of `ca_host`, no serial number or IP address, then `lines`),
    authenticate the CA and wait until IOS's auto-enrollment has installed the identity certificate."""
    conn = lab.conn(host)
    conn.send_config_set(
        [
            *prelude,
            f"crypto pki trustpoint {trustpoint}",
            f"enrollment url http://{lab.h.hosts[ca_host].address}:80",
            "serial-number none",
            "ip-address none",
            *lines,
        ]
    )
    conn.config_mode()
    lab.ask(host, f"crypto pki authenticate {trustpoint}", r"\[yes/no\]: ")
    lab.ask(host, "yes", r"\(config\)#")
    conn.exit_config_mode()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if lab.cert(host, "Certificate") is not None:
            return
        time.sleep(0.1)
    raise AssertionError(
        f"{host} did not get its certificate: {lab.show(host, 'show crypto pki certificates')}"
    )
