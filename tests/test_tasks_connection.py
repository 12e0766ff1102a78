"""`iospki.tasks.connection.show` against lab routers: privileged mode is checked before every command without an
exchange of its own, so a session left at another prompt is brought back first and the output is the command's."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from netmiko import BaseConnection
from nornir.core.task import Result, Task

from iospki.operations.inventory import load_nornir
from iospki.tasks.connection import show
from tests.lab_fixture import LabHandle

pytestmark = pytest.mark.lab


def _run_on(lab: LabHandle, host: str, work: Callable[[Task], Result]) -> object:
    nr = load_nornir(lab.inventory_dir).filter(name=host)
    try:
        res = nr.run(task=work)
        assert not res.failed, {h: r.exception for h, r in res.items() if r.failed}
        return res[host][0].result
    finally:
        nr.close_connections(on_good=True, on_failed=True)


@pytest.mark.parametrize("host", ["r1", "r3"])  # classic IOS (cisco_ios) and IOS-XE (cisco_xe)
def test_show_leaves_user_exec_and_config_mode_first(lab: LabHandle, host: str) -> None:
    def work(task: Task) -> Result:
        first = show(task, "show clock")
        conn: BaseConnection = task.host.get_connection("netmiko", task.nornir.config)
        conn.exit_enable_mode()  # `disable`: a runbook's own exchange leaves the session at `host>`
        dropped = conn.find_prompt()
        after_disable = show(task, "show running-config")
        conn.config_mode()  # and one left in configuration mode
        in_config = conn.find_prompt()
        after_config = show(task, "show version")
        return Result(
            host=task.host,
            result={
                "first": first,
                "dropped": dropped,
                "after_disable": after_disable,
                "in_config": in_config,
                "after_config": after_config,
                "prompt": conn.find_prompt(),
            },
        )

    out = _run_on(lab, host, work)
    assert isinstance(out, dict)
    assert out["dropped"] == f"{host}>" and out["in_config"] == f"{host}(config)#"
    assert "% " not in out["first"] and out["first"].strip()
    # a privileged-only command: at `host>` IOS would have answered "% Invalid input" instead
    assert f"hostname {host}" in out["after_disable"] and "% Invalid input" not in out["after_disable"]
    assert "% Invalid input" not in out["after_config"] and f"{host} uptime is" in out["after_config"]
    assert out["prompt"] == f"{host}#"  # left privileged, not in configuration mode
