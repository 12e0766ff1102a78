"""NAPALM's ios driver against the lab: facts per platform, merge/compare/commit/rollback over SCP."""

from __future__ import annotations

import pytest
from napalm import get_network_driver
from napalm.base.exceptions import MergeConfigException

from tests.lab_fixture import LabHandle

pytestmark = pytest.mark.lab

EXPECTED = {
    "r1": ("2811", "Version 15.1(4)M12a"),
    "r2": ("CISCO2911/K9", "Version 15.4(3)M10"),
    "r3": ("ISR4451-X/K9", "Version 16.9.5"),
    "r4": ("ASR1001-X", "Version 16.12.4"),
    "r5": ("CSR1000V", "Version 17.3.4"),
    "ca1": ("CSR1000V", "Version 17.3.4a"),
}


def _open(lab: LabHandle, name: str):  # type: ignore[no-untyped-def]
    driver = get_network_driver("ios")(**lab.hosts[name].napalm())
    driver.open()
    return driver


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_get_facts_every_platform(lab: LabHandle, name: str) -> None:
    d = _open(lab, name)
    try:
        facts = d.get_facts()
    finally:
        d.close()
    model, version = EXPECTED[name]
    assert facts["hostname"] == name
    assert facts["fqdn"].startswith(f"{name}.") and "." in facts["fqdn"][len(name) + 1 :]
    assert facts["model"] == model
    assert version in facts["os_version"]
    assert facts["vendor"] == "Cisco"
    assert facts["serial_number"] not in ("", "Unknown")
    assert facts["uptime"] >= 0
    assert "Loopback0" in facts["interface_list"]


def test_merge_compare_commit_rollback(lab: LabHandle) -> None:
    d = _open(lab, "r2")
    try:
        before = d.get_config()["running"]
        assert "NAPTP" not in before
        d.load_merge_candidate(
            config=(
                "crypto pki trustpoint NAPTP\n"
                " enrollment url http://127.0.0.1:80\n"
                " revocation-check none\n"
                "crypto pki trustpoint OTHER\n"
                " enrollment url http://127.0.0.1:80\n"
                "ip domain name already.there\n"
                "ip http port 8081\n"
            )
        )
        diff = d.compare_config()
        # parent-aware: both blocks come with their children even where a line repeats
        assert diff.splitlines() == [
            "+crypto pki trustpoint NAPTP",
            "+ enrollment url http://127.0.0.1:80",
            "+ revocation-check none",
            "+crypto pki trustpoint OTHER",
            "+ enrollment url http://127.0.0.1:80",
            "+ip domain name already.there",
            "+ip http port 8081",
        ]
        d.discard_config()
        assert d.compare_config() == ""
        d.load_merge_candidate(config="crypto pki trustpoint NAPTP\n enrollment url http://127.0.0.1:80\n")
        assert d.compare_config().startswith("+crypto pki trustpoint NAPTP")
        d.commit_config()
        running = d.get_config()["running"]
        assert "crypto pki trustpoint NAPTP\n enrollment url http://127.0.0.1:80" in running
        assert "crypto pki trustpoint NAPTP" in d.get_config()["startup"]  # commit does `write mem`
        # the same merge again is no change
        d.load_merge_candidate(config="crypto pki trustpoint NAPTP\n enrollment url http://127.0.0.1:80\n")
        assert d.compare_config() == ""
        d.discard_config()
        d.rollback()
        assert "NAPTP" not in d.get_config()["running"]
        assert d.cli(["show clock"])["show clock"].strip()
    finally:
        d.close()


def test_merge_with_invalid_line_fails_and_rolls_back(lab: LabHandle) -> None:
    d = _open(lab, "r3")
    try:
        d.load_merge_candidate(config="ip domain name broken.example\nfrobnicate everything\n")
        with pytest.raises(MergeConfigException):
            d.commit_config()
        assert "broken.example" not in d.get_config()["running"]
    finally:
        d.close()


def test_replace_candidate(lab: LabHandle) -> None:
    d = _open(lab, "r4")
    try:
        running = d.get_config()["running"]
        candidate = running.replace(
            "ip scp server enable", "ip scp server enable\nip http server\nip http port 18443"
        )
        d.load_replace_candidate(config=candidate)
        diff = d.compare_config()
        assert "+ip http server" in diff and "+ip http port 18443" in diff
        d.commit_config()
        assert "ip http port 18443" in d.get_config()["running"]
        d.rollback()
        assert "ip http port 18443" not in d.get_config()["running"]
    finally:
        d.close()


def test_commit_with_revert_timer_confirm_and_expiry(lab: LabHandle) -> None:
    h = lab.hosts["r1"]
    d = _open(lab, "r1")
    try:
        d.load_merge_candidate(config="ip http port 8123\n")
        with pytest.raises(Exception, match="archive"):  # napalm needs the archive feature for revert_in
            d.commit_config(revert_in=120)
        d.discard_config()
        d.device.send_config_set(["archive", " path flash:archive", " maximum 5"])
        d.load_merge_candidate(config="ip http port 8123\n")
        d.commit_config(revert_in=120)
        assert d.has_pending_commit()
        assert "ip http port 8123" in d.get_config()["running"]
        d.confirm_commit()
        assert not d.has_pending_commit()
        # a second change is not confirmed: two lab minutes later the router reverts it by itself
        d.load_merge_candidate(config="ip http port 8124\n")
        d.commit_config(revert_in=60)
        assert "ip http port 8124" in d.get_config()["running"]
        lab.clock_advance("2m")
        running = d.get_config()["running"]
        assert "ip http port 8124" not in running and "ip http port 8123" in running
        assert not d.has_pending_commit()
        assert "ROLLBK_CNFMD_CHG_TIMER_EXPIRED" in d.cli(["show logging"])["show logging"]
    finally:
        d.close()
    assert h.name == "r1"
