"""The checks of `iospki lab validate` on constructed states (fast, no lab): a predicted event that did not
happen, a change nobody predicted, clients without a valid identity or trust, checkpoint scheduling, JUnit."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from pathlib import Path

from iospki import forecast as fcm
from iospki.forecast import CAInput, TrustpointInput, Validity
from iospki.reports.validation import junit_xml, markdown
from iospki.validate.compare import CAView, Expected, TPView, World, compare, health
from iospki.validate.model import Problem, ValidationResult
from iospki.validate.schedule import checkpoints

T0 = datetime(2027, 1, 1)
DAY = timedelta(days=1)
CA = Validity(T0, T0 + 730 * DAY)


def _world(identity: Validity | None, ca: Validity = CA, roll_ca: Validity | None = None) -> World:
    return World(
        tps={("c1", "TP"): TPView(identity, None, ca, roll_ca, ("ca1", "CA"))},
        cas={("ca1", "CA"): CAView(CA, None)},
    )


def _forecast(until: datetime) -> fcm.Forecast:
    ca = CAInput("ca1", "CA", CA, auto_rollover=timedelta(days=90))
    tp = TrustpointInput(
        "c1", "TP", ("ca1", "CA"), auto_enroll=True, auto_enroll_percent=80,
        identity=Validity(T0, T0 + 365 * DAY), ca_cert=CA,
    )
    return fcm.simulate([ca], [tp], T0 + timedelta(minutes=1), until)


def _replayed(fc: fcm.Forecast, upto: datetime) -> Expected:
    exp = Expected(_world(Validity(T0, T0 + 365 * DAY)))
    for e in fc.events:
        if e.at <= upto:
            exp.apply(e)
    return exp


def test_a_predicted_renewal_that_did_not_happen_is_named_with_its_time() -> None:
    fc = _forecast(T0 + 400 * DAY)
    renew = next(e for e in fc.events if e.event == fcm.RENEW)
    assert abs(renew.at - (T0 + 292 * DAY)) < DAY
    now = renew.at + timedelta(minutes=2)
    exp = _replayed(fc, now)
    stale = _world(Validity(T0, T0 + 365 * DAY))  # the device kept its old certificate
    problems, confirmed = compare(exp, stale, now, {"c1"})
    assert len(problems) == 1 and not confirmed
    p = problems[0]
    assert (p.host, p.trustpoint, p.check, p.at) == ("c1", "TP", "events", renew.at)
    assert "predicted RENEW" in p.cause and "did not happen" in p.cause


def test_the_renewal_as_predicted_is_confirmed() -> None:
    fc = _forecast(T0 + 400 * DAY)
    renew = next(e for e in fc.events if e.event == fcm.RENEW)
    assert renew.valid_from and renew.valid_to
    now = renew.at + timedelta(minutes=2)
    exp = _replayed(fc, now)
    device = _world(Validity(renew.valid_from + timedelta(seconds=20), renew.valid_to + timedelta(seconds=20)))
    problems, confirmed = compare(exp, device, now, {"c1"})
    assert problems == [] and confirmed == [renew]


def test_a_change_nobody_predicted_fails() -> None:
    fc = _forecast(T0 + 100 * DAY)
    now = T0 + 50 * DAY
    exp = _replayed(fc, now)
    device = _world(Validity(T0 + 40 * DAY, T0 + 405 * DAY))  # re-enrolled by someone on day 40
    problems, _ = compare(exp, device, now, {"c1"})
    assert len(problems) == 1 and "unpredicted change of the identity certificate" in problems[0].cause
    assert problems[0].at == now
    # hosts not deployed yet are not judged
    assert compare(exp, device, now, {"ca1"})[0] == []


def test_health_flags_expired_identity_and_untrusted_ca() -> None:
    now = T0 + 731 * DAY
    new_ca = Validity(CA.end, CA.end + 730 * DAY)
    w = World(
        tps={
            ("c1", "TP"): TPView(Validity(T0 + 365 * DAY, CA.end), None, CA, None, ("ca1", "CA")),
            ("c2", "TP"): TPView(Validity(CA.end, CA.end + 200 * DAY), None, new_ca, None, ("ca1", "CA")),
        },
        cas={("ca1", "CA"): CAView(new_ca, None)},
    )
    problems = health(w, now, {"c1", "c2"})
    got = {(p.host, p.check) for p in problems}
    assert got == {("c1", "identity"), ("c1", "trust")}
    ident = next(p for p in problems if p.check == "identity")
    assert "ended" in ident.cause and ident.trustpoint == "TP"
    # a client that still holds the OLD CA while the new one is active does not trust the active CA
    w.tps[("c2", "TP")].ca = Validity(T0 - 10 * DAY, CA.end + 5 * DAY)
    assert {(p.host, p.check) for p in health(w, now, {"c2"})} == {("c2", "trust")}


def test_checkpoints_follow_events_and_certificate_ends_clustered() -> None:
    fc = _forecast(T0 + 800 * DAY)
    w = _world(Validity(T0, T0 + 365 * DAY))
    cps = checkpoints(fc, w, T0, T0 + 800 * DAY)
    assert cps == sorted(cps) and cps[-1] == T0 + 800 * DAY
    for e in fc.events:
        # every event has a checkpoint shortly after it
        assert any(timedelta(0) < c - e.at <= timedelta(minutes=15) for c in cps), e
    assert any(abs(c - (CA.end + timedelta(minutes=2))) < timedelta(minutes=15) for c in cps)
    assert len(cps) < len(fc.events) + 3  # simultaneous events share one
    assert checkpoints(fc, w, T0, T0 + 10 * DAY, include_end=False) == []


def test_junit_and_markdown_name_host_trustpoint_time_and_cause(tmp_path: Path) -> None:
    res = ValidationResult(tmp_path, tmp_path, start=T0, until=T0 + 731 * DAY, hosts=["ca1", "c1", "c2"])
    res.trustpoints = {"c1": ["TP"], "c2": ["TP"]}
    res.problems = [Problem("c2", "TP", "identity", T0 + 730 * DAY, "no valid identity certificate (ended x)")]
    root = ET.fromstring(junit_xml(res))
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    assert ("ca1", "deploy") in cases and ("ca1", "identity") not in cases
    # deploy+collect for all, identity/trust/events/renewal for clients, and the audit's one passing case
    assert len(cases) == 3 * 2 + 2 * 4 + 1
    fail = cases[("c2", "identity")].find("failure")
    assert fail is not None
    assert fail.get("message", "").startswith("c2 trustpoint TP at 2028-12-31T00:00:00Z: identity:")
    assert cases[("c1", "identity")].find("failure") is None
    suite = root.find("testsuite")
    assert suite is not None and suite.get("failures") == "1"
    md = markdown(res)
    assert "FAILED" in md and "| c2 | TP | identity | 2028-12-31T00:00:00Z |" in md


def test_every_registered_validation_report_is_written(tmp_path: Path) -> None:
    from iospki.reports import formats
    from iospki.validate.run import write_outputs

    assert formats("validation") == ("junit", "summary", "json", "timeline")
    res = ValidationResult(tmp_path / "inv", tmp_path / "out", start=T0, until=T0 + 731 * DAY, hosts=["c1"])
    res.trustpoints = {"c1": ["TP"]}
    res.history = {("c1", "TP"): [("identity", Validity(T0, T0 + 365 * DAY)), ("ca", CA)]}
    res.problems = [Problem("c1", "TP", "identity", T0 + 400 * DAY, "no valid identity certificate")]
    junit = tmp_path / "ci" / "validate.xml"
    paths = write_outputs(res, junit)
    assert list(paths) == ["junit", "summary", "json", "timeline"]
    assert paths["junit"] == junit and ET.parse(junit).getroot().tag == "testsuites"
    assert paths["summary"].name == "summary.md" and "| c1 | TP | identity |" in paths["summary"].read_text()
    doc = json.loads(paths["json"].read_text())
    assert doc["schema"] == "iospki.validate/1" and doc["passed"] is False
    assert paths["timeline"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
