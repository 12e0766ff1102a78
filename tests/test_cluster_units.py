"""The cluster engine's parts that need no cluster: the store's batched flushes, secret-free host specs,
results on the wire, parameters that change meaning on a worker, and a scheduler that cannot be reached."""

from __future__ import annotations

import os
import pickle
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import cloudpickle
import pytest
from nornir.core.exceptions import NornirSubTaskError
from nornir.core.inventory import Host
from nornir.core.task import MultiResult, Result

from iospki.cluster import (
    ClientStore,
    ClusterError,
    DaskRunner,
    HostSecrets,
    cluster_problem,
    relay,
    runner_config,
)
from iospki.cluster.hostspec import host_spec, site_of, worker_host
from iospki.cluster.transport import from_wire, to_wire
from iospki.operations.inventory import load_nornir
from iospki.state import store
from tests.lab_fixture import PASSWORD, SECRET, write_inventory

# ---------------------------------------------------------------------------- durable_batch


def test_a_batch_makes_its_files_visible_together_with_one_directory_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = os.fsync

    def counting_fsync(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    for i in range(5):
        store.write_output(tmp_path / "plain", "r1", f"show x{i}", "out")
    assert len(calls) == 10  # a file and its directory, per write
    calls.clear()
    with store.durable_batch():
        for i in range(5):
            store.write_output(tmp_path / "batch", "r1", f"show x{i}", f"out {i}")
            with store.durable_batch():  # nested: joins the outer batch
                store.write_json(tmp_path / "batch", "r1", f"j{i}", {"i": i})
        assert store.read_outputs(tmp_path / "batch", "r1") == {}  # nothing visible before the end
    assert len(calls) == (1 if store._syncfs(tmp_path) else 11)  # one directory fsync (+ file fsyncs w/o syncfs)
    assert store.read_outputs(tmp_path / "batch", "r1") == {f"show x{i}": f"out {i}" for i in range(5)}
    assert [p.name for p in (tmp_path / "batch" / "r1").iterdir() if p.name.startswith(".")] == []


def test_a_batch_keeps_what_was_written_before_a_failure(tmp_path: Path) -> None:
    with pytest.raises(TimeoutError), store.durable_batch():
        store.write_output(tmp_path, "r1", "show clock", "10:00")
        raise TimeoutError("the device stopped answering")
    assert store.read_output(tmp_path, "r1", "show clock") == "10:00"


def test_a_process_killed_inside_a_batch_leaves_no_visible_file(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, signal
        from iospki.state import store
        with store.durable_batch():
            store.write_output({str(tmp_path)!r}, "r1", "show clock", "x" * 100000)
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert store.read_outputs(tmp_path, "r1") == {}


# ---------------------------------------------------------------------------- host specs


@pytest.fixture
def lab_inventory(tmp_path: Path) -> Path:
    write_inventory(tmp_path, [("r1", "isr_g1"), ("r2", "csr1k")], host_data={"r1": {"site": "ams"}})
    groups = (tmp_path / "groups.yaml").read_text() + "site-fra:\n  data: {}\n"
    (tmp_path / "groups.yaml").write_text(groups)
    hosts = (tmp_path / "hosts.yaml").read_text().replace("  - csr1k\n", "  - csr1k\n  - site-fra\n")
    (tmp_path / "hosts.yaml").write_text(hosts)
    return tmp_path


def test_a_host_travels_without_its_secrets_and_the_worker_resolves_them(
    lab_inventory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nr = load_nornir(lab_inventory)
    h1, h2 = nr.inventory.hosts["r1"], nr.inventory.hosts["r2"]
    assert h1.password == PASSWORD  # the client holds it (lab inventory)
    assert (site_of(h1), site_of(h2)) == ("ams", "fra")  # data key; group site-fra
    spec = host_spec(h1)
    blob = pickle.dumps(spec)
    assert PASSWORD.encode() not in blob and SECRET.encode() not in blob
    assert spec.connection_options["netmiko"]["extras"]["conn_timeout"] == 30  # the rest is kept
    assert spec.data["lab"] is True and spec.site == "ams"
    # on a worker: credentials from ITS environment
    monkeypatch.setenv("IOSPKI_PASSWORD", "worker-password")
    monkeypatch.setenv("IOSPKI_ENABLE_SECRET", "worker-enable")
    host = worker_host(spec)
    assert host.password == "worker-password"
    extras = host.get_connection_parameters("netmiko").extras
    assert extras is not None and extras["secret"] == "worker-enable"
    assert host.get_connection_parameters("netmiko").platform == "cisco_ios"
    # a non-lab host on a worker without a password cannot run, and says where to set one
    monkeypatch.delenv("IOSPKI_PASSWORD")
    spec2 = host_spec(h2)
    spec2.data["lab"] = False
    assert "IOSPKI_PASSWORD" in worker_host(spec2).data["_credential_error"]


def test_results_cross_without_the_worker_s_secrets_and_keep_exception_names() -> None:
    worker = Host("r1", password="hunter2-worker")
    mr = MultiResult("collect")
    mr.append(Result(host=worker, result="login hunter2-worker ok", failed=True,
                     exception=NornirSubTaskError(task=None, result=mr)))
    mr.append(Result(host=worker, result={"out": ["x"]}, exception=ConnectionRefusedError("refused")))
    wire = pickle.dumps(to_wire(mr, ["hunter2-worker"]))
    assert b"hunter2-worker" not in wire
    client_host = Host("r1")
    back = from_wire(client_host, "collect", pickle.loads(wire))
    assert back[0].host is client_host and back[0].result == "login <redacted> ok" and back.failed
    assert type(back[0].exception).__name__ == "NornirSubTaskError"
    assert isinstance(back[1].exception, ConnectionRefusedError) and back[1].result == {"out": ["x"]}


def test_stores_and_secrets_become_the_worker_s_own_wherever_they_sit(tmp_path: Path) -> None:
    out, secrets = ClientStore(str(tmp_path / "collection")), HostSecrets(["hunter2"])
    nested = {"ctx": {"secrets": secrets, "dirs": [out]}}

    def closure() -> tuple[str, list[str]]:  # captured, as an operation's inner task captures them
        return out, secrets

    with relay.sending() as stores:
        blob = cloudpickle.dumps((nested, closure, out))
    assert list(stores.values()) == [str(out)]
    assert b"hunter2" not in blob and str(out).encode() not in blob
    with relay.on_the_worker(["w-secret"], tmp_path / "scratch"):
        n2, c2, o2 = cloudpickle.loads(blob)
    token = next(iter(stores))
    assert o2 == n2["ctx"]["dirs"][0] == c2()[0] == str(tmp_path / "scratch" / token)
    assert n2["ctx"]["secrets"] == c2()[1] == ["w-secret"] and Path(o2).is_dir()
    with pytest.raises(store.StoreError, match="r1"):
        relay.write_back(str(tmp_path / "c"), "r1", {"../escape.txt": "x"})


# ---------------------------------------------------------------------------- no cluster


def test_an_unreachable_scheduler_fails_every_host_with_one_clear_reason(lab_inventory: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once the socket is closed
    nr = load_nornir(lab_inventory).with_runner(DaskRunner(f"tcp://127.0.0.1:{port}", connect_timeout=2))
    res = nr.run(task=lambda task: Result(host=task.host, result="never"))
    assert set(res.failed_hosts) == {"r1", "r2"}
    reason = str(res["r1"][0].result)
    assert reason.startswith(f"r1: cluster scheduler tcp://127.0.0.1:{port} unreachable") and "\n" not in reason


def test_an_unusable_cluster_is_one_line_before_any_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IOSPKI_CLUSTER", raising=False)
    assert "IOSPKI_CLUSTER" in str(cluster_problem())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    problem = str(cluster_problem(f"tcp://127.0.0.1:{port}", connect_timeout=2))
    assert problem.startswith(f"cluster scheduler tcp://127.0.0.1:{port} unreachable") and "\n" not in problem


def test_runner_config_needs_an_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IOSPKI_CLUSTER", raising=False)
    with pytest.raises(ClusterError, match="IOSPKI_CLUSTER"):
        runner_config()
    monkeypatch.setenv("IOSPKI_CLUSTER", "tcp://127.0.0.1:8786")
    assert runner_config() == {"plugin": "dask", "options": {"scheduler": "tcp://127.0.0.1:8786", "resume": False}}


def test_an_operation_context_travels_as_intents_addresses_and_a_secrets_placeholder(lab_inventory: Path) -> None:
    from iospki.operations.runner import open_context

    ctx = open_context(str(lab_inventory), None, validate=False)
    assert PASSWORD in ctx.secrets
    with pytest.raises(TypeError, match="password"):
        cloudpickle.dumps(ctx)  # never by accident
    with relay.sending():
        blob = cloudpickle.dumps({"ctx": ctx})
    assert PASSWORD.encode() not in blob and SECRET.encode() not in blob
    with relay.on_the_worker(["w-secret"], lab_inventory / "scratch"):
        sent = cloudpickle.loads(blob)["ctx"]
    assert sent.addr("r2") == str(ctx.full.inventory.hosts["r2"].hostname)
    assert sent.intents.keys() == ctx.intents.keys() and sent.secrets == ["w-secret"]
    ctx.close()


def test_each_host_s_task_stays_the_same_size_however_large_the_inventory(tmp_path: Path) -> None:
    # an operation's task captures its context: every host's intent and address (a trustpoint names its CA
    # server, another host). It travels apart, once per worker and run; each host's task refers to it.
    from bench.bench_cluster_payload import PASSWORD as FLEET_PASSWORD
    from bench.bench_cluster_payload import fleet_context, operation_task
    from iospki.cluster.runner import pack_task

    sizes: dict[int, tuple[int, int]] = {}
    for n in (10, 1000):
        payload, _ = pack_task(operation_task(fleet_context(n)), {}, 20, False)
        for blob in (payload.task, *payload.shared.values()):
            assert FLEET_PASSWORD.encode() not in blob
        sizes[n] = (len(payload.task), sum(len(b) for b in payload.shared.values()))
    assert sizes[1000][0] == sizes[10][0]  # what each host's task carries and a worker unpickles per host
    assert sizes[1000][1] > 20 * sizes[10][1]  # the whole inventory is there, in the run-wide part

    # on a worker: each host gets its own secrets, and the context of the run, decoded once for all its hosts
    with relay.on_the_worker(["w-secret-1"], tmp_path, payload.shared):
        one = cloudpickle.loads(payload.task)[0]
    with relay.on_the_worker(["w-secret-2"], tmp_path, payload.shared):
        two = cloudpickle.loads(payload.task)[0]
    ctx1, ctx2 = (f.__closure__[0].cell_contents for f in (one, two))
    assert ctx1.intents is ctx2.intents and len(ctx1.intents) == 1000
    assert (ctx1.secrets, ctx2.secrets) == (["w-secret-1"], ["w-secret-2"])
    assert one(type("T", (), {"host": Host("r00007")})()).result == ("FLEETCA", "127.20.0.1")  # its CA's address
    relay.forget_shared(payload.shared)  # the run's end: decoded again by the next run
    with relay.on_the_worker([], tmp_path, payload.shared):
        assert cloudpickle.loads(payload.task)[0].__closure__[0].cell_contents.intents is not ctx1.intents


def test_a_run_wide_value_holding_a_secret_is_not_sent_nor_one_holding_a_host_s_values() -> None:
    from bench.bench_cluster_payload import PASSWORD as FLEET_PASSWORD
    from bench.bench_cluster_payload import fleet_context, operation_task

    ctx = fleet_context(3)
    ctx.full.inventory.hosts["r00002"].hostname = f"x{FLEET_PASSWORD}"  # reaches only the run-wide addresses
    res = ctx.nr.with_runner(DaskRunner("tcp://127.0.0.1:9", connect_timeout=2)).run(task=operation_task(ctx))
    assert set(res.failed_hosts) == {"ca1", "r00001", "r00002"}
    assert "carries a secret" in str(res["r00001"][0].result)  # refused before any scheduler is contacted
    with relay.sending({}), pytest.raises(TypeError, match="differs per host"):
        cloudpickle.dumps(relay.Once({"secrets": HostSecrets(["s3cret"])}))


# ---------------------------------------------------------------------------- Ctrl-C on a cluster run


def test_a_host_that_starts_after_its_run_was_stopped_leaves_its_device_alone() -> None:
    from iospki.cluster.hostspec import HostSpec
    from iospki.cluster.stopping import RUNS, stop_on_worker
    from iospki.cluster.transport import Outcome
    from iospki.cluster.worker import run_host

    assert stop_on_worker("run-a") == []  # outside a worker: nothing started here
    # a payload that is not even a task: the host never gets as far as unpickling it
    spec = pickle.dumps(HostSpec("r1", "192.0.2.1", 22, "ios", "admin"))
    out: Outcome = pickle.loads(run_host("run-a", "collect", relay.RunPayload(b"not a task", {}), spec, {}))
    assert (out.state, out.reason) == ("interrupted", "r1: interrupted (Ctrl-C) before it started")
    with RUNS.running("run-b") as other:  # another run on the same worker goes on
        assert not other.is_set()
        RUNS.stop("run-b")
        assert other.is_set()  # a task of it already running sees the stop
    with RUNS.running("run-b") as again:
        assert again.is_set()  # and one that starts later too


def test_a_run_s_stop_reaches_the_checks_of_its_own_thread_only() -> None:
    import threading

    from iospki.operations import interrupt

    run = threading.Event()
    seen: list[str] = []

    def other_thread() -> None:
        seen.append(str(interrupt.stopped()))

    with interrupt.scope(run):
        interrupt.check("show clock")  # not stopped: no exception
        run.set()
        with pytest.raises(interrupt.Interrupted, match="before show clock"):
            interrupt.check("show clock")
        with pytest.raises(interrupt.Interrupted):
            interrupt.sleep(30)  # wakes at once
        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
    assert seen == ["False"] and not interrupt.stopped() and not interrupt.STOP.is_set()
