"""`store.durable_batch` checks each host folder once, at the batch's first write there: a symlinked folder is
still refused (nothing is written through it), for every host of the batch, and outside a batch at every write."""

from __future__ import annotations

from pathlib import Path

import pytest

from iospki.state import store


def test_a_symlinked_host_folder_is_refused_inside_a_batch(tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "coll", tmp_path / "elsewhere"
    elsewhere.mkdir()
    root.mkdir()
    (root / "r2").symlink_to(elsewhere)
    with store.durable_batch():
        store.write_output(root, "r1", "show clock", "10:00")
        store.write_json(root, "r1", "read_times", {})
        with pytest.raises(store.StoreError, match="symbolic link"):
            store.write_output(root, "r2", "show clock", "10:00")  # another host: checked on its own
    assert store.read_output(root, "r1", "show clock") == "10:00"
    assert list(elsewhere.iterdir()) == []


def test_outside_a_batch_every_write_checks_the_folder(tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "coll", tmp_path / "elsewhere"
    elsewhere.mkdir()
    store.write_output(root, "r1", "show clock", "10:00")
    (root / "r1" / "show_clock.txt").unlink()
    (root / "r1").rmdir()
    (root / "r1").symlink_to(elsewhere)  # swapped between two writes of no batch: the second is refused
    with pytest.raises(store.StoreError, match="symbolic link"):
        store.write_output(root, "r1", "show version", "x")
    assert list(elsewhere.iterdir()) == []


def test_each_batch_checks_again(tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "coll", tmp_path / "elsewhere"
    elsewhere.mkdir()
    with store.durable_batch():
        store.write_output(root, "r1", "show clock", "10:00")
    for p in (root / "r1").iterdir():
        p.unlink()
    (root / "r1").rmdir()
    (root / "r1").symlink_to(elsewhere)
    with pytest.raises(store.StoreError, match="symbolic link"), store.durable_batch():
        store.write_output(root, "r1", "show clock", "10:01")
    assert list(elsewhere.iterdir()) == []
