"""Retry/back-off and concurrency limits (iospki.operations.resilience), without a lab: fast, deterministic."""

from __future__ import annotations

import random
import threading
import time

import pytest
from netmiko.exceptions import NetmikoAuthenticationException, NetmikoTimeoutException

from iospki.operations.resilience import Backoff, KeyedLimiter, ca_limiter, ca_slot, retry, transient
from iospki.tasks.connection import TaskFailed


def test_transient_errors_are_retried_permanent_ones_are_not() -> None:
    assert transient(NetmikoTimeoutException("TCP connection to device failed"))
    assert transient(ConnectionResetError())
    assert transient(TimeoutError())
    assert transient(OSError("Socket is closed"))
    assert transient(EOFError())
    assert not transient(NetmikoAuthenticationException("Authentication to device failed"))
    assert not transient(TaskFailed("r1: the device rejected the config"))
    assert not transient(ValueError("parse error"))
    assert not transient(OSError("No such file or directory"))
    # an unknown or changed host key is refused for good, never retried
    assert not transient(NetmikoTimeoutException("SSHException: Server '[127.0.0.9]:22' not found in known_hosts"))


def test_retry_backs_off_and_then_succeeds() -> None:
    calls: list[int] = []
    waits: list[float] = []
    dropped: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise OSError("Socket is closed")
        return "ok"

    out = retry(
        flaky,
        attempts=3,
        backoff=Backoff(base=1.0, cap=8.0, rng=random.Random(1)),
        before_retry=lambda exc, n: dropped.append(n),
        sleep=waits.append,
    )
    assert out == "ok" and len(calls) == 3
    assert dropped == [0, 1]  # the broken session is dropped before each new try
    assert 0 <= waits[0] <= 1.0 and 0 <= waits[1] <= 2.0  # full jitter under a doubling cap


def test_retry_gives_up_with_the_real_cause_and_never_retries_permanent_errors() -> None:
    calls: list[int] = []

    def down() -> None:
        calls.append(1)
        raise NetmikoTimeoutException("TCP connection to device failed: 127.0.0.9:22")

    with pytest.raises(NetmikoTimeoutException, match="127.0.0.9"):
        retry(down, attempts=4, sleep=lambda s: None)
    assert len(calls) == 4

    calls.clear()

    def refused_password() -> None:
        calls.append(1)
        raise NetmikoAuthenticationException("Authentication to device failed.")

    with pytest.raises(NetmikoAuthenticationException):
        retry(refused_password, attempts=4, sleep=lambda s: None)
    assert len(calls) == 1  # the same wrong password again would only lock the account


def test_nested_retries_do_not_multiply() -> None:
    calls: list[int] = []

    def connect() -> None:
        calls.append(1)
        raise ConnectionRefusedError()

    with pytest.raises(ConnectionRefusedError):
        retry(lambda: retry(connect, attempts=3, sleep=lambda s: None), attempts=3, sleep=lambda s: None)
    assert len(calls) == 3


def test_backoff_is_bounded() -> None:
    bo = Backoff(base=0.5, cap=2.0, rng=random.Random(7))
    assert all(0 <= bo.delay(k) <= 2.0 for k in range(20))


def test_keyed_limiter_caps_concurrency_per_key() -> None:
    lim = KeyedLimiter(2)
    barrier = threading.Barrier(6)

    def enroll(ca: str) -> None:
        barrier.wait()
        with lim.slot(ca):
            time.sleep(0.05)

    threads = [threading.Thread(target=enroll, args=(ca,)) for ca in ["ca1"] * 4 + ["ca2"] * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert lim.peak["ca1"] == 2  # four wanted in at once; two got in
    assert lim.peak["ca2"] == 2
    assert lim.active == {"ca1": 0, "ca2": 0}
    with pytest.raises(ValueError):
        KeyedLimiter(0)


def test_ca_slot_limit_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOSPKI_CA_ENROLL_LIMIT", "1")
    inside: list[int] = []
    peak: list[int] = []

    def enroll() -> None:
        with ca_slot("caX"):
            inside.append(1)
            peak.append(len(inside))
            time.sleep(0.02)
            inside.pop()

    threads = [threading.Thread(target=enroll) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert max(peak) == 1 and ca_limiter().limit == 1


def test_at_most_n_hosts_at_once_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from nornir.plugins.runners import ThreadedRunner

    from iospki.operations.inventory import load_nornir
    from tests.validate_support import EXAMPLES

    runner = load_nornir(EXAMPLES / "validate-pass").runner
    assert isinstance(runner, ThreadedRunner) and runner.num_workers == 20  # from config.yaml
    monkeypatch.setenv("IOSPKI_MAX_HOSTS", "2")
    nr = load_nornir(EXAMPLES / "validate-pass")
    assert isinstance(nr.runner, ThreadedRunner) and nr.runner.num_workers == 2
    # and really no more than two at once
    active: list[int] = []
    peak: list[int] = []
    lock = threading.Lock()

    def task(task: object) -> None:
        with lock:
            active.append(1)
            peak.append(len(active))
        time.sleep(0.05)
        with lock:
            active.pop()

    nr.run(task=task)
    assert max(peak) == 2


class _FakeConn:
    """Stands in for a netmiko session whose SSH session drops during a config push."""

    def __init__(self) -> None:
        self.config_sends = 0
        self.show_calls = 0
        self.running = "hostname c1\n!\nend\n"

    def check_enable_mode(self) -> bool:
        return True

    def find_prompt(self) -> str:
        return "c1#"

    def send_command(self, command: str, expect_string: str | None = None, read_timeout: float = 30.0) -> str:
        self.show_calls += 1
        if self.show_calls == 1:
            raise OSError("Socket is closed")  # a read-only command: retried on a fresh session
        return self.running

    def send_config_set(self, lines: list[str], **kwargs: object) -> str:
        self.config_sends += 1
        raise OSError("Socket is closed")


class _FakeHost:
    name = "c1"

    def __init__(self, conn: _FakeConn) -> None:
        self.conn = conn
        self.connections: dict[str, object] = {}
        self.data: dict[str, object] = {}  # as a nornir Host's (tasks check it for a refusal before connecting)
        self.opened = 0

    def get_connection(self, plugin: str, config: object) -> _FakeConn:
        if plugin not in self.connections:
            self.opened += 1
            self.connections[plugin] = self.conn
        return self.conn

    def close_connection(self, plugin: str) -> None:
        self.connections.pop(plugin, None)


class _FakeTask:
    def __init__(self, host: _FakeHost) -> None:
        self.host = host
        self.nornir = type("N", (), {"config": None})()


def test_a_config_push_is_never_resent_but_reads_are_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    from iospki.tasks.push_config import push_config

    monkeypatch.setattr(time, "sleep", lambda s: None)
    conn = _FakeConn()
    host = _FakeHost(conn)
    with pytest.raises(OSError, match="Socket is closed"):
        push_config(_FakeTask(host), ["ntp server 127.0.0.123"])  # type: ignore[arg-type]
    assert conn.config_sends == 1  # sent once; the session dropped; not re-sent blindly
    assert conn.show_calls == 2  # the read of the running config was retried after the drop
    assert host.opened == 2  # on a fresh session
