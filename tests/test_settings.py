"""The numbers an operator exports (IOSPKI_MAX_HOSTS, IOSPKI_RETRIES, IOSPKI_CA_ENROLL_LIMIT,
IOSPKI_STOP_GRACE): a value its variable cannot take is refused in one line naming it, before any host is
touched, never replaced by a silent default (`iospki.operations.settings`).

The command tests put the inventory's router on a real loopback listener and count its connections: a
refused setting leaves it untouched, and the same command with usable values does connect (so the count could
see a connection)."""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from iospki.cli import app
from iospki.operations import settings
from iospki.operations.inventory import DEFAULT_INVENTORY, InventoryError, load_nornir
from iospki.operations.resilience import retry

VARS = [s.name for s in settings.ALL]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for v in VARS + ["IOSPKI_CLUSTER", "IOSPKI_KNOWN_HOSTS"]:
        monkeypatch.delenv(v, raising=False)


# --------------------------------------------------------------------------- the readers


@given(st.text(max_size=12))
def test_a_count_is_plain_digits_of_at_least_one(raw: str) -> None:
    env = {"IOSPKI_RETRIES": raw}
    stripped = raw.strip()
    if not stripped:
        assert settings.count(settings.RETRIES, env) is None
    elif stripped.isascii() and stripped.isdigit() and int(stripped) >= 1:
        assert settings.count(settings.RETRIES, env) == int(stripped)
    else:
        with pytest.raises(settings.SettingError) as err:
            settings.count(settings.RETRIES, env)
        assert f"IOSPKI_RETRIES={stripped!r}" in str(err.value)
        assert settings.problems(env) == [str(err.value)]


@given(st.one_of(st.text(max_size=12), st.floats().map(repr)))
def test_seconds_are_a_finite_number_of_at_least_zero(raw: str) -> None:
    env = {"IOSPKI_STOP_GRACE": raw}
    stripped = raw.strip()
    try:
        value: float | None = float(stripped)
    except ValueError:
        value = None
    if not stripped:
        assert settings.seconds(settings.STOP_GRACE, env) == 90.0
    elif value is not None and value == value and abs(value) != float("inf") and value >= 0:
        assert settings.seconds(settings.STOP_GRACE, env) == value
    else:
        with pytest.raises(settings.SettingError, match="IOSPKI_STOP_GRACE="):
            settings.seconds(settings.STOP_GRACE, env)
        assert len(settings.problems(env)) == 1


def test_every_setting_is_checked_and_each_bad_one_named() -> None:
    bad = {"IOSPKI_MAX_HOSTS": "5x", "IOSPKI_RETRIES": "+3", "IOSPKI_CA_ENROLL_LIMIT": "0", "IOSPKI_STOP_GRACE": "inf"}
    found = settings.problems(bad)
    assert [line.split("=")[0] for line in found] == VARS  # all four, in their order
    assert settings.problems({v: "4" for v in VARS}) == []


def test_readers_raise_instead_of_falling_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where a bad value is met after the command's check (a cluster worker has its own environment), the
    host fails with the reason; before, `IOSPKI_MAX_HOSTS=5x` ran 20 hosts at once and a bad limit 8."""
    monkeypatch.setenv("IOSPKI_MAX_HOSTS", "5x")
    with pytest.raises(InventoryError, match=r"IOSPKI_MAX_HOSTS='5x'"):
        load_nornir(DEFAULT_INVENTORY)
    monkeypatch.setenv("IOSPKI_MAX_HOSTS", "3")
    assert load_nornir(DEFAULT_INVENTORY).runner.num_workers == 3  # type: ignore[attr-defined]
    monkeypatch.setenv("IOSPKI_RETRIES", "many")
    calls: list[int] = []
    with pytest.raises(settings.SettingError, match="IOSPKI_RETRIES='many'"):
        retry(lambda: calls.append(1))
    assert calls == []  # not even one attempt on a setting nobody meant


def test_the_cluster_runner_takes_stop_grace_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("distributed")
    from iospki.cluster.runner import DaskRunner

    assert DaskRunner(scheduler="tcp://127.0.0.1:1").stop_grace == 90.0
    monkeypatch.setenv("IOSPKI_STOP_GRACE", "2.5")
    monkeypatch.setenv("IOSPKI_CA_ENROLL_LIMIT", "1")
    r = DaskRunner(scheduler="tcp://127.0.0.1:1")
    assert (r.stop_grace, r.ca_enroll_limit) == (2.5, 1)
    assert DaskRunner(scheduler="tcp://127.0.0.1:1", stop_grace=7).stop_grace == 7  # the option wins
    monkeypatch.setenv("IOSPKI_STOP_GRACE", "soon")
    with pytest.raises(settings.SettingError, match="IOSPKI_STOP_GRACE='soon'"):
        DaskRunner(scheduler="tcp://127.0.0.1:1")


# --------------------------------------------------------------------------- the commands


class Listener:
    """A loopback TCP port that counts the connections made to it and closes each at once."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    lst = Listener()
    yield lst
    lst.close()


def _inventory(tmp_path: Path, port: int) -> Path:
    d = tmp_path / "inv"
    shutil.copytree(DEFAULT_INVENTORY, d)
    host = {"hostname": "127.0.0.1", "port": port, "groups": ["isr_g1"], "data": {"lab": True}}
    (d / "hosts.yaml").write_text(yaml.safe_dump({"r1": host}))
    return d


COMMANDS = {
    "collect": ["collect", "--output", "{out}", "--no-facts"],
    "status": ["status"],
    "deploy": ["deploy", "--backup-dir", "{out}"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize(
    ("var", "value"),
    [("IOSPKI_MAX_HOSTS", "5x"), ("IOSPKI_RETRIES", "three"), ("IOSPKI_CA_ENROLL_LIMIT", "0"), ("IOSPKI_STOP_GRACE", "nan")],
)
def test_a_command_refuses_a_bad_setting_before_it_touches_a_host(
    tmp_path: Path, listener: Listener, monkeypatch: pytest.MonkeyPatch, command: str, var: str, value: str
) -> None:
    inv = _inventory(tmp_path, listener.port)
    out = tmp_path / "out"
    monkeypatch.setenv(var, value)
    args = [a.format(out=out) for a in COMMANDS[command]]
    res = CliRunner().invoke(app, [*args, "--inventory", str(inv)])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and f"{var}={value!r}" in lines[0], res.output
    assert "Traceback" not in res.output
    assert listener.connections == 0 and not out.exists()


def test_the_same_command_with_usable_settings_does_reach_the_router(
    tmp_path: Path, listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control of the test above: the listener sees a command that gets past the check."""
    inv = _inventory(tmp_path, listener.port)
    for var in VARS:
        monkeypatch.setenv(var, "1")
    res = CliRunner().invoke(app, ["collect", "--output", str(tmp_path / "out"), "--no-facts", "--inventory", str(inv)])
    assert res.exit_code == 3, res.output  # the listener is no router: the host fails
    assert listener.connections >= 1


def test_lab_validate_checks_the_settings_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOSPKI_CA_ENROLL_LIMIT", "eight")
    res = CliRunner().invoke(app, ["lab", "validate", "--output", str(tmp_path / "v")])
    assert res.exit_code == 2, res.output
    assert "IOSPKI_CA_ENROLL_LIMIT='eight'" in res.output
    assert not (tmp_path / "v").exists()  # no lab started, nothing written
