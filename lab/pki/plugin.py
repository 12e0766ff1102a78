"""Wiring of the PKI engine into the lab core (see lab/PLUGIN.md): commands, sub-modes, timers on the lab
clock, the SCEP server on the router's HTTP listener, persistence in the router's storage.

Device state = the running config (`crypto pki server|trustpoint` blocks, `crypto pki certificate chain`
blocks with the certificates, as IOS keeps them) + `nvram:private-config` (keys, CA database, timer state).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from iospki.lab.config import ConfigNode
from iospki.lab.context import ConfigChange, ConfigContext, ExecContext
from iospki.lab.engine import error_text
from iospki.lab.registry import Match, Outcome
from iospki.lab.scep import ScepServer
from iospki.lab.storage import StorageError, split_path

from . import render, trustpool
from .ca import CertificateServer, CsConfig, CsError
from .clock import utc
from .counters import PkiCounters
from .keys import Keyring
from .scep_glue import CsBackend, HttpScep
from .timers import NON_AUTH_IOS, NON_AUTH_XE, PkiTimers
from .trustpoint import DeviceCtx, TpConfig, TpError, Trustpoint, fingerprint_md5, fingerprint_sha1
from .type7 import decode as t7decode
from .type7 import encode as t7encode

if TYPE_CHECKING:
    from iospki.lab.device import Device
    from iospki.lab.lab import Lab

log = logging.getLogger("iospki.lab.pki")
STATE_FILE = "private-config"
KEY = "pki"


# ---------------------------------------------------------------------------- adapters
class DeviceScheduler:
    def __init__(self, device: Device) -> None:
        self.device = device

    def now(self) -> datetime:
        return self.device.now()

    def schedule(self, at: datetime, callback: Any, name: str) -> Any:
        return self.device.schedule(at, callback, name)

    def cancel(self, handle: Any) -> None:
        self.device.cancel(handle)

    def authoritative(self) -> bool:
        return self.device.authoritative


class DeviceStorage:
    """`nvram:CA.ser` style paths onto the device's flat file systems."""

    def __init__(self, device: Device) -> None:
        self.device = device

    def _split(self, path: str) -> tuple[str, str]:
        fs, name = split_path(path, "nvram")
        return fs, name.replace("/", "_")

    def read(self, path: str) -> bytes | None:
        fs, name = self._split(path)
        return self.device.storage.read(fs, name) if self.device.storage.exists(fs, name) else None

    def write(self, path: str, data: bytes) -> None:
        fs, name = self._split(path)
        try:
            self.device.storage.write(fs, name, data)
        except StorageError as exc:
            self.device.syslog(f"%PKI-3-CS_DB_WRITE: Could not write {path}: {exc}")

    def delete(self, path: str) -> None:
        fs, name = self._split(path)
        with contextlib.suppress(StorageError):
            self.device.storage.delete(fs, name)


