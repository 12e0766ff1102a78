"""Nornir (threaded runner) with nornir_netmiko and nornir_napalm over the lab's own inventory."""

from __future__ import annotations

import pytest
from nornir import InitNornir
from nornir.core.task import Result, Task
from nornir_napalm.plugins.tasks import napalm_configure, napalm_get
from nornir_netmiko.tasks import netmiko_multiline, netmiko_send_command, netmiko_send_config

from tests.lab_fixture import LabHandle

pytestmark = pytest.mark.lab


def _nornir(lab: LabHandle):  # type: ignore[no-untyped-def]
    return InitNornir(config_file=str(lab.inventory_dir / "config.yaml"))


def test_nornir_netmiko_tasks(lab: LabHandle) -> None:
    nr = _nornir(lab)

    def work(task: Task) -> Result:
        ver = task.run(netmiko_send_command, command_string="show version")
        task.run(
            netmiko_send_config,
            config_commands=["ntp server 127.0.0.1", "clock timezone CET 1 0", "ip domain name nornir.test"],
        )
        clock = task.run(netmiko_send_command, command_string="show clock detail")
        task.host.close_connections()
        return Result(host=task.host, result={"ver": ver.result, "clock": clock.result})

    res = nr.run(task=work)
    assert not res.failed, {h: r.exception for h, r in res.items() if r.failed}
    for host, multi in res.items():
        out = multi[0].result
        assert f"{host} uptime is" in out["ver"]
        first = out["clock"].splitlines()[0]
        assert not first.startswith("*") and " CET " in first  # NTP made the clock authoritative
        assert "Time source is NTP" in out["clock"]


def test_nornir_multiline_question(lab: LabHandle) -> None:
    nr = _nornir(lab).filter(name="r1")
    res = nr.run(
        task=netmiko_multiline,
        commands=[["copy running-config flash:/nr.cfg", r"Destination filename \[nr.cfg\]\?"], ["", r"#"]],
    )
    assert not res.failed
    assert "bytes copied" in res["r1"].result


def test_nornir_napalm_get_and_configure(lab: LabHandle) -> None:
    nr = _nornir(lab).filter(filter_func=lambda h: h.name in ("r2", "r5"))
    got = nr.run(task=napalm_get, getters=["facts", "config"])
    assert not got.failed
    for host, r in got.items():
        assert r.result["facts"]["hostname"] == host
        assert f"hostname {host}" in r.result["config"]["running"]
    dry = nr.run(task=napalm_configure, configuration="ip http port 8088\n", dry_run=True)
    assert not dry.failed and all(r.changed and "+ip http port 8088" in r.diff for r in dry.values())
    real = nr.run(task=napalm_configure, configuration="ip http port 8088\n")
    assert not real.failed and all(r.changed for r in real.values())
    again = nr.run(task=napalm_configure, configuration="ip http port 8088\n", dry_run=True)
    assert all(not r.changed for r in again.values())
