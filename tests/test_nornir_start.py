"""`iospki.operations.nornir_start`: Nornir starts without importing NAPALM; the connection plugins still open
as themselves, and a runbook's own InitNornir in the same process still registers them."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# a runbook's own Nornir over the built-in lab inventory (nothing is connected to)
INIT_NORNIR = """
from nornir import InitNornir
from iospki.operations.inventory import DEFAULT_INVENTORY as D
InitNornir(logging={"enabled": False}, inventory={"plugin": "SimpleInventory", "options": {
    "host_file": str(D / "hosts.yaml"), "group_file": str(D / "groups.yaml"), "defaults_file": str(D / "defaults.yaml")}})
"""


def _in_fresh_python(code: str) -> None:
    # a fresh interpreter: whether NAPALM is imported depends on everything imported before in this one
    proc = subprocess.run(
        [sys.executable, "-c", code + "\nprint('ok')"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_load_nornir_defers_napalm_and_a_later_init_nornir_still_works() -> None:
    _in_fresh_python(
        textwrap.dedent(
            """
        import sys
        from iospki.operations.inventory import load_nornir
        assert load_nornir().inventory.hosts
        assert "napalm" not in sys.modules, "load_nornir imported NAPALM"
        from nornir.core.plugins.connections import ConnectionPluginRegister
        from nornir_netmiko.connections import Netmiko
        assert type(ConnectionPluginRegister.get_plugin("netmiko")()) is Netmiko
        assert "napalm" not in sys.modules
        napalm_plugin = ConnectionPluginRegister.get_plugin("napalm")()  # a NAPALM session: now it is imported
        from nornir_napalm.plugins.connections import Napalm
        assert type(napalm_plugin) is Napalm
        """
        )
        + INIT_NORNIR  # no "already registered" for the stand-ins
    )


def test_init_nornir_first_then_load_nornir() -> None:
    _in_fresh_python(
        INIT_NORNIR
        + """
from iospki.operations.inventory import load_nornir
load_nornir()
from nornir.core.plugins.connections import ConnectionPluginRegister
from nornir_napalm.plugins.connections import Napalm
assert ConnectionPluginRegister.get_plugin("napalm") is Napalm  # the real class stays registered
"""
    )