class PkiDevice:
    """All PKI state of one router (kept in `device.state["pki"]`, rebuilt at every boot)."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.family = device.family
        self.timers = PkiTimers(DeviceScheduler(device), device.syslog, self.family)
        self.counters = PkiCounters()  # since this boot, as IOS's (the engine is rebuilt at every boot)
        self.keyring = Keyring()
        self.trustpoints: dict[str, Trustpoint] = {}
        self.servers: dict[str, CertificateServer] = {}
        self.scep_servers: dict[str, ScepServer] = {}
        self.scep = HttpScep(device.address)
        self.storage = DeviceStorage(device)
        self.snapshot: dict[str, Any] = {}
        self.loading = True
        raw = self.storage.read(f"nvram:{STATE_FILE}")
        if raw:
            try:
                self.snapshot = json.loads(raw.decode())
                self.keyring = Keyring.from_bytes(json.dumps(self.snapshot.get("keys", [])).encode())
            except (ValueError, KeyError) as exc:
                device.syslog(f"%PKI-3-PRIVATE_CONFIG: private-config unreadable ({type(exc).__name__})")
        device.set_http_handler(self.http)
        self.ctx = DeviceCtx(
            self.keyring,
            self.timers,
            self.scep,
            device.syslog,
            self.fqdn,
            lambda: device.serial,
            self.family,
            2048,
            self.changed,
            self.counters,
        )

    def fqdn(self) -> str:
        dom = self.device.domain_name
        return f"{self.device.hostname}.{dom}" if dom else self.device.hostname

    # -- persistence ---------------------------------------------------------------------------------
    def changed(self) -> None:
        if self.loading:
            return
        write_chains(self)
        self.save()

    def save(self) -> None:
        data = {
            "keys": json.loads(self.keyring.to_bytes().decode()),
            "servers": {n: cs.snapshot() for n, cs in self.servers.items()},
            "trustpoints": {n: tp.snapshot() for n, tp in self.trustpoints.items()},
        }
        self.storage.write(f"nvram:{STATE_FILE}", json.dumps(data).encode())

    # -- HTTP (SCEP) -----------------------------------------------------------------------------------
    async def http(
        self, method: str, path: str, query: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        for name, cs in self.servers.items():
            if cs.ca_cert is None:
                continue
            server = self.scep_servers.get(name)
            if server is None:
                server = self.scep_servers[name] = ScepServer(CsBackend(cs))
            if not ScepServer.is_scep_path(path):
                break
            resp = await server.handle(method, path, query, body)
            return resp.status, {"Content-Type": resp.content_type}, resp.body
        return 404, {"Content-Type": "text/plain"}, b"Not Found\n"

    # -- objects -----------------------------------------------------------------------------------------
    def make_server(self, name: str, cfg: CsConfig) -> CertificateServer:
        cs = CertificateServer(
            cfg, self.keyring, self.storage, self.timers, self.device.syslog, lambda: self.device.http_enabled
        )
        cs.on_change = self.changed
        cs.counters = self.counters
        self.servers[name] = cs
        return cs

    def make_trustpoint(self, name: str, cfg: TpConfig) -> Trustpoint:
        tp = Trustpoint(cfg, self.ctx)
        self.trustpoints[name] = tp
        return tp

    def view(self) -> render.View:
        return render.View(
            self.family,
            # not cut to the second: a countdown carries the milliseconds of the running clock, as on IOS
            self.device.now().astimezone(timezone.utc),
            self.keyring,
            self.timers,
            list(self.trustpoints.values()),
            list(self.servers.values()),
            utc(self.device.boot_time),
        )


def pki(device: Device) -> PkiDevice:
    pd = device.state.get(KEY)
    if not isinstance(pd, PkiDevice):
        pd = PkiDevice(device)
        device.state[KEY] = pd
    return pd


# ---------------------------------------------------------------------------- config <-> state
def _secret_args(line: str) -> str:
    """`password 7 XXXX` in the running config -> clear text for the engine."""
    words = line.split()
    for i, w in enumerate(words[:-1]):
        if w == "password" and words[i + 1] == "7" and i + 2 < len(words):
            try:
                return " ".join(words[: i + 1] + ["0", t7decode(words[i + 2])] + words[i + 3 :])
            except ValueError:
                return line
    return line


def cs_config(node: ConfigNode) -> CsConfig:
    cfg = CsConfig(node.words[3])
    for child in node.children:
        try:
            cfg.apply(_secret_args(child.line))
        except CsError:
            continue
    cfg.shutdown = node.find("shutdown") is not None
    return cfg


def tp_config(node: ConfigNode) -> TpConfig:
    cfg = TpConfig(node.words[3])
    for child in node.children:
        try:
            cfg.apply(_secret_args(child.line))
        except (TpError, ValueError):
            continue
    return cfg


def sync(pd: PkiDevice, partial: bool = False) -> None:
    """Bring engine objects in line with the running config (config is the single source of state).

    `partial` (the block handlers, which run in the middle of a config file too): only create the objects of
    new blocks. While `configure replace` or a copy to running-config is half-way, blocks further down the
    file are not there yet and the ones being applied are incomplete: deleting or re-reading objects then
    would zeroize a running CA (keys, CA certificate, database) or drop a trustpoint's timers. The full sync
    comes from the config-change hook, after every interactive line and once at the end of a file."""
    root = pd.device.running
    seen_cs: set[str] = set()
    for node in root.find_all("crypto pki server"):
        if len(node.words) < 4:
            continue
        cfg = cs_config(node)
        seen_cs.add(cfg.name)
        cs = pd.servers.get(cfg.name)
        if cs is None:
            cs = pd.make_server(cfg.name, cfg)
        elif not partial:
            cfg.shutdown = cfg.shutdown or not cs.enabled
            changed_rollover = cfg.auto_rollover != cs.cfg.auto_rollover
            cs.cfg = cfg
            if changed_rollover and cs.enabled and not pd.loading:
                cs.rearm()  # `auto-rollover` changed on a running server: re-arm CS SHADOW CERT GENERATION
    for name in [n for n in pd.servers if n not in seen_cs and not partial]:
        pd.servers.pop(name).delete()
        pd.scep_servers.pop(name, None)
    seen_tp: set[str] = set()
    for node in root.find_all("crypto pki trustpoint"):
        if len(node.words) < 4 or node.words[3] in pd.servers:
            continue  # a server's own trustpoint is the server's
        tcfg = tp_config(node)
        seen_tp.add(tcfg.name)
        tp = pd.trustpoints.get(tcfg.name)
        if tp is None:
            tp = pd.make_trustpoint(tcfg.name, tcfg)
            if not partial and not pd.loading:
                _adopt_chain(pd, tp, tcfg.name)
        elif not partial:
            tp.cfg = tcfg
            if not pd.loading:
                _adopt_chain(pd, tp, tcfg.name)
            tp.config_changed()
    for name in [n for n in pd.trustpoints if n not in seen_tp and not partial]:
        pd.trustpoints.pop(name).zeroize()


def _adopt_chain(pd: PkiDevice, tp: Any, name: str) -> None:
    """A trustpoint without certificates whose `crypto pki certificate chain` came in with the config (a copy
    to running-config, `configure replace`, its revert): IOS installs the certificates the chain holds, as at
    boot. Without this the next write_chains would drop the chain from the running config."""
    if tp.cert is not None or tp.ca is not None:
        return
    chain = dict(_chain_from_config(pd, name))
    if not chain:
        return
    tp.ca, tp.ca_rollover, tp.cert_rollover = chain.get("ca"), chain.get("ca rollover"), chain.get("rollover")
    tp.cert = chain.get("")
    tp.installed_at = tp.cert.not_valid_before_utc if tp.cert is not None else None
    tp.renew_at = None
    tp.resume()
    tp.config_changed()  # RENEW from the certificate's start, as at boot


def _chain_node(pd: PkiDevice, name: str, certs: list[tuple[str, Any]]) -> None:
    root = pd.device.running
    old = root.find(f"crypto pki certificate chain {name}")
    if not certs:
        if old is not None:
            root.remove(f"crypto pki certificate chain {name}")
        return
    lines = render.chain_block(name, certs)
    node = old or root.set_line(lines[0], block=True)
    node.block = True
    node.children = []
    current: ConfigNode | None = None
    for line in lines[1:]:
        if line.startswith(" certificate "):
            current = ConfigNode(line.strip(), [], True)
            node.children.append(current)
        elif current is not None:
            current.children.append(ConfigNode(line[2:] if line.startswith("  ") else line.strip()))


def write_chains(pd: PkiDevice) -> None:
    for name, tp in pd.trustpoints.items():
        _chain_node(pd, name, render.chain_certs(tp))
    for name, cs in pd.servers.items():
        certs: list[tuple[str, Any]] = []
        if cs.ca_cert is not None:
            certs.append(("ca", cs.ca_cert))
        if cs.rollover_cert is not None:
            certs.append(("ca rollover", cs.rollover_cert))
        _chain_node(pd, name, certs)


def _chain_from_config(pd: PkiDevice, name: str) -> list[tuple[str, Any]]:
    node = pd.device.running.find(f"crypto pki certificate chain {name}")
    if node is None:
        return []
    return render.parse_chain([n.line for _d, n in node.walk()])


def boot(pd: PkiDevice) -> None:
    """After the startup config is applied: restore certificates and timers."""
    sync(pd)
    snap = pd.snapshot
    for name, cs in pd.servers.items():
        data = snap.get("servers", {}).get(name)
        if data:
            cs.restore(data)
            cs.resume()
    for name, tp in pd.trustpoints.items():
        chain = dict(_chain_from_config(pd, name))
        data = snap.get("trustpoints", {}).get(name)
        if data:
            tp.restore(data)
        # the running config is the source of truth for certificates; the snapshot adds timer state
        cfg_cert, cfg_ca = chain.get(""), chain.get("ca")
        if cfg_cert != tp.cert:
            tp.cert = cfg_cert
            tp.installed_at = cfg_cert.not_valid_before_utc if cfg_cert is not None else None
            tp.renew_at = None
        if cfg_ca != tp.ca:
            tp.ca, tp.ca_rollover, tp.cert_rollover = cfg_ca, chain.get("ca rollover"), chain.get("rollover")
        tp.resume()
        if tp.cert is not None and tp.renew_at is None:
            tp.config_changed()
    pd.loading = False
    if pd.servers or pd.trustpoints or pd.keyring.keys or pd.snapshot:
        write_chains(pd)
        pd.save()
    if (pd.servers or pd.trustpoints) and not pd.device.authoritative:
        pd.device.syslog(NON_AUTH_IOS if pd.family == "ios" else NON_AUTH_XE)


# ---------------------------------------------------------------------------- config-mode handlers
_TP_KEYS = {
    "enrollment url": 2,
    "enrollment retry count": 3,
    "enrollment retry period": 3,
    "enrollment mode": 2,
}
_CS_KEYS = {"database level": 2, "database url": 2, "database archive": 2, "lifetime": 2}


def _key_for(line: str, table: dict[str, int]) -> int:
    for prefix, k in table.items():
        if line.startswith(prefix):
            return k
    return 1


def _obfuscate(line: str) -> str:
    words = line.split()
    if "password" in words:
        i = words.index("password")
        rest = words[i + 1 :]
        if rest and rest[0] == "7":
            return line
        if rest and rest[0] == "0":
            rest = rest[1:]
        if rest:
            return " ".join(words[: i + 1] + ["7", t7encode(" ".join(rest))])
    return line


def _block_name(ctx: ConfigContext) -> str:
    return ctx.node.words[3]


def tp_line(ctx: ConfigContext, m: Match) -> None:
    line = m.line
    probe = tp_config(ctx.node)
    try:
        probe.apply(("no " if m.negated else "") + line)
    except (TpError, ValueError) as exc:
        ctx.reject(str(exc))
    key = _key_for(line, _TP_KEYS)
    if m.negated:
        if ctx.node.remove(line) == 0:
            ctx.node.remove(" ".join(line.split()[:key]))
        return
    ctx.set_line(_obfuscate(line), key)


def cs_line(ctx: ConfigContext, m: Match) -> str | None:
    line = m.line
    pd = pki(ctx.device)
    probe = cs_config(ctx.node)
    try:
        msg = probe.apply(_secret_args(("no " if m.negated else "") + line))
    except CsError as exc:
        ctx.reject(str(exc))
        return None
    key = _key_for(line, _CS_KEYS)
    if m.negated:
        if ctx.node.remove(line) == 0:
            ctx.node.remove(" ".join(line.split()[:key]))
        if line.startswith("database archive"):
            ctx.node.set_line("no database archive", 2)
    else:
        ctx.node.remove("no " + " ".join(line.split()[:key]))
        ctx.set_line(_obfuscate(line), key)
    if msg and not pd.loading:
        ctx.device.syslog(msg)
    return None


async def cs_shutdown(ctx: ConfigContext, m: Match) -> str | None:
    pd = pki(ctx.device)
    name = _block_name(ctx)
    sync(pd, partial=True)
    cs = pd.servers[name]
    # this block's settings as they stand (a file may set them just above), its shut state kept
    cfg = cs_config(ctx.node)
    cfg.shutdown = cs.cfg.shutdown
    cs.cfg = cfg
    xe = pd.family != "ios"
    if not m.negated:
        ctx.node.set_line("shutdown")
        if cs.enabled:
            cs.shutdown()
            return "Certificate server 'shut' event has been queued for processing." if xe else None
        return None
    if pd.loading:
        return None
    if cs.ca_cert is not None:
        ctx.node.remove("shutdown")
        cs.cfg.shutdown = False
        out = cs.no_shutdown()
        return "Certificate server 'no shut' event has been queued for processing." if xe else "\n".join(out)
    ctx.writeln("%Some server settings cannot be changed after CA certificate generation.")
    passphrase: str | None = None
    if cs.needs_passphrase():
        p1 = await ctx.ask(
            "% Please enter a passphrase to protect the private key\n% or type Return to exit\nPassword: ",
            hide=True,
        )
        if not p1:
            return None
        ctx.writeln("")
        p2 = await ctx.ask("Re-enter password: ", hide=True)
        ctx.writeln("")
        if p1 != p2:
            return "% Passwords do not match."
        passphrase = p1
    ctx.node.remove("shutdown")
    cs.cfg.shutdown = False
    out = cs.no_shutdown(passphrase)
    out = [line for line in out if not line.startswith("%Some server settings")]
    # the server's own trustpoint, as IOS creates it
    root = ctx.device.running
    tpnode = root.set_line(f"crypto pki trustpoint {name}", block=True)
    tpnode.set_line("revocation-check crl", 1)
    tpnode.set_line(f"rsakeypair {name}", 1)
    pd.changed()
    return "\n".join(out)


async def cfg_trustpoint(ctx: ConfigContext, m: Match) -> str | None:
    pd = pki(ctx.device)
    name = m.arg("name") or ""
    line = f"crypto pki trustpoint {name}"
    if not m.negated:
        # new to the device, not only to the running config (`configure replace` re-applies existing ones)
        exists = name in pd.trustpoints or name in pd.servers or ctx.device.running.find(line) is not None
        ctx.enter("ca-trustpoint", line, key=4)
        if not exists and pd.family != "ios" and not pd.loading:
            ctx.device.syslog(f"%PKI-6-TRUSTPOINT_CREATE: Trustpoint: {name} created succesfully")
        sync(pd, partial=True)
        return None
    if ctx.device.running.find(line) is None:
        return None
    tp = pd.trustpoints.get(name)
    if tp is not None and (tp.cert is not None or tp.ca is not None):
        ans = await ctx.ask(
            "% Removing an enrolled trustpoint will destroy all certificates\n"
            " received from the related Certificate Authority.\n\nAre you sure you want to do this? [yes/no]: ",
            default="no",
        )
        if not ans.lower().startswith("y"):
            return None
        ctx.writeln("% Be sure to ask the CA administrator to revoke your certificates.")
    ctx.device.running.remove(line)
    ctx.device.running.remove(f"crypto pki certificate chain {name}")
    sync(pd)
    pd.changed()
    return None


async def cfg_server(ctx: ConfigContext, m: Match) -> str | None:
    pd = pki(ctx.device)
    name = m.arg("name") or ""
    line = f"crypto pki server {name}"
    if not m.negated:
        ctx.enter("cs-server", line, key=4)
        sync(pd, partial=True)
        return None
    if ctx.device.running.find(line) is None:
        return f"% Certificate server '{name}' is not known"
    ans = await ctx.ask(
        "CA certificate, Keypair, CRL and database files will be deleted. Do you wish to continue? [yes/no]: ",
        default="no",
    )
    if not ans.lower().startswith("y"):
        return None
    for prefix in (line, f"crypto pki trustpoint {name}", f"crypto pki certificate chain {name}"):
        ctx.device.running.remove(prefix)
    sync(pd)
    pd.changed()
    return None


def _named_trustpoint(ctx: ConfigContext, m: Match) -> tuple[PkiDevice, Trustpoint] | str:
    """The engine state (synced with the running config) and the trustpoint the command names, or the IOS error."""
    pd = pki(ctx.device)
    sync(pd, partial=True)
    name = m.arg("name") or ""
    tp = pd.trustpoints.get(name)
    if tp is None:
        return f"% Could not find trustpoint {name}"
    return pd, tp


async def cfg_authenticate(ctx: ConfigContext, m: Match) -> str | None:
    found = _named_trustpoint(ctx, m)
    if isinstance(found, str):
        return found
    tp = found[1]
    try:
        ca = await tp.fetch_ca()
    except TpError as exc:
        return str(exc)
    ctx.writeln("Certificate has the following attributes:")
    ctx.writeln(f"       Fingerprint MD5: {fingerprint_md5(ca)} ")
    ctx.writeln(f"      Fingerprint SHA1: {fingerprint_sha1(ca)} ")
    ctx.writeln("")
    ans = await ctx.ask("% Do you accept this certificate? [yes/no]: ", default="no")
    if not ans.strip().lower().startswith("y"):
        return "% Certificate not accepted."
    ctx.writeln("Trustpoint CA certificate accepted.")
    await tp.accept_ca(ca)
    return None


def _valid_ip(device: Device, text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    node = device.running.find(f"interface {text}")
    if node is not None:
        addr = node.value("ip address")
        if addr:
            return addr.split()[0]
    return None


async def cfg_enroll(ctx: ConfigContext, m: Match) -> str | None:
    found = _named_trustpoint(ctx, m)
    if isinstance(found, str):
        return found
    pd, tp = found
    name = tp.name
    if tp.ca is None:
        return "% You must authenticate the Certificate Authority before you can enroll with it."
    if tp.cert is not None:
        ctx.writeln(f"Trustpoint {name} has already enrolled and has a router cert issued to it.")
        ctx.writeln(
            "If you successfully re-enroll this trustpoint,the existing certificate will be replaced."
        )
        ctx.writeln("")
        ans = await ctx.ask("Do you want to continue with re-enrollment? [yes/no]: ", default="no")
        if not ans.strip().lower().startswith("y"):
            return None
    xe = pd.family != "ios"
    ctx.writeln("%")
    ctx.writeln("% Start certificate enrollment .. ")
    challenge = tp.cfg.password
    if challenge is None:
        ctx.writeln("% Create a challenge password. You will need to verbally provide this")
        ctx.writeln("   password to the CA Administrator in order to revoke your certificate.")
        ctx.writeln("   For security reasons your password will not be saved in the configuration.")
        ctx.writeln("   Please make a note of it.")
        ctx.writeln("")
        p1 = await ctx.ask("Password: ", hide=True)
        ctx.writeln("")
        if xe:
            ctx.device.syslog(f"%PKI-6-CERT_ENROLL_MANUAL: Manual enrollment for trustpoint {name}")
        p2 = await ctx.ask("Re-enter password: ", hide=True)
        ctx.writeln("")
        if p1 != p2:
            return "% Passwords do not match."
        challenge = p1 or None
    elif xe:
        ctx.device.syslog(f"%PKI-6-CERT_ENROLL_MANUAL: Manual enrollment for trustpoint {name}")
    ctx.writeln("")
    if tp.cfg.subject_name:
        ctx.writeln(f"% The subject name in the certificate will include: {tp.cfg.subject_name}")
    if tp.cfg.fqdn != "none":
        ctx.writeln(f"% The subject name in the certificate will include: {tp.cfg.fqdn or pd.fqdn()}")
    include_serial = bool(tp.cfg.serial_number)
    if tp.cfg.serial_number is None:
        ans = await ctx.ask(
            "% Include the router serial number in the subject name? [yes/no]: ", default="no"
        )
        include_serial = ans.strip().lower().startswith("y")
    if include_serial:
        ctx.writeln(f"% The serial number in the certificate will be: {ctx.device.serial}")
    ip: str | None = None
    if tp.cfg.ip_address is None:
        ans = await ctx.ask("% Include an IP address in the subject name? [no]: ", default="no")
        if ans.strip().lower().startswith("y"):
            for _ in range(3):
                text = await ctx.ask("Enter Interface name or IP Address[]: ")
                ip = _valid_ip(ctx.device, text.strip())
                if ip:
                    break
                ctx.writeln("% Bad interface or address. Try again.")
    elif tp.cfg.ip_address != "none":
        ip = _valid_ip(ctx.device, tp.cfg.ip_address) or tp.cfg.ip_address
        ctx.writeln(f"% The IP address in the certificate is {ip}")
        ctx.writeln("")
    ans = await ctx.ask("Request certificate from CA? [yes/no]: ", default="no")
    if not ans.strip().lower().startswith("y"):
        return None
    ctx.writeln("% Certificate request sent to Certificate Authority")
    ctx.writeln(f"% The 'show crypto pki certificate verbose {name}' commandwill show the fingerprint.")
    ctx.writeln("")
    try:
        await tp.enroll(challenge, include_serial, ip)
    except TpError as exc:
        return str(exc)
    return None


def _default_label(pd: PkiDevice) -> str | None:
    return pd.fqdn() if pd.device.domain_name else None


async def cfg_keygen(ctx: ConfigContext, m: Match) -> str | None:
    pd = pki(ctx.device)
    words = m.rest
    label = (
        words[words.index("label") + 1]
        if "label" in words and words.index("label") + 1 < len(words)
        else None
    )
    modulus = (
        words[words.index("modulus") + 1]
        if "modulus" in words and words.index("modulus") + 1 < len(words)
        else None
    )
    exportable = "exportable" in words
    if label is None:
        label = _default_label(pd)
        if label is None:
            return "% Please define a domain-name first."
    ctx.writeln(f"The name for the keys will be: {label}")
    if pd.keyring.get(label) is not None:
        ctx.writeln(f"% You already have RSA keys defined named {label}.")
        ans = await ctx.ask("% Do you really want to replace them? [yes/no]: ", default="no")
        if not ans.strip().lower().startswith("y"):
            return None
    lo, default = (360, 512) if pd.family == "ios" else (512, 2048)
    if modulus is None:
        ctx.writeln(f"Choose the size of the key modulus in the range of {lo} to 4096 for your")
        ctx.writeln(f"  General Purpose Keys. Choosing a key modulus greater than {lo} may take")
        ctx.writeln("  a few minutes.")
        ctx.writeln("")
        ans = await ctx.ask(f"How many bits in the modulus [{default}]: ", default=str(default))
        modulus = ans.strip() or str(default)
    else:
        ctx.writeln(f"% The key modulus size is {modulus} bits")
    if not modulus.isdigit() or not max(lo, 512) <= int(modulus) <= 4096:
        return f"% Key modulus size must be between {lo} and 4096"
    ctx.writeln(
        f"% Generating {modulus} bit RSA keys, keys will be {'' if exportable else 'non-'}exportable..."
    )
    t0 = time.monotonic()
    pd.keyring.generate(label, int(modulus), utc(ctx.device.now()), exportable)
    ctx.writeln(f"[OK] (elapsed time was {int(time.monotonic() - t0)} seconds)")
    if pd.family != "ios":
        ctx.device.syslog(
            f"%CRYPTO_ENGINE-5-KEY_ADDITION: A key named {label} has been generated or imported by crypto-engine"
        )
    pd.save()
    return None


async def cfg_zeroize(ctx: ConfigContext, m: Match) -> str | None:
    pd = pki(ctx.device)
    label = m.rest[0] if m.rest else None
    if label is not None and pd.keyring.get(label) is None:
        return f"% No RSA keys named {label}."
    ctx.writeln(f"% Keys to be removed are named '{label}'." if label else "% All keys will be removed.")
    ctx.writeln("% All router certs issued using these keys will also be removed.")
    ans = await ctx.ask("Do you really want to remove these keys? [yes/no]: ", default="no")
    if not ans.strip().lower().startswith("y"):
        return None
    labels = [label] if label else list(pd.keyring.keys)
    for lab in labels:
        pd.keyring.delete(lab)
        for tp in pd.trustpoints.values():
            if tp.key_label == lab:
                tp.cert = tp.cert_rollover = None
                tp.cancel_renew()
    if pd.family != "ios":
        for lab in labels:
            ctx.device.syslog(
                f"%CRYPTO_ENGINE-5-KEY_DELETED: A key named {lab} has been removed from key storage"
            )
    pd.changed()
    return None


def cs_show(ctx: ConfigContext, m: Match) -> str:
    """`show` inside (cs-server): the effective settings, defaults included."""
    return "\n".join(cs_config(ctx.node).show_lines())


# ---------------------------------------------------------------------------- exec handlers
def show_certs(ctx: ExecContext, m: Match) -> str:
    return render.certificates(pki(ctx.device).view(), m.has("verbose"), m.arg("tp"))


def show_timers(ctx: ExecContext, m: Match) -> str:
    return render.timers(pki(ctx.device).view())


def show_trustpoints(ctx: ExecContext, m: Match) -> str:
    return render.trustpoints(pki(ctx.device).view(), m.has("status"), m.arg("tp"))


def show_mypubkey(ctx: ExecContext, m: Match) -> str:
    return render.mypubkey(pki(ctx.device).view(), m.arg("label"))


def show_server(ctx: ExecContext, m: Match) -> str:
    pd = pki(ctx.device)
    name = m.arg("name")
    if name and name not in pd.servers:
        return f"% Certificate server '{name}' is not known"
    if m.has("requests") and name:
        return render.server_requests(pd.servers[name])
    if m.has("certificates") and name:
        return render.server_certificates(pd.servers[name])
    if m.has("crl") and name:
        return render.server_crl(pd.servers[name])
    return render.server(pd.view(), name)


def show_counters(ctx: ExecContext, m: Match) -> str:
    return pki(ctx.device).counters.show()


def clear_counters(ctx: ExecContext, m: Match) -> None:
    pki(ctx.device).counters.clear()


def show_trustpool(ctx: ExecContext, m: Match) -> str:
    if pki(ctx.device).family == "ios":
        # the behaviour doc (§5) has trustpool evidence for IOS-XE only: classic IOS refuses the keyword
        offset = len(ctx.session.prompt) if ctx.session is not None else 0
        return error_text(Outcome("invalid", position=3), " ".join(m.words), offset).rstrip("\n")
    return trustpool.show(trustpool.built_in())


def show_crls(ctx: ExecContext, m: Match) -> str:
    return render.crls(pki(ctx.device).view())


async def exec_crl_request(ctx: ExecContext, m: Match) -> str | None:
    pd = pki(ctx.device)
    name = m.arg("tp") or ""
    tp = pd.trustpoints.get(name)
    if tp is None:
        return f"% Could not find trustpoint {name}"
    try:
        await tp.fetch_crl()
    except TpError as exc:
        return str(exc)
    return None


def exec_server(ctx: ExecContext, m: Match) -> str | None:
    pd = pki(ctx.device)
    name = m.arg("name") or ""
    cs = pd.servers.get(name)
    if cs is None or cs.ca_cert is None:
        return f"% Certificate server '{name}' is not known"
    if m.has("grant"):
        out = cs.cmd_grant(m.arg("id") or "all")
    elif m.has("reject"):
        out = cs.cmd_reject(m.arg("id") or "all")
    elif m.has("remove"):
        out = cs.cmd_remove(m.arg("id") or "all")
    elif m.has("revoke"):
        out = cs.cmd_revoke(m.arg("serial") or "")
    elif m.has("generate"):
        # the one-time password goes to this console only: nothing is saved, nothing is logged
        return "\n".join(cs.cmd_password_generate(m.arg("minutes")))
    elif m.has("cancel"):
        out = cs.cmd_rollover_cancel()
    elif m.has("rollover"):
        out = cs.cmd_rollover()
    else:
        out = []
    pd.save()
    return "\n".join(out) if out else None


# ---------------------------------------------------------------------------- hooks
def on_start(device: Device) -> None:
    device.state.pop(KEY, None)
    boot(pki(device))


_PKI_MODES = ("ca-trustpoint", "cs-server", "config-cert-chain", "config-pubkey")


def on_change(device: Device, change: ConfigChange) -> None:
    # only PKI lines (or a whole file) can change PKI state: other config lines cost nothing here
    relevant = (
        change.kind != "line"
        or change.mode in _PKI_MODES
        or change.line.startswith(("crypto", "ip http", "hostname", "ip domain"))
    )
    if not relevant:
        return
    pd = pki(device)
    if pd.loading:
        return
    sync(pd)
    if change.kind == "bulk":
        write_chains(pd)
    if pd.servers or pd.trustpoints or pd.keyring.keys or pd.storage.read(f"nvram:{STATE_FILE}") is not None:
        pd.save()


async def on_authoritative(device: Device) -> None:
    pd = pki(device)
    if pd.trustpoints or pd.servers:
        device.syslog("%PKI-6-AUTHORITATIVE_CLOCK: The system clock has been set.")
    await pd.timers.clock_became_authoritative()


def setup(lab: Lab) -> None:
    reg = lab.registry
    cf = reg.config
    cf("crypto pki trustpoint <name>", cfg_trustpoint)
    cf("crypto pki server <name>", cfg_server)
    cf("crypto pki authenticate <name>", cfg_authenticate)
    cf("crypto pki enroll <name>", cfg_enroll)
    cf("crypto key generate rsa ...", cfg_keygen)
    cf("crypto key zeroize rsa ...", cfg_zeroize)
    cf("certificate ...", mode="config-cert-chain", submode="config-pubkey")
    for head in (
        "enrollment",
        "serial-number",
        "ip-address",
        "password",
        "subject-name",
        "fqdn",
        "revocation-check",
        "rsakeypair",
        "auto-enroll",
    ):
        cf(f"{head} ...", tp_line, mode="ca-trustpoint")
    for head in ("database", "issuer-name", "grant", "lifetime", "auto-rollover", "hash"):
        cf(f"{head} ...", cs_line, mode="cs-server")
    cf("shutdown", cs_shutdown, mode="cs-server")
    cf("show", cs_show, mode="cs-server")
    # Valid IOS sub-commands the lab keeps verbatim (no effect here); anything else is refused with
    # `% Invalid input detected`, so a typo in a trustpoint or server block is not silently kept.
    for head in ("usage", "eku", "vrf", "source", "subject-alt-name", "hash", "chain-validation", "ocsp",
                 "match", "primary", "default", "query", "root", "storage", "auth", "ip-extension",
                 "crl", "description", "trustpool", "enrollment-profile", "regenerate", "validation-usage"):
        cf(f"{head} ...", mode="ca-trustpoint", key=1)
    for head in ("serial-number", "cdp-url", "mode", "crl", "redundancy", "eku", "hash-algorithm"):
        cf(f"{head} ...", mode="cs-server", key=1)
    reg.mode("ca-trustpoint", permissive=False)
    reg.mode("cs-server", permissive=False)
    ex = reg.exec
    ex("show crypto pki certificates [verbose]", show_certs)
    ex("show crypto pki certificates [verbose] <tp>", show_certs)
    ex("show crypto pki certificates <tp> verbose", show_certs)  # classic IOS order
    ex("show crypto pki timers [detail]", show_timers)
    ex("show crypto pki trustpoints [status]", show_trustpoints)
    ex("show crypto pki trustpoints <tp> [status]", show_trustpoints)
    ex("show crypto key mypubkey rsa [<label>]", show_mypubkey)
    ex("show crypto key mypubkey all", show_mypubkey)
    ex("show crypto pki server", show_server)
    ex("show crypto pki server <name>", show_server)
    ex("show crypto pki server <name> requests", show_server)
    ex("show crypto pki server <name> certificates", show_server)
    ex("show crypto pki server <name> crl", show_server)
    ex("show crypto pki crls", show_crls)
    ex("show crypto pki counters", show_counters)
    ex("clear crypto pki counters", clear_counters)
    ex("show crypto pki trustpool", show_trustpool)
    ex("crypto pki crl request <tp>", exec_crl_request)
    ex("crypto pki server <name> grant <id>", exec_server)
    ex("crypto pki server <name> reject <id>", exec_server)
    ex("crypto pki server <name> remove <id>", exec_server)
    ex("crypto pki server <name> revoke <serial>", exec_server)
    ex("crypto pki server <name> rollover", exec_server)
    ex("crypto pki server <name> rollover cancel", exec_server)
    ex("crypto pki server <name> password generate", exec_server)
    ex("crypto pki server <name> password generate <minutes>", exec_server)
    reg.on_device_start(on_start)
    reg.on_config_change(on_change)
    reg.on_authoritative(on_authoritative)

