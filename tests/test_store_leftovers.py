"""The temporary files (`.tmp-XXXXXXXX.part`) a collect killed with SIGKILL leaves in its collection.

A real `iospki collect` against the lab is killed while a slow router's outputs are staged (the store writes a
host's files as temporary files and renames them together when the host is done, `store.durable_batch`).
Then: readers skip the leftovers, the audit still fails every host (meta.json says interrupted), a collect
that cannot take the collection (another writer holds its lock) touches nothing, and the next collect that
takes it removes exactly the store's own leftovers.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iospki.cli import app
from iospki.state import store
from iospki.state.loader import load_collection
from tests.lab_fixture import LabHandle

pytestmark = pytest.mark.lab

CLI = [sys.executable, "-c", "from iospki.cli import main; main()"]
SLOW = "r1"  # 0.5 s per line: its staged outputs wait long enough to be caught
HOSTS = ["ca1", SLOW]  # --limit: two routers are enough, and keep the test short


def _collect(lab: LabHandle, out: Path) -> list[str]:
    return [*CLI, "collect", "-i", str(lab.inventory_dir), "-o", str(out), "--no-facts", "--limit", ",".join(HOSTS)]


def _leftovers(root: Path) -> list[Path]:
    return sorted(root.rglob(".tmp-*"))


def _busy_collect_touches_nothing(lab: LabHandle, out: Path) -> None:
    """While a collect writes `out`, a second one is refused (exit 3) and removes none of its staged files."""
    staged = list(out.glob(f"{SLOW}/.tmp-*.part"))
    busy = subprocess.run(_collect(lab, out), capture_output=True, text=True, timeout=120)
    assert busy.returncode == 3 and "being written by" in busy.stderr, busy.stdout + busy.stderr
    # the slow router's batch is renamed into place only when it is done: not yet, so all its files are there
    assert not (out / SLOW / "show_version.txt").exists(), "the slow router finished: too fast to show this"
    assert all(p.exists() for p in staged), [p for p in staged if not p.exists()]


def test_a_killed_collect_leaves_temporary_files_that_the_next_collect_removes(
    lab: LabHandle, tmp_path: Path
) -> None:
    out = tmp_path / "c"
    lab.fault(SLOW, "slow", True)
    proc = subprocess.Popen(_collect(lab, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while len(list(out.glob(f"{SLOW}/.tmp-*.part"))) < 2:
            assert proc.poll() is None, f"collect ended (exit {proc.returncode}) before it was killed"
            assert time.monotonic() < deadline, "no staged output appeared"
            time.sleep(0.02)
        _busy_collect_touches_nothing(lab, out)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        lab.fault(SLOW, "slow", False)
    left = _leftovers(out)
    assert left and all(p.name.endswith(".part") for p in left), left

    # readers skip them: the host's outputs are only what was renamed into place
    assert store.read_outputs(out, SLOW) == {
        store.filename_command(p.name): p.read_text() for p in (out / SLOW).glob("*.txt") if p.name[0] != "_"
    }
    assert {s.host for s in load_collection(out)} == set(HOSTS)
    # no false green: the interrupted collection fails every host in the audit
    r = CliRunner().invoke(app, ["audit", "--offline", str(out), "--format", "json"])
    assert r.exit_code == 3, r.output
    incomplete = {f["host"] for f in json.loads(r.stdout)["findings"] if f["rule"] == "collection-incomplete"}
    assert incomplete == set(HOSTS)

    # files that only look alike are not the store's: they stay
    strangers = [out / SLOW / ".tmp-notes.part", out / SLOW / "notes.part", out / ".tmp-keep"]
    for p in strangers:
        p.write_text("not the store's")
    # the next collect takes the collection (no live writer) and removes the store's leftovers, only those
    done = subprocess.run(_collect(lab, out), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not any(p.exists() for p in left)
    assert all(p.read_text() == "not the store's" for p in strangers)
    assert _leftovers(out) == sorted([strangers[0], strangers[2]])
    meta = store.read_meta(out) or {}
    assert "interrupted" not in meta and meta["hosts_ok"] == sorted(HOSTS), meta


def test_remove_stale_temp_never_follows_a_symbolic_link(tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "c", tmp_path / "elsewhere"
    (root / "r1").mkdir(parents=True)
    elsewhere.mkdir()
    outside = elsewhere / ".tmp-abcd1234.part"
    outside.write_text("someone else's")
    (root / "r2").symlink_to(elsewhere)  # a host folder that is a link: not walked
    (root / ".tmp-link0000.part").symlink_to(outside)  # a leftover name that is a link: not a file of ours
    stale = [root / ".tmp-probe-zz_9abcd", root / "r1" / ".tmp-x1y2z3w4.part"]
    for p in stale:
        p.write_text("")
    assert sorted(store.remove_stale_temp(root)) == sorted(stale)
    assert outside.exists() and (root / ".tmp-link0000.part").is_symlink()
