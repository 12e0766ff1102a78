"""Issue 12 §6: `collect --output` and `audit -o` on a path that cannot be written.

A read-only filesystem, a read-only directory, an existing file where a directory is needed, a full disk
(a 64 KiB tmpfs): each is one line on stderr naming the path and the cause, exit 2 (a wrong path) or 3 (the
environment refuses it), no traceback, and nothing half-written: no partial file under the final name, no
temporary file left, an older report under that name intact.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from iospki.state import store
from tests.lab_fixture import LabHandle
from tests.test_incomplete_collection import complete

CLI = [sys.executable, "-c", "from iospki.cli import main; main()"]
NOBODY = 65534


def run(*args: str, as_nobody: bool = False) -> subprocess.CompletedProcess[str]:
    prefix: list[str] = []
    if as_nobody and os.geteuid() == 0:  # a read-only directory does not stop root: run as another user
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot drop to another user")
        prefix = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    return subprocess.run(
        [*prefix, *CLI, *args], capture_output=True, text=True, timeout=300, cwd=tempfile.gettempdir()
    )


def one_line(proc: subprocess.CompletedProcess[str], rc: int, path: Path, cause: str) -> str:
    """The command failed with `rc` and said so in one stderr line naming `path` and `cause`."""
    both = proc.stdout + proc.stderr
    assert "Traceback" not in both, both
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == rc, both
    assert len(lines) == 1, lines
    assert str(path) in lines[0] and cause in lines[0], lines[0]
    return lines[0]


def no_temporaries(where: Path) -> None:
    left = [p for p in where.rglob("*") if p.name.startswith(".tmp-")] if where.is_dir() else []
    assert left == [], left


@contextmanager
def tmpfs(where: Path, options: str) -> Iterator[Path]:
    """A small tmpfs at `where` (root only; skipped, with the reason, where mount is not permitted)."""
    where.mkdir(parents=True, exist_ok=True)
    got = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True, text=True
    )
    if got.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {got.stderr.strip() or got.returncode}")
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)


def fill(fs: Path) -> None:
    """Fill the filesystem at `fs` to the last byte."""
    fd = os.open(fs / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    return complete(tmp_path / "coll")


@pytest.fixture
def shared_base() -> Iterator[Path]:
    """A folder another user can reach (pytest's tmp_path is private to root)."""
    base = Path(tempfile.mkdtemp(prefix="iospki-paths-"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


# --------------------------------------------------------------------------- audit -o


def test_audit_output_under_an_existing_file_is_a_usage_error(collection: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "report"
    blocker.write_text("a file, not a folder\n")
    proc = run("audit", "--offline", str(collection), "-f", "json", "-o", str(blocker / "audit.json"))
    one_line(proc, 2, blocker, "not a directory")
    assert blocker.read_text() == "a file, not a folder\n"


def test_audit_output_onto_a_directory_is_a_usage_error(collection: Path, tmp_path: Path) -> None:
    target = tmp_path / "reports"
    target.mkdir()
    proc = run("audit", "--offline", str(collection), "-f", "json", "-o", str(target))
    one_line(proc, 2, target, "Is a directory")
    assert list(target.iterdir()) == []
    no_temporaries(tmp_path)


def test_audit_output_in_a_read_only_directory(collection: Path, shared_base: Path) -> None:
    coll = shared_base / "coll"
    shutil.copytree(collection, coll)
    for p in [coll, *coll.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    ro = shared_base / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    proc = run("audit", "--offline", str(coll), "-f", "json", "-o", str(ro / "audit.json"), as_nobody=True)
    one_line(proc, 3, ro / "audit.json", "Permission denied")
    assert list(ro.iterdir()) == []


def test_audit_output_on_a_read_only_filesystem(collection: Path, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "size=64k,ro") as fs:
        proc = run("audit", "--offline", str(collection), "-f", "json", "-o", str(fs / "audit.json"))
        one_line(proc, 3, fs / "audit.json", "Read-only file system")
        assert list(fs.iterdir()) == []


def test_audit_output_on_a_full_disk_keeps_the_old_report(collection: Path, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "full", "size=64k") as fs:
        old = fs / "audit.html"
        old.write_text("yesterday's report\n")
        fill(fs)
        proc = run("audit", "--offline", str(collection), "-f", "html", "-o", str(old))
        one_line(proc, 3, old, "No space left on device")
        assert old.read_text() == "yesterday's report\n"  # never half of the new one
        no_temporaries(fs)
        assert sorted(p.name for p in fs.iterdir()) == ["audit.html", "filler"]


def test_forecast_picture_on_a_full_disk(collection: Path, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "full", "size=64k") as fs:
        fill(fs)
        proc = run("forecast", "--offline", str(collection), "--picture", str(fs / "t.svg"), "--json")
        one_line(proc, 3, fs / "t.svg", "No space left on device")
        no_temporaries(fs)
        assert not (fs / "t.svg").exists()


# --------------------------------------------------------------------------- collect --output
# The unusable output is found before any device is read: the built-in lab inventory is enough (no lab runs).


def test_collect_output_is_an_existing_file(tmp_path: Path) -> None:
    blocker = tmp_path / "collection"
    blocker.write_text("x\n")
    one_line(run("collect", "--output", str(blocker)), 2, blocker, "not a directory")
    one_line(run("collect", "--output", str(blocker / "sub")), 2, blocker, "not a directory")
    assert blocker.read_text() == "x\n"


def test_collect_output_in_a_read_only_directory(shared_base: Path) -> None:
    ro = shared_base / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    proc = run("collect", "--output", str(ro / "c"), as_nobody=True)
    one_line(proc, 3, ro / "c", "Permission denied")
    assert list(ro.iterdir()) == []


def test_collect_output_on_a_read_only_filesystem(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "size=64k,ro") as fs:
        one_line(run("collect", "--output", str(fs / "c")), 3, fs / "c", "Read-only file system")


def test_collect_into_a_full_disk_against_the_lab(lab: LabHandle, tmp_path: Path) -> None:
    """A 64 KiB tmpfs fills during the collection: one line, exit 3, every file there is whole."""
    with tmpfs(tmp_path / "full", "size=64k") as fs:
        out = fs / "c"
        proc = run("collect", "--inventory", str(lab.inventory_dir), "--output", str(out), "--no-facts")
        line = one_line(proc, 3, fs, "No space left on device")
        assert str(out) in line
        no_temporaries(fs)
        # what was stored is whole (atomic writes) and the collection is not taken for complete
        stored = list(out.rglob("*.json"))
        assert len(stored) > 1, stored
        for p in stored:
            json.loads(p.read_text())
        # the marker written before the first device read stays: an audit of this fails every host
        assert (store.read_meta(out) or {}).get("interrupted") is True
