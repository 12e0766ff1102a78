"""Device outputs of the lab twin, produced in-process (the same CLI session code that runs
behind the lab's SSH server, without the socket): a certificate server on an emulated
CSR1000v and an ISR G1 client enrolled with it over the lab's SCEP. Used where a test needs
many lab outputs but no network exchange (the delete-each-line run)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from iospki.lab.device import Device
from iospki.lab.inventory import load_inventory
from iospki.lab.lab import Lab
from iospki.lab.shell import CliSession
from tests.lab_fixture import write_inventory

ARCHIVE = "lab-outputs-archive"  # throwaway, in-process lab only

CA_COMMANDS = (
    "show clock detail",
    "show ntp status",
    "show crypto pki certificates",
    "show crypto pki certificates verbose",
    "show crypto pki server",
    "show crypto pki server CA requests",
    "show crypto pki server CA certificates",
    "show crypto pki server CA crl",
    "show crypto pki crls",
    "show crypto pki timers detail",
    "show crypto pki trustpoints",
    "show crypto pki trustpoints status",
    "show crypto key mypubkey rsa",
    "show running-config",
)
CLIENT_COMMANDS = (
    "show clock",
    "show crypto pki certificates",
    "show crypto pki certificates verbose",
    "show crypto pki timers",
    "show crypto pki trustpoints",
    "show crypto pki trustpoints status",
    "show crypto key mypubkey rsa",
    "show running-config",
)


class _Sink:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, data: str) -> None:
        self.parts.append(data)


async def _session(dev: Device, lines: list[str]) -> str:
    out = _Sink()
    session = CliSession(dev, out, "outputs", "127.0.0.1", 15)
    session.feed("".join(x + "\n" for x in lines))
    session.eof()
    await asyncio.wait_for(session.run(), 60)
    return "".join(out.parts).replace("\r\n", "\n")


async def _show(dev: Device, command: str) -> str:
    """The output of one command, without the prompt lines and the echo."""
    text = await _session(dev, ["terminal length 0", command])
    echo = f"{dev.hostname}#{command}\n"
    body = text[text.index(echo) + len(echo) :]
    return body[: body.rindex(f"{dev.hostname}#")]


async def _produce(base: Path) -> dict[tuple[str, str], str]:
    write_inventory(base / "inv", [("ca1", "csr1k"), ("r1", "isr_g1")])
    specs = load_inventory(base / "inv")
    lab = Lab(specs, base / "state")
    lab.clock.start()
    lab.load_plugins()
    devs: dict[str, Device] = {}
    for spec in specs:
        devs[spec.name] = dev = Device(lab, spec)
        lab.devices[dev.name] = dev
        await dev.boot()
    ca, r1 = devs["ca1"], devs["r1"]
    try:
        await _session(
            ca,
            [
                "configure terminal",
                "clock calendar-valid",
                "ntp master",
                "ip http server",
                "crypto pki server CA",
                "grant auto",
                "database level complete",
                f"database archive pkcs12 password 0 {ARCHIVE}",
                "no shutdown",
                "end",
            ],
        )
        await _session(
            r1,
            [
                "configure terminal",
                "clock calendar-valid",
                "crypto pki trustpoint TP",
                f"enrollment url http://{ca.address}:80",
                "serial-number none",
                "ip-address none",
                "auto-enroll 70",
                "revocation-check none",
                "exit",
                "crypto pki authenticate TP",
                "yes",
                "end",
            ],
        )
        for _ in range(200):  # auto-enrollment runs on the lab clock: wait for the identity certificate
            if "\nCertificate\n" in "\n" + await _show(r1, "show crypto pki certificates"):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the lab client did not get its certificate")
        out = {("ca1", cmd): await _show(ca, cmd) for cmd in CA_COMMANDS}
        out.update({("r1", cmd): await _show(r1, cmd) for cmd in CLIENT_COMMANDS})
        return out
    finally:
        await lab.stop()


def lab_outputs() -> dict[tuple[str, str], str]:
    """(host, command) -> output text, from a fresh in-process lab (about one second)."""
    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(_produce(Path(tmp)))
