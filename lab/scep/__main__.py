"""Stand-alone SCEP runner for interop checks and the benchmark (loopback only).

    python -m iospki.lab.scep serve  [--host 127.0.0.1] [--port 9100] [--mode auto|manual|reject] [--ca-out ca.pem]
    python -m iospki.lab.scep enroll URL --cn r1.lab [--cipher des3] [--hash sha256] [--method GET|POST] [--out c.pem]

The challenge password comes from the environment variable SCEP_CHALLENGE (never from the command line, so it
does not show in process listings).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import signal
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from iospki.lab.scep import client
from iospki.lab.scep.http import start_scep_site
from iospki.lab.scep.memory_ca import MemoryCa
from iospki.lab.scep.messages import ScepError
from iospki.lab.scep.server import ScepServer


async def _serve(args: argparse.Namespace) -> int:
    ca = MemoryCa(name=args.ca_name, mode=args.mode, challenge=os.environ.get("SCEP_CHALLENGE") or None)
    if args.ca_out:
        with open(args.ca_out, "wb") as fh:
            fh.write(ca.cert.public_bytes(serialization.Encoding.PEM))
    server = ScepServer(ca)
    runner, port = await start_scep_site(server, args.host, args.port)
    print(
        f"SCEP CA {args.ca_name!r} listening on http://{args.host}:{port}/cgi-bin/pkiclient.exe", flush=True
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    return 0


async def _enroll(args: argparse.Namespace) -> int:
    key = rsa.generate_private_key(65537, args.key_size)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, args.cn)])
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    password = os.environ.get("SCEP_CHALLENGE")
    if password:
        builder = builder.add_attribute(x509.oid.AttributeOID.CHALLENGE_PASSWORD, password.encode())
    csr = builder.sign(key, hashes.SHA256())
    try:
        cas = await client.get_ca_certs(args.url)
        signer = client.self_signed_signer(key, subject, dt.datetime.now(dt.timezone.utc))
        res = await client.enroll(
            args.url,
            csr,
            key,
            signer,
            key,
            cas.recipient,
            cipher=args.cipher,
            hash_name=args.hash,
            method=args.method,
            verify_with=[cas.ca, cas.recipient],
        )
    except (client.ScepHttpError, ScepError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    print(
        f"{res.status.name} transaction={res.transaction_id} method={res.http_method}"
        + (f" failInfo={res.fail_info.name}" if res.fail_info is not None else "")
    )
    if res.certificate is not None and args.out:
        with open(args.out, "wb") as fh:
            fh.write(res.certificate.public_bytes(serialization.Encoding.PEM))
    return {"SUCCESS": 0, "PENDING": 1}.get(res.status.name, 2)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m iospki.lab.scep")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="run an in-memory SCEP CA on a loopback address")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=9100)
    s.add_argument("--mode", choices=["auto", "manual", "reject"], default="auto")
    s.add_argument("--ca-name", default="LAB-CA")
    s.add_argument("--ca-out", help="write the CA certificate (PEM) here")
    e = sub.add_parser("enroll", help="enroll a fresh key with our SCEP client")
    e.add_argument("url")
    e.add_argument("--cn", required=True)
    e.add_argument("--cipher", default="des3", choices=["des", "des3", "aes128", "aes192", "aes256"])
    e.add_argument("--hash", default="sha256", choices=["sha1", "sha256", "sha384", "sha512"])
    e.add_argument("--method", choices=["GET", "POST"], default=None)
    e.add_argument("--key-size", type=int, default=2048)
    e.add_argument("--out", help="write the issued certificate (PEM) here")
    args = p.parse_args(argv)
    try:
        return asyncio.run(_serve(args) if args.cmd == "serve" else _enroll(args))
    except ValueError as exc:  # e.g. a non-loopback --host
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
