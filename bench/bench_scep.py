"""SCEP enrollments per second: our emulated CA vs micromdm's scepserver, same client, same time window.

Both servers run as separate processes on 127.0.0.1 inside a private network namespace (scepserver binds
every interface, so it never runs outside one). The client pre-generates 2048-bit RSA keys and pre-builds
the PKCSReqs (AES-128 envelope, SHA-256, as in docs/scep-interop.md), then POSTs them over one keep-alive
connection (concurrency 1: micromdm's file depot is racy above that) and counts SUCCESS CertReps. Rounds are
interleaved (ours, micromdm, ours, micromdm) because the VM has noisy neighbours. Server CPU per request is
read from /proc/<pid>/stat and is the robust figure.

    .venv/bin/python -m bench.bench_scep [--requests 150] [--rounds 2]

Needs root (unshare -n) for the micromdm side; without it only our server is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from iospki.lab.scep import MessageType, PkiStatus, ScepServer, client
from iospki.lab.scep import messages as m
from iospki.lab.scep.http import start_scep_site
from iospki.lab.scep.memory_ca import MemoryCa

CHALLENGE = "bench-Challenge-1"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def _wait_port(port: int, timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port}")


def _keys(n: int) -> list[rsa.RSAPrivateKey]:
    return [rsa.generate_private_key(65537, 2048) for _ in range(n)]


def _build(keys: list[rsa.RSAPrivateKey], ca: x509.Certificate, n: int, tag: str) -> list[bytes]:
    now = dt.datetime.now(dt.timezone.utc)
    out = []
    for i in range(n):
        key = keys[i % len(keys)]
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"bench{tag}{i}.lab")])
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(subject)
            .add_attribute(x509.oid.AttributeOID.CHALLENGE_PASSWORD, CHALLENGE.encode())
            .sign(key, hashes.SHA256())
        )
        signer = client.self_signed_signer(key, subject, now)
        env = m.encrypt_envelope(csr.public_bytes(serialization.Encoding.DER), ca, "aes128")
        out.append(
            m.build_pki_message(MessageType.PKCS_REQ, f"{tag}-{i}-{os.getpid()}", env, signer, key, "sha256")
        )
    return out


async def _fire(url: str, messages: list[bytes]) -> tuple[int, float]:
    ok = 0
    conn = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=conn) as s:
        start = time.perf_counter()
        for msg in messages:
            async with s.post(
                f"{url}?operation=PKIOperation",
                data=msg,
                headers={"Content-Type": "application/x-pki-message"},
            ) as r:
                body = await r.read()
            if r.status == 200 and m.parse_pki_message(body).pki_status == PkiStatus.SUCCESS:
                ok += 1
        return ok, time.perf_counter() - start


async def _ca_of(url: str) -> x509.Certificate:
    return (await client.get_ca_certs(url)).recipient


def _measure(
    name: str, url: str, pid: int, keys: list[rsa.RSAPrivateKey], n: int
) -> tuple[float, float, int]:
    ca = asyncio.run(_ca_of(url))
    msgs = _build(keys, ca, n, name[:4])
    asyncio.run(_fire(url, msgs[:5]))  # warm-up (connection, caches)
    msgs = _build(keys, ca, n, name[:4] + "m")
    cpu0 = _cpu_seconds(pid)
    ok, wall = asyncio.run(_fire(url, msgs))
    cpu = _cpu_seconds(pid) - cpu0
    return ok / wall, 1000 * cpu / max(ok, 1), n - ok


async def _in_process(keys: list[rsa.RSAPrivateKey], n: int) -> tuple[float, float]:
    """Lab-twin figure: our client.enroll against our server in ONE event loop (as CA and trustpoints share a
    process in the lab), full work on both sides (envelope, signatures, CertRep verification, decryption)."""
    ca = MemoryCa(challenge=CHALLENGE)
    runner, port = await start_scep_site(ScepServer(ca))
    url = f"http://127.0.0.1:{port}"
    now = dt.datetime.now(dt.timezone.utc)
    jobs = []
    for i in range(n):
        key = keys[i % len(keys)]
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"inproc{i}.lab")])
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(subject)
            .add_attribute(x509.oid.AttributeOID.CHALLENGE_PASSWORD, CHALLENGE.encode())
            .sign(key, hashes.SHA256())
        )
        jobs.append((key, csr, client.self_signed_signer(key, subject, now)))
    try:
        async with aiohttp.ClientSession() as session:
            cpu0, start = time.process_time(), time.perf_counter()
            for i, (key, csr, signer) in enumerate(jobs):
                res = await client.enroll(
                    url,
                    csr,
                    key,
                    signer,
                    key,
                    ca.cert,
                    transaction_id=f"IP-{i}",
                    caps=ca.caps(),
                    session=session,
                )
                assert res.status == PkiStatus.SUCCESS and res.certificate is not None
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    finally:
        await runner.cleanup()
    return n / wall, 1000 * cpu / n


def inside(args: argparse.Namespace) -> int:
    env = dict(os.environ, SCEP_CHALLENGE=CHALLENGE)
    tmp = Path(tempfile.mkdtemp(prefix="bench_scep_"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        ours = subprocess.Popen(
            [sys.executable, "-m", "iospki.lab.scep", "serve", "--port", "19100"],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        procs.append(ours)
        servers = [("iospki.lab.scep", "http://127.0.0.1:19100/cgi-bin/pkiclient.exe", ours.pid, 19100)]
        scepserver = shutil.which("scepserver")
        if scepserver and args.netns:
            subprocess.run(
                [
                    scepserver,
                    "ca",
                    "-init",
                    "-depot",
                    str(tmp / "depot"),
                    "-keySize",
                    "2048",
                    "-organization",
                    "Bench CA",
                    "-years",
                    "2",
                ],
                check=True,
                capture_output=True,
            )
            mm = subprocess.Popen(
                [
                    scepserver,
                    "-depot",
                    str(tmp / "depot"),
                    "-port",
                    "18081",
                    "-challenge",
                    CHALLENGE,
                    "-allowrenew",
                    "0",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            procs.append(mm)
            servers.append(("micromdm scepserver", "http://127.0.0.1:18081/scep", mm.pid, 18081))
        else:
            print(
                "micromdm scepserver: skipped ("
                + ("apt-get install scep" if not scepserver else "needs root for its own network namespace")
                + ")"
            )
        for _, _, _, port in servers:
            _wait_port(port)
        t0 = time.perf_counter()
        keys = _keys(args.keys)
        print(
            f"client: {args.keys} RSA-2048 keys pre-generated in {time.perf_counter() - t0:.1f}s; "
            f"{args.requests} PKCSReq per round, AES-128 + SHA-256, POST, concurrency 1"
        )
        results: dict[str, list[tuple[float, float, int]]] = {s[0]: [] for s in servers}
        for _ in range(args.rounds):
            for name, url, pid, _port in servers:
                results[name].append(_measure(name, url, pid, keys, args.requests))
        print(f"{'server':24} {'enroll/s (per round)':32} {'server CPU ms/req':20} failures")
        for name, rows in results.items():
            rates = ", ".join(f"{r[0]:.0f}" for r in rows)
            cpu = ", ".join(f"{r[1]:.2f}" for r in rows)
            print(f"{name:24} {rates:32} {cpu:20} {sum(r[2] for r in rows)}")
        rate, cpu_ms = asyncio.run(_in_process(keys, args.requests))
        print(
            f"in-process lab figure (client.enroll + ScepServer in one event loop, DES3/SHA-256): "
            f"{rate:.0f} enroll/s, {cpu_ms:.2f} ms CPU per enrollment (both sides)"
        )
        return 0
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=150)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--keys", type=int, default=20, help="distinct client keys (reused round-robin)")
    p.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--netns", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.inside:
        return inside(args)
    unshare = shutil.which("unshare")
    if unshare and os.geteuid() == 0:
        cmd = [
            unshare,
            "-n",
            "sh",
            "-c",
            'ip link set lo up && exec "$@"',
            "sh",
            sys.executable,
            str(Path(__file__).resolve()),
            "--inside",
            "--netns",
            "--requests",
            str(args.requests),
            "--rounds",
            str(args.rounds),
            "--keys",
            str(args.keys),
        ]
        return subprocess.run(cmd).returncode
    print("not root: measuring our server only, on 127.0.0.1 (micromdm needs its own network namespace)")
    args.netns = False
    return inside(args)


if __name__ == "__main__":
    sys.exit(main())
