"""Issue 12 §4 and §10: host names that are no safe file names, symlinked host folders,
duplicate address:port pairs and an empty hosts.yaml (no devices needed)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from iospki.cli import app
from iospki.operations.inventory import DEFAULT_INVENTORY, InventoryError, load_nornir
from iospki.state import store
from tests.lab_fixture import MakeLab

BAD_NAMES = {
    "../../evil": "path separator",
    "..": "starts with a dot",
    ".": "starts with a dot",
    "/tmp/abs": "path separator",
    "a/b": "path separator",
    "nul\x00byte": "NUL",
    ".hidden": "starts with a dot",
    "back\\slash": "path separator",
    "new\nline": "not a safe file name",
    "-dash": "not a safe file name",
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for v in ("IOSPKI_USERNAME", "IOSPKI_PASSWORD", "IOSPKI_ENABLE_SECRET", "IOSPKI_KNOWN_HOSTS"):
        monkeypatch.delenv(v, raising=False)


def _inventory(tmp_path: Path, hosts: dict[str, object] | None) -> Path:
    d = tmp_path / "inv"
    shutil.copytree(DEFAULT_INVENTORY, d)
    (d / "hosts.yaml").write_text("" if hosts is None else yaml.safe_dump(hosts, sort_keys=False))
    return d


def _run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, list(args))
    return res.exit_code, res.output


@pytest.mark.parametrize("name", sorted(BAD_NAMES), ids=repr)
def test_validate_rejects_a_host_name_that_is_no_safe_file_name(tmp_path: Path, name: str) -> None:
    inv = _inventory(
        tmp_path,
        {
            "r1": {"hostname": "127.0.0.1", "groups": ["isr_g1"], "data": {"lab": True}},
            name: {"hostname": "127.0.0.2", "groups": ["isr_g1"], "data": {"lab": True}},
        },
    )
    code, out = _run("inventory", "validate", "--inventory", str(inv))
    assert code == 2, out
    assert "Traceback" not in out
    assert repr(name) in out and BAD_NAMES[name] in out
    with pytest.raises(InventoryError, match="safe file name"):
        load_nornir(inv)


@pytest.mark.parametrize("command", [["collect", "--output", "{out}"], ["deploy", "--backup-dir", "{out}"]])
def test_collect_and_deploy_refuse_the_name_in_one_line_and_write_nothing(
    tmp_path: Path, command: list[str]
) -> None:
    inv = _inventory(
        tmp_path, {"../../evil": {"hostname": "127.0.0.2", "groups": ["isr_g1"], "data": {"lab": True}}}
    )
    out_dir = tmp_path / "a" / "b" / "out"
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    args = [c.format(out=out_dir) for c in command]
    code, out = _run(*args, "--inventory", str(inv))
    assert code == 2, out
    assert "Traceback" not in out
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert len(lines) == 1 and "'../../evil'" in lines[0] and "path separator" in lines[0], out
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert after == before  # no evil/ beside out/, no out/ either


def test_store_refuses_bad_names_and_symlinked_host_folders(tmp_path: Path) -> None:
    root = tmp_path / "coll"
    for name in BAD_NAMES:
        with pytest.raises(store.StoreError, match="not usable as a folder name"):
            store.write_output(root, name, "show clock", "x")
    assert not (tmp_path / "evil").exists() and not any(tmp_path.glob("*evil*"))
    # a good host writes inside the root
    p = store.write_output(root, "r1", "show clock", "*10:00:00 UTC Mon Mar 4 2024")
    assert p.resolve().parent.parent == root.resolve()
    # a host folder that is a symlink (to anywhere) is refused for writes and reads
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, root / "r2")
    with pytest.raises(store.StoreError, match="symbolic link"):
        store.write_output(root, "r2", "show clock", "x")
    with pytest.raises(store.StoreError, match="symbolic link"):
        store.read_outputs(root, "r2")
    with pytest.raises(store.StoreError, match="symbolic link"):
        store.write_error(root, "r2", "boom")
    assert list(outside.iterdir()) == []


def test_backup_dir_resolves_inside_its_root(tmp_path: Path) -> None:
    root = tmp_path / "backups"
    d = store.host_dir(root, "r1", create=True)
    assert d == root / "r1" and d.is_dir()
    os.symlink(tmp_path, root / "r9")
    with pytest.raises(store.StoreError, match="symbolic link"):
        store.host_dir(root, "r9", create=True)
    with pytest.raises(store.StoreError, match="path separator"):
        store.host_dir(root, "../../evil", create=True)


def test_validate_rejects_duplicate_address_and_port(tmp_path: Path) -> None:
    base = {"groups": ["isr_g1"], "data": {"lab": True}}
    inv = _inventory(
        tmp_path,
        {
            "r1": {"hostname": "127.0.0.1", "port": 2222, **base},
            "r2": {"hostname": "127.0.0.1", "port": 2222, **base},
            "r3": {"hostname": "127.0.0.1", "port": 2223, **base},  # same address, other port: fine
        },
    )
    code, out = _run("inventory", "validate", "--inventory", str(inv), "--json")
    assert code == 2, out
    problems = {(p["host"], p["problem"]) for p in json.loads(out)["problems"]}
    assert problems == {
        ("r1", "address 127.0.0.1:2222 is also used by r2"),
        ("r2", "address 127.0.0.1:2222 is also used by r1"),
    }
    # a port inherited from defaults.yaml (2222 here) counts as the host's own
    inv2 = _inventory(
        tmp_path / "two",
        {"r1": {"hostname": "127.0.0.1", **base}, "r2": {"hostname": "127.0.0.1", "port": 2222, **base}},
    )
    code, out = _run("inventory", "validate", "--inventory", str(inv2))
    assert code == 2 and "127.0.0.1:2222 is also used by" in out, out


@pytest.mark.parametrize("content", [None, "{}\n", "# nothing here\n"])
def test_validate_rejects_an_empty_hosts_file(tmp_path: Path, content: str | None) -> None:
    inv = _inventory(tmp_path, None)
    if content is not None:
        (inv / "hosts.yaml").write_text(content)
    code, out = _run("inventory", "validate", "--inventory", str(inv))
    assert code == 2, out
    assert "holds no hosts" in out and "Traceback" not in out


def test_builtin_inventory_still_validates() -> None:
    code, out = _run("inventory", "validate")
    assert code == 0, out


@pytest.mark.lab
def test_collect_into_a_symlinked_host_folder_fails_that_host_in_one_line(
    make_lab: MakeLab, tmp_path: Path
) -> None:
    lab = make_lab(hosts=[("r1", "isr_g1"), ("r3", "isr4k")])
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, out / "r1")
    res = CliRunner().invoke(
        app, ["collect", "--inventory", str(lab.inventory_dir), "--output", str(out), "--no-facts"]
    )
    assert res.exit_code == 3, res.output
    assert "Traceback" not in res.output
    assert "symbolic link" in res.output and "r1" in res.output
    assert list(elsewhere.iterdir()) == []  # nothing written through the link
    assert store.read_output(out, "r3", "show version")
    assert (store.read_meta(out) or {})["hosts_failed"] == ["r1"]
