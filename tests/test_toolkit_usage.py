"""Usage and configuration errors exit 2 with a message naming the cause (no devices needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from iospki.cli import app


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for v in ("IOSPKI_USERNAME", "IOSPKI_PASSWORD", "IOSPKI_ENABLE_SECRET"):
        monkeypatch.delenv(v, raising=False)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["status", "--offline", "/nonexistent/collection"], "not a collection directory"),
        (["verify", "--before", "/nonexistent/before"], "not a collection directory"),
        (["rollover", "nosuch", "--yes"], "'nosuch' is neither a CA server host nor a CA server name"),
        (["scep", "probe", "ftp://127.0.0.1/"], "not an http(s) URL"),
        (["deploy", "--limit", "zz*"], "'zz*' matches no host or group"),
        (["collect", "--inventory", "/nonexistent/inv"], "does not exist"),
    ],
)
def test_usage_errors_exit_2(args: list[str], needle: str) -> None:
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2, r.output
    assert needle in r.output


def test_real_routers_without_credentials_refuse_to_connect() -> None:
    inv = Path(__file__).resolve().parents[1] / "inventory" / "examples" / "real-routers"
    r = CliRunner().invoke(
        app, ["collect", "--inventory", str(inv), "--output", "/nonexistent/never-written"]
    )
    assert r.exit_code == 2 and "set IOSPKI_PASSWORD" in r.output
    assert not Path("/nonexistent/never-written").exists()


def test_status_offline_reports_failed_hosts(tmp_path: Path) -> None:
    from iospki.state import store

    store.write_output(
        tmp_path, "r1", "show clock detail", "*10:15:00.123 UTC Mon Mar 4 2024\nNo time source\n"
    )
    store.write_error(tmp_path, "r2", "unreachable (127.0.0.2:22): TCP connection to device failed.")
    r = CliRunner().invoke(app, ["status", "--offline", str(tmp_path), "--json"])
    assert r.exit_code == 3, r.output
    assert '"unreachable (127.0.0.2:22)' in r.output
    r = CliRunner().invoke(app, ["status", "--offline", str(tmp_path), "r1", "--json"])
    assert r.exit_code == 1  # the clock is not authoritative
    assert '"clock_authoritative": false' in r.output


def test_limit_is_the_kits_everywhere(tmp_path: Path) -> None:
    """`--limit` on a stored collection: groups of `--inventory`, and a term that matches nothing exits 2."""
    from iospki.operations.inventory import DEFAULT_INVENTORY
    from iospki.state import store

    clock = "*10:15:00.123 UTC Mon Mar 4 2024\nNo time source\n"
    for host in ("ca1", "r1"):  # hosts of the built-in inventory: ca1 is a CA server, r1 a pki_client
        store.write_output(tmp_path, host, "show clock detail", clock)
    inv = ["--inventory", str(DEFAULT_INVENTORY)]
    r = CliRunner().invoke(app, ["status", "--offline", str(tmp_path), "--limit", "pki_client", *inv, "--json"])
    assert r.exit_code == 1, r.output  # the clock is not authoritative
    assert '"host": "r1"' in r.output and '"host": "ca1"' not in r.output
    for args in (
        ["status", "--offline", str(tmp_path), "--limit", "r*,zz"],
        ["verify", "--before", str(tmp_path), "--after", str(tmp_path), "--limit", "zz", *inv],
        ["audit", "--offline", str(tmp_path), "--limit", "zz"],
    ):
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 2 and "'zz' matches no host or group" in r.output, (args, r.output)


def test_every_command_takes_the_shared_pieces_from_the_kit() -> None:
    """No command defines its own exit codes, consoles or `--inventory`/`--limit`/`--json` options."""
    import re

    commands = Path(__file__).resolve().parents[1] / "iospki" / "cli" / "commands"
    own = re.compile(r'^EXIT_[A-Z]+\b[^=\n]*=|Console\(|typer\.Option\([^)]*"--(?:inventory|limit|json)"', re.M | re.S)
    offenders = {p.name: own.findall(p.read_text()) for p in sorted(commands.glob("*.py"))}
    assert {k: v for k, v in offenders.items() if v} == {}
    assert len(offenders) >= 10  # the scan saw the command modules
