"""`configure replace FILE revert` that fails half-way restores the running config, and the PKI state that
follows from it: a trustpoint the file would have removed is back, with its certificates and timers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from napalm import get_network_driver
from napalm.base.exceptions import ReplaceConfigException

from tests.lab_pki_support import enroll_trustpoint, start_ca
from tests.test_forecast_lab import Lab, iso

pytestmark = pytest.mark.lab

HOSTS = [("ca1", "csr1k"), ("r1", "isr4k")]
START = datetime(2027, 4, 1, 0, 0, 0)


@pytest.fixture(scope="module")
def lab(make_lab_module: Any) -> Iterator[Lab]:
    lab = Lab(make_lab_module(hosts=HOSTS, start=iso(START), rate=0.0))
    start_ca(lab, "grant auto")
    enroll_trustpoint(
        lab, "r1", "TP", "rsakeypair TP 2048", "auto-enroll 80 regenerate",
        prelude=("ntp server 127.0.0.1", "archive", "path flash:archive"),
    )  # fmt: skip
    yield lab
    lab.close()


def test_failed_replace_with_revert_restores_the_trustpoint(lab: Lab) -> None:
    before_certs = [(c.section, c.serial) for c in lab.certs("r1")]
    before_timers = lab.timers("r1")
    assert ("Certificate", "02") in before_certs and ("RENEW", "TP") in before_timers
    running = lab.show("r1", "show running-config")
    # the same config without the trustpoint (and its chain), plus a line IOS rejects
    text = re.sub(
        r"^crypto pki (trustpoint|certificate chain) TP\n(?:[ !].*\n)*", "", running + "\n", flags=re.M
    )
    assert "crypto pki trustpoint TP" not in text
    text = text.replace("\nend", "\nfrobnicate the widget\nend")
    # NAPALM's replace: SCP the file to flash, `configure replace ... force revert ...`; the device refuses it
    d = get_network_driver("ios")(**lab.h.hosts["r1"].napalm())
    d.open()
    try:
        d.load_replace_candidate(config=text)
        with pytest.raises(ReplaceConfigException):
            d.commit_config()
    finally:
        d.close()
    assert "crypto pki trustpoint TP" in lab.show("r1", "show running-config")
    # the PKI engine followed the restored config: the trustpoint, its certificates and timers are back
    assert [(c.section, c.serial) for c in lab.certs("r1")] == before_certs
    assert "Trustpoint TP" in lab.show("r1", "show crypto pki trustpoints")
    assert lab.timers("r1").get(("RENEW", "TP")) == before_timers[("RENEW", "TP")]
