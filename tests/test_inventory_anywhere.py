"""The inventory from any directory (issue 12 §14): `load_nornir` resolves an inventory's files against its own
folder, so a runbook works wherever it runs; a plain `InitNornir(config_file=...)` resolves them against the
working directory, which is why the README points to `load_nornir`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from nornir import InitNornir

from iospki.operations.inventory import DEFAULT_INVENTORY, load_nornir


def test_load_nornir_works_from_another_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inv = tmp_path / "site" / "inventory"
    shutil.copytree(DEFAULT_INVENTORY, inv)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    expected = {"ca1", "r1", "r2"}
    assert expected <= set(load_nornir().inventory.hosts)  # the built-in lab, no path at all
    assert expected <= set(load_nornir(inv).inventory.hosts)  # an absolute path
    assert expected <= set(load_nornir("../site/inventory").inventory.hosts)  # relative to here
    assert set(load_nornir(inv, limit="r1").inventory.hosts) == {"r1"}
    # the case the README warns about: Nornir reads hosts.yaml relative to the working directory
    with pytest.raises(FileNotFoundError, match="hosts.yaml"):
        InitNornir(config_file=str(inv / "config.yaml"))
