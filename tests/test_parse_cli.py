"""`iospki parse` through a real subprocess: JSON on stdout, exit 2 with one line on errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.parse_support import REAL, require_shared


def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    # the installed console script when present (as a user runs it), else the same entry point
    script = Path(sys.executable).parent / "iospki"
    cmd = [str(script)] if script.is_file() else [sys.executable, "-c", "from iospki.cli import main; main()"]
    return subprocess.run(
        [*cmd, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_file_to_json() -> None:
    require_shared()
    path = REAL / "genie" / "show_crypto_pki_server" / "iosxe__golden_output_csr8kv.txt"
    proc = _run("parse", "--command", "show crypto pki server", str(path))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    (srv,) = data["servers"]
    assert srv["name"] == "root" and srv["auto_rollover_days"] == 1
    assert (
        srv["autorollover_at"] == "2025-01-03T12:58:34"
        and srv["ca_fingerprint"] == "CF2C23D1560F25DB22E9D10FE595A6D6"
    )


def test_stdin_with_platform_and_crlf() -> None:
    text = "R1#show crypto pki timers detail\r\nPKI Timers\r\n|   48.241  (2022-01-15T08:54:35Z)\r\n  |   48.241  (2022-01-15T08:54:35Z) SESSION CLEANUP\r\nR1#"
    proc = _run("parse", "-c", "show crypto pki timers detail", "--platform", "iosxe", "-", stdin=text)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "timers": [
            {
                "section": "PKI Timers",
                "kind": "SESSION CLEANUP",
                "target": None,
                "remaining_seconds": 48.241,
                "at": "2022-01-15T08:54:35",
                "label": "SESSION CLEANUP",
            }
        ]
    }


@pytest.mark.parametrize(
    ("args", "stdin", "needle"),
    [
        (["parse", "-c", "show clock", "-"], "this is not a clock\n", "unexpected line"),
        (["parse", "-c", "show crypto pki nonsense", "-"], "x\n", "no parser for this command"),
        (["parse", "-c", "show ntp status", "-"], "", "empty output"),
    ],
)
def test_errors_exit_2_with_one_line(args: list[str], stdin: str, needle: str) -> None:
    proc = _run(*args, stdin=stdin)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and lines[0].startswith("error: ")


def test_missing_file_exit_2(tmp_path: Path) -> None:
    proc = _run("parse", "-c", "show clock", str(tmp_path / "absent.txt"))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


def test_several_files_give_one_object_keyed_by_file(tmp_path: Path) -> None:
    """Several captures of one command (issue 12 §15): one JSON object keyed by file; a bad one exits 2 naming it."""
    timers = "PKI Timers\n|   48.241  (2022-01-15T08:54:35Z)\n  |   48.241  (2022-01-15T08:54:35Z) {kind}\n"
    a, b = tmp_path / "r1.txt", tmp_path / "r2.txt"
    a.write_text(timers.format(kind="SESSION CLEANUP"))
    b.write_text(timers.format(kind="RENEW tp"))
    proc = _run("parse", "-c", "show crypto pki timers detail", str(a), str(b))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert list(data) == [str(a), str(b)]
    assert [data[str(p)]["timers"][0]["kind"] for p in (a, b)] == ["SESSION CLEANUP", "RENEW"]
    bad = tmp_path / "bad.txt"
    bad.write_text("PKI Timers\n|   48.241  (2022-99-15T08:54:35Z) RENEW tp\n")
    proc = _run("parse", "-c", "show crypto pki timers detail", str(a), str(bad))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith(f"error: {bad}:") and len(proc.stderr.splitlines()) == 1, proc.stderr


def test_unknown_command_lists_the_known_ones() -> None:
    """A command without a parser names the commands `parse` knows (issue 12 §15); the list covers every parser."""
    import re

    from iospki.cli.commands.parse import COMMANDS
    from iospki.parsers import normalize_command, registered

    proc = _run("parse", "-c", "show crypto pki nonsense", "-", stdin="x\n")
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith(
        "error: stdin: cannot parse 'show crypto pki nonsense': no parser for this command; known commands: "
    )
    assert all(c in proc.stderr for c in COMMANDS)
    uncovered = [p for p in registered() if not any(re.fullmatch(p, normalize_command(c)) for c in COMMANDS)]
    assert uncovered == [], f"add a spelling of these to iospki.cli.commands.parse.COMMANDS: {uncovered}"
    assert not [c for c in COMMANDS if not any(re.fullmatch(p, normalize_command(c)) for p in registered())]
