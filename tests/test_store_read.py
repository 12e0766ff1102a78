"""The store's one-listing read of a host folder (`store.read_host`, issue 13 §1): the same texts
as reading each file in text mode, the same refusals as `host_dir`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from iospki.state import store


def _host(tmp_path: Path) -> Path:
    d = tmp_path / "R1"
    d.mkdir()
    (d / "show_clock.txt").write_bytes(b"10:00:00 UTC Mon Mar 4 2024\r\nTime source is NTP\r")
    (d / "show_crypto_pki_timers.txt").write_bytes(b"bad \xff byte\n" + b"x" * 70000 + b"\r\n")
    (d / "show_crypto_pki_server_CA%7Cx.txt").write_text("escaped\n")
    (d / store.ERROR_FILE).write_text("R1: timed out\n")
    (d / "facts.json").write_text("{}")
    (d / "read_times.json").write_text("{}")
    (d / ".hidden.txt").write_text("not an output")
    (d / "notes.md").write_text("not an output")
    (d / "sub.txt").mkdir()  # a folder named like an output is no output
    return d


def test_read_host_gives_the_texts_text_mode_gives(tmp_path: Path) -> None:
    d = _host(tmp_path)
    files = store.read_host(tmp_path, "R1")
    expected = {
        store.filename_command(p.name): p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(d.iterdir())
        if p.is_file() and p.suffix == ".txt" and not p.name.startswith(("_", "."))
    }
    assert files.outputs == expected
    assert list(files.outputs) == ["show clock", "show crypto pki server CA|x", "show crypto pki timers"]
    assert files.outputs["show clock"] == "10:00:00 UTC Mon Mar 4 2024\nTime source is NTP\n"
    assert files.outputs["show crypto pki timers"].startswith("bad \ufffd byte\n")
    assert files.error == "R1: timed out" == store.read_error(tmp_path, "R1")
    assert [p.name for p in files.json] == ["facts.json", "read_times.json"]
    assert store.read_outputs(tmp_path, "R1") == files.outputs


def test_read_host_refuses_what_host_dir_refuses(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "show_clock.txt").write_text("secret\n")
    root = tmp_path / "coll"
    root.mkdir()
    os.symlink(elsewhere, root / "R2")
    (root / "R3").write_text("a file, not a host folder")
    with pytest.raises(store.StoreError, match="symbolic link"):
        store.read_host(root, "R2")
    for bad in ("../elsewhere", ".R1", "a/b"):
        with pytest.raises(store.StoreError, match="not usable as a folder name"):
            store.read_host(root, bad)
    for missing in ("R3", "R4"):
        with pytest.raises(store.StoreError, match="no such host"):
            store.read_host(root, missing)


def test_hosts_lists_folders_only(tmp_path: Path) -> None:
    for name in ("b", "a", ".hidden"):
        (tmp_path / name).mkdir()
    (tmp_path / "meta.json").write_text("{}")
    assert store.hosts(tmp_path) == ["a", "b"]
    with pytest.raises(store.StoreError, match="not a collection directory"):
        store.hosts(tmp_path / "meta.json")
    with pytest.raises(store.StoreError, match="not a collection directory"):
        store.hosts(tmp_path / "nothing")


def test_read_host_with_a_relative_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The folder is opened once and its files relative to it: a relative root reads the same texts, and the
    JSON files are named by paths the caller can open (also from another working directory)."""
    _host(tmp_path)
    absolute = store.read_host(tmp_path, "R1")
    monkeypatch.chdir(tmp_path)
    for root in ("", ".", "./"):
        files = store.read_host(root, "R1")
        assert (files.error, files.outputs) == (absolute.error, absolute.outputs)
        assert [p.resolve() for p in files.json] == absolute.json
        assert [p.read_text() for p in files.json] == ["{}", "{}"]


def test_read_host_leaves_out_the_parsed_copies_of_outputs(tmp_path: Path) -> None:
    """`collect` writes what it parsed beside each output (`<command>.json`) and `parse_errors.json`; the
    loader parses the outputs themselves, so those are not listed. Facts, read times and any other JSON are,
    also when an output happens to share their name."""
    d = _host(tmp_path)
    for name in ("show_clock", "show_crypto_pki_server_CA%7Cx", store.PARSE_ERRORS, "napalm"):
        (d / f"{name}.json").write_text('{"os_version": "copy"}')
    for name in (store.FACTS, store.READ_TIMES):
        (d / f"{name}.txt").write_text("an output named like a JSON file\n")
    files = store.read_host(tmp_path, "R1")
    assert [p.name for p in files.json] == ["facts.json", "napalm.json", "read_times.json"]
    assert {"facts", "read times", "show clock"} <= set(files.outputs)
