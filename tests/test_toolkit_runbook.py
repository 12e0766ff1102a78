"""The README's ten-line runbook, run as written (only the inventory path and output dir point at the test lab)."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab_fixture import LabHandle, MakeLab
from tests.toolkit_support import HOST_DATA, device, need_pki

REPO = Path(__file__).resolve().parents[1]


def runbook() -> str:
    text = (REPO / "README.md").read_text()
    section = text.split("## Your own runbook (`iospki.tasks`)", 1)
    assert len(section) == 2, "README lost its runbook section"
    m = re.search(r"```python\n(.*?)```", section[1], re.S)
    assert m, "no python block in the runbook section"
    return m.group(1)


def test_runbook_is_ten_lines() -> None:
    code = [ln for ln in runbook().splitlines() if ln.strip()]
    assert len(code) <= 10, code
    assert "from iospki.tasks import" in runbook()


@pytest.fixture(scope="module")
def lab(make_lab_module: MakeLab) -> Iterator[LabHandle]:
    yield make_lab_module(
        hosts=[("ca1", "csr1k"), ("r1", "isr_g1"), ("r2", "asr1k")],
        host_data={**HOST_DATA, "r2": HOST_DATA["r1"]},
    )


@pytest.mark.lab
def test_runbook_runs_against_the_lab(
    lab: LabHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from iospki.cli import app

    for v in ("IOSPKI_USERNAME", "IOSPKI_PASSWORD", "IOSPKI_ENABLE_SECRET", "IOSPKI_CHALLENGE_PASSWORD"):
        monkeypatch.delenv(v, raising=False)
    need_pki(lab)
    r = CliRunner().invoke(
        app, ["deploy", "--inventory", str(lab.inventory_dir), "--backup-dir", str(tmp_path / "b")]
    )
    assert r.exit_code == 0, r.output
    before = {
        h: re.findall(
            r"Certificate Serial Number \(hex\): (\S+)", device(lab, h, "show crypto pki certificates LABCA")
        )
        for h in ("r1", "r2")
    }
    code = (
        runbook()
        .replace('"inventory"', repr(str(lab.inventory_dir)))
        .replace('"out/after-renew"', repr(str(tmp_path / "after")))
    )
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README runbook", "exec"), {})  # noqa: S102 - the README's code, verbatim
    printed = out.getvalue()
    assert "FAILED" not in printed, printed
    for h in ("r1", "r2"):
        line = next(ln for ln in printed.splitlines() if ln.startswith(h + " "))
        old, new = line.split(" ", 1)[1].split(" -> ")
        now = device(lab, h, "show crypto pki certificates LABCA")
        assert new.strip("[]'") in now and new != old
        assert set(before[h]) - set(re.findall(r"Certificate Serial Number \(hex\): (\S+)", now)), (
            "old identity serial still installed"
        )
        assert (tmp_path / "after" / h / "show_crypto_pki_certificates_verbose.txt").is_file()
