"""A real Dask cluster on loopback for the cluster tests: `dask scheduler` and `dask worker` processes.

    cluster = start_cluster(tmp, {"wa1": "a", "wa2": "a", "wb1": "b"}, env=LAB_WORKER_ENV)
    ...
    cluster.kill("wa1")      # SIGKILL, no nanny to bring it back: the worker is gone for good
    cluster.stop()

Everything binds 127.0.0.1 (scheduler, workers; no dashboard). Workers run from the repository root so they
import `iospki` (and the test modules, for tasks defined in tests) as the client does, and each gets its own
environment: that is where the devices' credentials live on a cluster.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin, WorkerPlugin

from iospki.cluster.limits import MARKER_ROOT
from tests.lab_fixture import PASSWORD, SECRET, USERNAME, LabHandle, start_lab

REPO = Path(__file__).resolve().parents[1]

# What a jump host of the lab would export; the client never sends these.
LAB_WORKER_ENV = {"IOSPKI_USERNAME": USERNAME, "IOSPKI_PASSWORD": PASSWORD, "IOSPKI_ENABLE_SECRET": SECRET}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IOSPKI_", "DASK_"))}
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Cluster:
    address: str
    base: Path
    scheduler: subprocess.Popen[bytes]
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    sites: dict[str, str] = field(default_factory=dict)
    tls: tuple[str, str, str] | None = None  # CA file, certificate, key: every node and the client use them

    def tls_args(self) -> list[str]:
        if self.tls is None:
            return []
        ca, cert, key = self.tls
        return ["--tls-ca-file", ca, "--tls-cert", cert, "--tls-key", key]

    def client(self) -> Any:
        from distributed import Client
        from distributed.security import Security

        security = None
        if self.tls is not None:
            ca, cert, key = self.tls
            security = Security(tls_ca_file=ca, tls_client_cert=cert, tls_client_key=key, require_encryption=True)
        return Client(self.address, timeout=30, set_as_default=False, security=security)

    def add_worker(self, name: str, site: str, env: dict[str, str], slots: int = 2) -> None:
        log = (self.base / f"{name}.log").open("wb")
        self.workers[name] = subprocess.Popen(
            [
                sys.executable, "-m", "distributed.cli.dask_worker", self.address,
                "--host", "127.0.0.1", "--no-dashboard", "--dashboard-address", "127.0.0.1:0",
                "--no-nanny", "--name", name,
                "--nthreads", str(slots), "--resources", f"site-{site}={slots}",
                "--local-directory", str(self.base / name), "--death-timeout", "60", *self.tls_args(),
            ],
            cwd=REPO, env=_clean_env(env), stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.sites[name] = site

    def grow(self, name: str, site: str, env: dict[str, str]) -> None:
        """One more worker of `site`, registered with the scheduler when this returns."""
        self.add_worker(name, site, env)
        self.wait_workers(len(self.workers))

    def wait_workers(self, n: int, timeout: float = 90.0) -> None:
        with self.client() as c:
            c.wait_for_workers(n, timeout=timeout)

    def worker_address(self, name: str) -> str:
        with self.client() as c:
            for addr, w in c.scheduler_info(n_workers=-1)["workers"].items():
                if w.get("name") == name:
                    return str(addr)
        raise KeyError(name)

    def assert_loopback_only(self) -> None:
        """Network safety: the scheduler and every worker listen on 127.0.0.1 and nowhere else."""
        import psutil

        for proc in [self.scheduler, *self.workers.values()]:
            listening = [c.laddr for c in psutil.Process(proc.pid).net_connections(kind="inet") if c.status == "LISTEN"]
            assert listening and all(a.ip == "127.0.0.1" for a in listening), (proc.args, listening)

    def kill(self, name: str) -> None:
        proc = self.workers.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    def stop(self) -> None:
        for proc in [*self.workers.values(), self.scheduler]:
            if proc.poll() is None:
                proc.terminate()
        # One shared grace for all of them (they were sent SIGTERM together): a worker still busy with a task
        # of a killed test run would otherwise cost its own 20 s each, one after the other, at teardown.
        deadline = time.monotonic() + 10
        for proc in [*self.workers.values(), self.scheduler]:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self.workers.clear()


def start_cluster(
    base: Path,
    workers: dict[str, str],
    env: dict[str, str],
    slots: int = 2,
    tls: tuple[str, str, str] | None = None,
) -> Cluster:
    """Scheduler on 127.0.0.1:<free port> and one worker per `name: site`, all with `env` (credentials);
    with `tls` (CA file, certificate, key) every connection is TLS with client certificates."""
    base.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log = (base / "scheduler.log").open("wb")
    proto = "tls" if tls else "tcp"
    sched = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port),
         # --no-dashboard alone still serves HTTP (health, metrics) on 0.0.0.0:8787: bind it to loopback too
         "--no-dashboard", "--dashboard-address", "127.0.0.1:0",
         "--protocol", proto, "--idle-timeout", "900s",  # never outlives a killed test run
         *(["--tls-ca-file", tls[0], "--tls-cert", tls[1], "--tls-key", tls[2]] if tls else [])],
        cwd=REPO, env=_clean_env({}), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    cluster = Cluster(f"{proto}://127.0.0.1:{port}", base, sched, tls=tls)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if sched.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"dask scheduler did not start: {(base / 'scheduler.log').read_text()}") from None
                time.sleep(0.2)
        for name, site in workers.items():
            cluster.add_worker(name, site, env, slots)
        cluster.wait_workers(len(workers))
        cluster.assert_loopback_only()
    except BaseException:
        cluster.stop()
        raise
    return cluster


# ---------------------------------------------------------------------------- what travels, as Dask holds it

SPEC_RECORDER = "iospki-test-spec-recorder"
RESULT_RECORDER = "iospki-test-result-recorder"


class SpecRecorder(SchedulerPlugin):
    """Scheduler plugin: every task the scheduler receives, as pickled bytes of its run spec (function and
    arguments) -- exactly what the scheduler holds and forwards to a worker."""

    name = SPEC_RECORDER

    def __init__(self) -> None:
        self.blobs: list[bytes] = []

    def update_graph(self, scheduler: Any, *, keys: Any = (), **kwargs: Any) -> None:
        import cloudpickle

        for key in keys:
            ts = scheduler.tasks.get(key)
            if ts is not None:
                self.blobs.append(cloudpickle.dumps((key, ts.run_spec)))


class ResultRecorder(WorkerPlugin):
    """Worker plugin: whenever a task result lands in the worker's memory, everything the worker then holds
    (results sent back to the client, and the task data scattered to it by the client)."""

    name = RESULT_RECORDER

    def __init__(self) -> None:
        self.blobs: list[bytes] = []
        self.worker: Any = None

    def setup(self, worker: Any) -> None:
        self.worker = worker

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        import cloudpickle

        if finish == "memory" and self.worker is not None:
            # every value the worker holds at that moment: task results, and data scattered to it (the task)
            for k in list(self.worker.data):
                value = self.worker.data.get(k)
                self.blobs.append(value if isinstance(value, bytes) else cloudpickle.dumps(value))


def recorded_specs(client: Any) -> list[bytes]:
    return list(client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.plugins[SPEC_RECORDER].blobs))


def recorded_results(client: Any) -> list[bytes]:
    per_worker = client.run(lambda dask_worker: dask_worker.plugins[RESULT_RECORDER].blobs)
    return [b for blobs in per_worker.values() for b in blobs]


@contextlib.contextmanager
def lab_and_cluster(
    base: Path,
    hosts: list[tuple[str, str]],
    host_data: dict[str, dict[str, Any]],
    workers: dict[str, str],
    slots: int = 2,
) -> Iterator[tuple[LabHandle, Cluster]]:
    """A lab of `hosts` and a cluster of `workers` (name: site, `slots` hosts at once each) holding the lab's
    credentials; both stopped."""
    lab = start_lab(base / "lab", hosts=hosts, host_data=host_data)
    try:
        cluster = start_cluster(base / "dask", workers, LAB_WORKER_ENV, slots)
        try:
            yield lab, cluster
        finally:
            cluster.stop()
    finally:
        lab.stop()


def assert_same_collection(remote: Path, local: Path, hosts: list[str], secrets: list[str], *more: Path) -> None:
    """A collection made on the cluster holds what a local one holds: the same hosts ok, the same files per
    host, the same parsed certificates, trustpoints and parse errors; neither it nor `more` holds a secret."""
    import json

    from iospki.state import store

    remote_meta, local_meta = store.read_meta(remote), store.read_meta(local)
    assert remote_meta is not None and local_meta is not None
    assert remote_meta["hosts_ok"] == local_meta["hosts_ok"] == sorted(hosts)
    for h in hosts:
        assert sorted(p.name for p in (remote / h).iterdir()) == sorted(p.name for p in (local / h).iterdir())
        for name in ("show_crypto_pki_certificates.json", "show_crypto_pki_trustpoints.json", "parse_errors.json"):
            assert json.loads((remote / h / name).read_text()) == json.loads((local / h / name).read_text())
    for p in [f for d in (remote, *more) for f in d.rglob("*")]:
        if p.is_file():
            assert not any(s in p.read_text() for s in secrets), p


def make_tls(d: Path) -> tuple[str, str, str]:
    """A throwaway CA and one certificate for 127.0.0.1 (server and client use) signed by it, as PEM files."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    d.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "iospki test cluster CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    pem = serialization.Encoding.PEM
    (d / "ca.pem").write_bytes(ca.public_bytes(pem))
    (d / "node.pem").write_bytes(cert.public_bytes(pem))
    (d / "node.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    os.chmod(d / "node.key", 0o600)
    return str(d / "ca.pem"), str(d / "node.pem"), str(d / "node.key")


def kill_once_started(cluster: Cluster, names: list[str], phase: str, seen: dict[str, Any]) -> None:
    """Kill the worker of `names` that holds a changing task of `phase` which has really STARTED there: its
    start mark in the scheduler names that worker. (A task merely assigned to the worker -- waiting for a thread
    or the host cap -- is not started: Dask runs it again elsewhere and that is right, not a lost host.) Right
    after the kill, `seen['marked']` holds every host whose changing task had started on the killed worker."""
    addrs = {cluster.worker_address(n): n for n in names}
    with cluster.client() as c:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            marks = c.get_metadata([MARKER_ROOT], default=None) or {}
            for addr, keys in c.processing().items():
                if addr not in addrs:
                    continue
                started = {
                    host
                    for run_id, hosts in marks.items()
                    if isinstance(hosts, dict)
                    for host, where in hosts.items()
                    if where == addr and f"iospki-{phase}-{host}-{run_id}" in {str(k) for k in keys}
                }
                if started:
                    cluster.kill(addrs[addr])
                    seen["killed"] = sorted(started)
                    after = c.get_metadata([MARKER_ROOT], default=None) or {}
                    seen["marked"] = sorted(
                        h for hosts in after.values() if isinstance(hosts, dict) for h, w in hosts.items() if w == addr
                    )
                    return
            time.sleep(0.05)
