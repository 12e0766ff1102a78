"""Issue 12 §11: reports follow the umask, raw collections stay private to the user.

A report (`audit -o`, the Prometheus textfile, `forecast --picture`) is read by other users (node_exporter's
textfile collector, a web server): it gets the mode any file of the user gets (0666 & ~umask), also when it
replaces an older one. A collection holds device configuration: folders 0700 and files 0600 whatever the umask.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iospki.audit import run_audit
from iospki.cli import app
from iospki.reports import write
from iospki.state import store
from iospki.state.loader import load_collection
from tests.lab_fixture import LabHandle
from tests.test_incomplete_collection import complete

CLI = [sys.executable, "-c", "from iospki.cli import main; main()"]


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def run(umask: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=lambda: os.umask(umask) and None,
    )


@contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def run_here(mask: int, *args: str) -> tuple[int, str]:
    """`iospki ARGS` in this process under umask `mask` (the umask is the process's, as in a child's): twelve
    runs without twelve Python start-ups; test_collect_against_the_lab_... runs the console command as a child."""
    with umask(mask):
        r = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return r.exit_code, r.output


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_reports_follow_the_umask(tmp_path: Path, mask: int, expected: int) -> None:
    coll = complete(tmp_path / "coll")
    reports = tmp_path / "reports"
    prom = reports / "iospki.prom"
    prom.parent.mkdir()
    prom.write_text("old\n")
    prom.chmod(0o600)  # what every report got before: replaced, the new file follows the umask
    for fmt, path in (
        ("prometheus", prom),
        ("json", reports / "audit.json"),
        ("table", reports / "audit.md"),
    ):
        rc, out = run_here(mask, "audit", "--offline", str(coll), "--format", fmt, "-o", str(path))
        assert rc in (0, 1), out
        assert mode(path) == expected, (fmt, oct(mode(path)))
    pic = reports / "t.svg"
    rc, out = run_here(mask, "forecast", "--offline", str(coll), "--picture", str(pic), "--json")
    assert rc == 0, out
    assert mode(pic) == expected and pic.read_bytes().lstrip().startswith(b"<?xml")
    assert prom.read_text() != "old\n" and "x509_cert_not_after" in prom.read_text()


def test_validation_and_library_reports_follow_the_umask(tmp_path: Path) -> None:
    result = run_audit(load_collection(complete(tmp_path / "coll")))
    with umask(0o022):
        p = write(result, "junit", tmp_path / "out" / "junit.xml")
    assert mode(p) == 0o644
    with umask(0o077):
        p = write(result, "json", tmp_path / "out" / "audit.json")
    assert mode(p) == 0o600


def test_a_collection_is_private_whatever_the_umask(tmp_path: Path) -> None:
    root = tmp_path / "c"
    with umask(0):
        store.prepare_collection(root)
        store.write_output(root, "R1", "show clock", "*10:15:00.123 UTC Mon Mar 4 2024\n")
        store.write_json(root, "R1", "facts", {"model": "x"})
        store.write_error(root, "R2", "unreachable")
        store.write_meta(root, ["R1"], ["R2"])
    assert mode(root) == 0o700
    assert {mode(p) for p in root.iterdir() if p.is_dir()} == {0o700}
    assert {mode(p) for p in root.rglob("*") if p.is_file()} == {0o600}


def test_collect_against_the_lab_is_private_with_umask_000(lab: LabHandle, tmp_path: Path) -> None:
    out = tmp_path / "collection"
    r = run(0, "collect", "--inventory", str(lab.inventory_dir), "--output", str(out), "--no-facts")
    assert r.returncode == 0, r.stdout + r.stderr
    dirs = [out, *(p for p in out.rglob("*") if p.is_dir())]
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(dirs) == 1 + len(lab.hosts) and len(files) > 10 * len(lab.hosts)
    assert {mode(d) for d in dirs} == {0o700}, {str(d): oct(mode(d)) for d in dirs}
    assert {mode(f) for f in files} == {0o600}
    # the report of it is for others to read
    report = tmp_path / "audit.prom"
    r = run(0o022, "audit", "--offline", str(out), "--format", "prometheus", "-o", str(report))
    assert r.returncode in (0, 1), r.stdout + r.stderr
    assert mode(report) == 0o644
