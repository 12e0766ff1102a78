"""`deploy --dry-run` shows every line the real deploy then pushes, the archive password redacted (issue 12 §9).

Against the lab: a CA server whose intent archives its key (`database archive pkcs12`). The dry run's lines are
compared with what the routers' running configs gained from the deploy, block by block; a second dry run after
the deploy is in sync everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from iospki.operations.configdiff import config_tree
from iospki.operations.inventory import LAB_CA_PASSPHRASE
from tests.lab_fixture import LabHandle, MakeLab
from tests.toolkit_support import HOST_DATA, HOSTS, SECRETS, Cli, ca_intent, device, need_pki, no_timestamps

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def lab(make_lab_module: MakeLab) -> Iterator[LabHandle]:
    data = dict(HOST_DATA)
    data["ca1"] = {**HOST_DATA["ca1"], "ca_server": {**ca_intent(), "database_archive": "pkcs12"}}
    handle = make_lab_module(hosts=HOSTS, host_data=data)
    need_pki(handle)
    yield handle


@pytest.fixture()
def cli(monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(monkeypatch, [])


def _plan(cli: Cli, lab: LabHandle) -> dict[str, dict[str, object]]:
    rc, out = cli("deploy", "--dry-run", "--json", "--inventory", str(lab.inventory_dir))
    assert rc == 0, out
    assert not [s for s in SECRETS if s in out], "a secret in the dry run's output"
    return {r["host"]: r for r in json.loads(out)}


def _key(line: str) -> str:
    """A config line as compared: whitespace folded, a password and what follows it left out (IOS shows
    a secret encrypted or not at all; the dry run shows it redacted)."""
    words = line.split()
    return " ".join(words[: words.index("password") + 1] if "password" in words else words)


def _gained(before: str, after: str, blocks: set[str]) -> set[str]:
    """The lines of `after` in the blocks `blocks` (top-level lines) that `before` lacks."""
    old, new = config_tree(before), config_tree(after)
    got: set[str] = set()
    for parent, children in new.items():
        if _key(parent) not in blocks:
            continue
        if parent not in old:
            got.add(_key(parent))
        got |= {_key(c) for c in children if c not in old.get(parent, [])}
    return got


def test_dry_run_lists_every_line_deploy_pushes(lab: LabHandle, cli: Cli, tmp_path: Path) -> None:
    before = {h: no_timestamps(device(lab, h, "show running-config")) for h in lab.hosts}
    plan = _plan(cli, lab)
    planned: dict[str, set[str]] = {}
    for h, row in plan.items():
        diff = row["plan"]["diff"]  # type: ignore[index]
        planned[h] = {_key(ln) for lines in diff.values() for ln in lines}
    ca_lines = [ln for ln in plan["ca1"]["plan"]["diff"]["ca_server"]]  # type: ignore[index]
    # the line the issue found missing, its password redacted (never the passphrase itself)
    assert " database archive pkcs12 password <redacted>" in ca_lines, ca_lines
    assert LAB_CA_PASSPHRASE not in json.dumps(plan)

    rc, out = cli("deploy", "--inventory", str(lab.inventory_dir), "--backup-dir", str(tmp_path / "b"))
    assert rc == 0, out
    for h in lab.hosts:
        after = no_timestamps(device(lab, h, "show running-config"))
        blocks = {ln for ln in planned[h] if not ln.startswith(" ")}
        gained = _gained(before[h], after, blocks)
        assert gained, f"{h}: the deploy changed nothing the plan named"
        # every line the deploy put into a planned block was in the dry run
        assert gained <= planned[h], f"{h}: pushed but not in the dry run: {sorted(gained - planned[h])}"
    assert "database archive pkcs12" in device(lab, "ca1", "show running-config")

    again = _plan(cli, lab)
    assert {h: r["note"] for h, r in again.items()} == dict.fromkeys(lab.hosts, "in sync")
