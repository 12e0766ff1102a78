"""A first run that just works (issue 12 §12): the wheel, installed NON-editable into a fresh venv, runs the
built-in lab from another directory without `--inventory` (`iospki demo`, then `python -m iospki.lab up`,
`iospki status`, `iospki collect`, `iospki lab validate`, `iospki lab down`).

The venv gets the wheel's dependencies from the configured package index (pip's cache makes a second run
faster), so nothing of the repository's `.venv` or checkout is on its path: the built-in inventory must come
from the installed package. Slow: creating the venv takes minutes on a loaded machine, the demo 2-4 more.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from iospki.operations.inventory import DEFAULT_INVENTORY

pytestmark = [pytest.mark.lab, pytest.mark.slow]


def _builtin_lab_addresses() -> list[tuple[str, int]]:
    hosts = yaml.safe_load((DEFAULT_INVENTORY / "hosts.yaml").read_text(encoding="utf-8"))
    port = int(yaml.safe_load((DEFAULT_INVENTORY / "defaults.yaml").read_text(encoding="utf-8"))["port"])
    return [(str(h["hostname"]), int(h.get("port", port))) for h in hosts.values()]


def _listening(address: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((address, port)) == 0


@pytest.fixture(scope="module")
def installed(built_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin/ of a fresh venv holding the wheel (not editable) and its dependencies."""
    venv = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(built_wheel)],
        capture_output=True, text=True, timeout=1500,
    )
    assert pip.returncode == 0, pip.stderr[-3000:]
    return venv / "bin"


def _env() -> dict[str, str]:
    # no IOSPKI_* settings of the caller, no PYTHONPATH (the checkout must not be importable)
    return {k: v for k, v in os.environ.items() if not k.startswith("IOSPKI_") and k != "PYTHONPATH"}


def test_installed_wheel_runs_the_builtin_lab_from_any_directory(installed: Path, tmp_path: Path) -> None:
    busy = [a for a in _builtin_lab_addresses() if _listening(*a)]
    if busy:
        pytest.skip(f"the built-in lab's addresses are in use (another built-in lab runs?): {busy}")
    work = tmp_path / "elsewhere"
    work.mkdir()

    def run(*cmd: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(cmd, cwd=work, env=_env(), capture_output=True, text=True, timeout=timeout)

    where = run(str(installed / "python"), "-c", "import iospki.builtin_inventory as b, iospki; print(b.__file__)")
    assert where.returncode == 0 and where.stdout.startswith(str(installed.parent)), where  # the venv's copy
    shipped = Path(where.stdout.strip()).parent
    assert {p.name for p in shipped.glob("*.yaml")} == {"config.yaml", "defaults.yaml", "groups.yaml", "hosts.yaml"}
    assert (shipped / "examples" / "validate-pass" / "hosts.yaml").is_file()

    demo = run(str(installed / "iospki"), "demo")
    assert demo.returncode == 0, demo.stdout[-4000:] + demo.stderr[-2000:]
    assert "demo complete" in demo.stdout
    assert "FAILED" not in demo.stdout.split("Demo steps", 1)[1]
    assert (work / "out").is_dir()  # relative to the working directory, as documented

    state = work / "state"
    up = run(str(installed / "python"), "-m", "iospki.lab", "--state", str(state), "up")  # the lab's own default
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        status = run(str(installed / "iospki"), "status")
        assert status.returncode in (0, 1), status.stdout + status.stderr  # 1: a fresh lab's clocks are not synced
        assert "ca1" in status.stdout and "r1" in status.stdout
        collect = run(str(installed / "iospki"), "collect", "--output", "coll")
        assert collect.returncode == 0, collect.stdout + collect.stderr
        assert (work / "coll" / "r1").is_dir()
    finally:
        down = run(str(installed / "iospki"), "lab", "down", "--state", str(state))
    assert down.returncode == 0, down.stdout + down.stderr
    assert not any(_listening(*a) for a in _builtin_lab_addresses())
