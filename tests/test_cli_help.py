"""Help and usage errors of every command (issue 12 §15): each option and argument says what it is, a flag shows
no value type, an unknown command lists the known ones, and usage errors exit 2 everywhere, the lab included."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from iospki.cli import app

runner = CliRunner()


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, group
    for name, cmd in getattr(group, "commands", {}).items():
        yield from _commands(cmd, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(app)))


def test_the_walk_sees_every_command() -> None:
    names = {" ".join(p) for p, _ in COMMANDS}
    assert {"audit", "forecast", "parse", "lab status", "lab timers", "scep probe", "inventory keyscan"} <= names
    assert len(names) >= 25, names


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p) or "iospki")
def test_help_describes_every_option_and_shows_no_bool(path: tuple[str, ...]) -> None:
    cmd = dict(COMMANDS)[path]
    res = runner.invoke(app, [*path, "--help"], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "<bool>" not in res.output and "==SUPPRESS==" not in res.output, res.output
    undocumented = [p.name for p in cmd.params if not (getattr(p, "help", None) or "").strip()]
    assert undocumented == [], f"iospki {' '.join(path)}: no help for {undocumented}"
    assert (cmd.help or "").strip(), f"iospki {' '.join(path)} has no description"


@pytest.mark.parametrize("command", ["audit", "forecast"])
def test_limit_help_names_groups(command: str) -> None:
    res = runner.invoke(app, [command, "--help"], terminal_width=200)
    line = next(ln for ln in res.output.splitlines() if "--limit" in ln)
    assert "groups" in line, line


@pytest.mark.parametrize("args", [["bogus"], ["lab", "bogus"], ["inventory", "bogus"], ["scep", "bogus"]])
def test_unknown_command_lists_the_known_ones(args: list[str]) -> None:
    res = runner.invoke(app, args, terminal_width=200)
    assert res.exit_code == 2, res.output
    group = dict(COMMANDS)[tuple(args[:-1])]
    text = " ".join(res.output.replace("│", " ").split())
    assert "No such command 'bogus'" in text
    assert "Commands: " + ", ".join(sorted(group.commands)) in text, text


def _lab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iospki.lab", *args], capture_output=True, text=True, timeout=60
    )


def test_lab_help_hides_serve_and_usage_errors_exit_2(tmp_path: Any) -> None:
    helptext = _lab("--help")
    assert helptext.returncode == 0
    assert "SUPPRESS" not in helptext.stdout and "serve" not in helptext.stdout, helptext.stdout
    for args in (["bogus"], ["clock", "bogus"], ["fault", "r1"], ["--state", str(tmp_path), "clock", "set"]):
        res = _lab(*args)
        assert res.returncode == 2, (args, res.stderr)
        assert "Traceback" not in res.stderr


def test_audit_to_a_file_prints_its_finding_count(tmp_path: Any) -> None:
    """The demo's audit step writes HTML to a file; the console still says how many findings it holds."""
    from datetime import datetime, timedelta

    from tests.pki_samples import Client, Server, Site, write_site

    d0 = datetime(2025, 1, 1, 8, 0, 0)
    site = Site(Server("ROOT", d0, d0 + timedelta(days=730)), [Client("R1", id_start=d0, id_end=d0 + timedelta(days=365))])
    write_site(tmp_path / "coll", site, d0 + timedelta(days=400))  # R1's certificate has expired
    report = tmp_path / "audit.html"
    audit = ["audit", "--offline", str(tmp_path / "coll")]
    res = runner.invoke(app, [*audit, "--format", "html", "-o", str(report)])
    as_json = runner.invoke(app, [*audit, "--format", "json"])
    n = len(json.loads(as_json.stdout)["findings"])
    assert n > 0 and res.exit_code == as_json.exit_code == 1, res.output
    assert report.is_file()
    assert f"2 hosts, 0 failed, {n} finding{'s' if n != 1 else ''}" in res.output, res.output


def _readme_commands() -> list[str]:
    """Every `iospki ...` line of the README's sh blocks (comments and pipes cut off)."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    blocks = [b.split("\n", 1)[1] for b in text.split("```")[1::2] if b.startswith("sh\n")]
    lines = [ln.split(" #", 1)[0].split(" | ", 1)[0].strip() for b in blocks for ln in b.splitlines()]
    return [ln for ln in lines if ln.startswith("iospki ")]


def test_readme_commands_exist_with_their_flags() -> None:
    """The README's command blocks work as written (issue 12 §13): each command exists and takes each flag shown."""
    import shlex

    root = dict(COMMANDS)[()]
    lines = _readme_commands()
    assert len(lines) >= 20, lines
    wrong = []
    for line in lines:
        words = [w.strip("[]") for w in shlex.split(line)[1:]]
        cmd, path = root, []
        while words and words[0] in getattr(cmd, "commands", {}):
            path.append(words[0])
            cmd = cmd.commands[words.pop(0)]
        if getattr(cmd, "commands", None):
            wrong.append(f"{line}: no such command after {' '.join(['iospki', *path])}")
            continue
        known = {o for p in cmd.params for o in (*getattr(p, "opts", ()), *getattr(p, "secondary_opts", ()))}
        wrong += [f"{line}: {w}" for w in words if w.startswith("-") and w != "-" and w.split("=")[0] not in known]
    assert wrong == [], wrong


def test_readme_and_fault_help_list_every_lab_fault() -> None:
    from pathlib import Path

    from iospki.lab.device import FAULT_KINDS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The lab twin", 1)[1].split("\n## ", 1)[0]
    res = runner.invoke(app, ["lab", "fault", "--help"], terminal_width=400)
    helptext = " ".join(res.output.replace("│", " ").split())
    assert [k for k in FAULT_KINDS if k not in section] == []
    assert [k for k in FAULT_KINDS if k not in helptext] == []
