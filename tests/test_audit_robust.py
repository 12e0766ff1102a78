"""Bad input never crashes the audit or the forecast, and never yields a silently empty result."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from iospki import forecast as fc
from iospki.audit import run_audit
from iospki.reports import render
from iospki.state import store
from iospki.state.loader import load_collection

COMMANDS = [
    "show clock detail",
    "show ntp status",
    "show running-config",
    "show crypto pki certificates verbose",
    "show crypto pki timers detail",
    "show crypto pki server",
    "show crypto pki trustpoints status",
    "show crypto key mypubkey rsa",
    "show version",
]


def test_garbage_outputs_become_findings(tmp_path: Path) -> None:
    for cmd in COMMANDS:
        store.write_output(
            tmp_path, "R1", cmd, "% Invalid input detected at '^' marker.\n\x00\xff garbage |||\n"
        )
    (tmp_path / "R2").mkdir()
    store.write_output(tmp_path, "R3", "show clock", "*10:15:00.123 UTC Mon Mar 4 2024\n")
    store.write_json(tmp_path, "R3", "facts", {"os_version": None, "model": 17})
    (tmp_path / "R3" / "broken.json").write_text("{not json")
    states = load_collection(tmp_path)
    result = run_audit(states)
    by_host = {h: {f.rule for f in result.findings if f.host == h} for h in ("R1", "R2", "R3")}
    assert "parse-error" in by_host["R1"]
    assert "parse-error" in by_host["R2"]  # an empty host is not silently fine
    assert "parse-error" in by_host["R3"]  # the unreadable JSON is named
    for fmt in ("json", "junit", "markdown", "html", "csv", "prometheus"):
        assert render(result, fmt)


_T0 = datetime(2026, 1, 1)
_dt = st.integers(min_value=-800, max_value=800).map(lambda d: _T0 + timedelta(days=d))


@st.composite
def validity(draw: st.DrawFn) -> fc.Validity:
    a = draw(_dt)
    return fc.Validity(a, a + timedelta(days=draw(st.integers(min_value=0, max_value=1200))))


@settings(max_examples=80, deadline=None)
@given(
    ca=validity(),
    overlap=st.one_of(st.none(), st.integers(min_value=0, max_value=400)),
    roll=st.one_of(st.none(), validity()),
    grant=st.booleans(),
    serving=st.booleans(),
    tps=st.lists(
        st.tuples(
            st.one_of(st.none(), validity()),
            st.one_of(st.none(), st.integers(min_value=1, max_value=100)),
            st.booleans(),
            st.one_of(st.none(), st.booleans()),
            st.booleans(),
            st.one_of(st.none(), validity()),
            st.sampled_from([("CA", "ROOT"), ("X", "Y"), None]),
        ),
        max_size=4,
    ),
)
def test_forecast_never_crashes(ca, overlap, roll, grant, serving, tps) -> None:  # type: ignore[no-untyped-def]
    cas = [
        fc.CAInput("CA", "ROOT", ca, timedelta(days=365), ca.length() or timedelta(days=1),
                   timedelta(days=overlap) if overlap is not None else None, roll, grant, serving)
    ]  # fmt: skip
    inputs = [
        fc.TrustpointInput(f"R{i}", "tp", key, auto, pct, identity=ident, ca_cert=ca, renew_armed=armed,
                           clock_ok=clock, rollover_identity=rid)
        for i, (ident, pct, auto, armed, clock, rid, key) in enumerate(tps)
    ]  # fmt: skip
    f = fc.simulate(cas, inputs, _T0, _T0 + timedelta(days=1095))
    ats = [e.at for e in f.events]
    assert ats == sorted(ats)
    for o in f.outages:
        assert o.end is None or o.end > o.start
        assert o.reason in (fc.NO_IDENTITY, fc.CA_UNTRUSTED)
    assert f.to_json() == fc.simulate(cas, inputs, _T0, _T0 + timedelta(days=1095)).to_json()
