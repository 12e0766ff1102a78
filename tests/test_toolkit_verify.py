"""`verify_views`: the comparison rules on hand-built states (the lab run in test_toolkit_lab covers real data)."""

from __future__ import annotations

from datetime import datetime, timedelta

from iospki.cli.commands.verify import verify_views
from iospki.models import CAServer, Certificate, CertKind, Clock, KeyPair, Timer
from iospki.state.loader import HostState, Printed

T0 = datetime(2026, 1, 1)


def cert(
    kind: CertKind,
    serial: str,
    start: datetime,
    days: int,
    issuer: str = "cn=CA",
    subject: str = "cn=r1",
    rollover: bool = False,
    md5: str | None = None,
) -> Certificate:
    return Certificate(
        section="x",
        kind=kind,
        rollover=rollover,
        status="Available",
        serial=serial,
        issuer=issuer,
        subject=subject,
        start=start,
        end=start + timedelta(days=days),
        trustpoints=["TP"],
        fingerprint_md5=md5,
    )


def view(
    now: datetime,
    certs: list[Certificate],
    key: str = "AA",
    servers: list[CAServer] | None = None,
    timers: list[Timer] | None = None,
) -> HostState:
    """A host whose device prints UTC: its printed models and its UTC state are the same. `timers` None: the
    timers were not collected."""
    clock, keys, servers = (
        Clock(time=now, authoritative=True),
        [KeyPair(name="K", key_data=key)],
        servers or [],
    )
    return HostState(
        host="r1",
        clock=clock,
        certificates=certs,
        keys=keys,
        servers=servers,
        timers=timers,
        printed=Printed(clock, certs, servers, keys),
    )


def timer(kind: str, at: datetime, now: datetime) -> Timer:
    return Timer(
        section="PKI Timers", kind=kind, target="TP", remaining_seconds=(at - now).total_seconds(), at=at
    )


CA1 = cert(CertKind.ca, "01", T0, 730, subject="cn=CA", md5="11")
CA2 = cert(CertKind.ca, "07", T0 + timedelta(days=730), 730, subject="cn=CA", md5="22")


def checks(before: HostState, after: HostState, **kw: object) -> dict[str, bool]:
    return {c: ok for _, _, c, ok, _ in verify_views(before, after, **kw)}  # type: ignore[arg-type]


def test_renewal_passes_every_check() -> None:
    b = view(T0 + timedelta(days=10), [CA1, cert(CertKind.identity, "02", T0, 365)], key="AA")
    a = view(
        T0 + timedelta(days=300),
        [CA1, cert(CertKind.identity, "05", T0 + timedelta(days=292), 365)],
        key="BB",
    )
    got = checks(b, a, regenerate={"TP": (True, "K")})
    assert got == {
        "valid identity certificate": True,
        "new serial": True,
        "validity moved forward": True,
        "issuer is the expected CA": True,
        "chain valid": True,
        "key replaced (regenerate)": True,
    }


def test_missing_certificate_and_unchanged_key_fail() -> None:
    b = view(T0 + timedelta(days=10), [CA1, cert(CertKind.identity, "02", T0, 365)])
    assert checks(b, view(T0 + timedelta(days=20), [CA1])) == {"valid identity certificate": False}
    same_key = view(
        T0 + timedelta(days=300),
        [CA1, cert(CertKind.identity, "05", T0 + timedelta(days=292), 365)],
        key="AA",
    )
    assert checks(b, same_key, regenerate={"TP": (True, "K")})["key replaced (regenerate)"] is False


def test_after_rollover_the_new_ca_must_be_the_rollover_ca() -> None:
    b = view(T0 + timedelta(days=650), [CA1, cert(CertKind.identity, "09", T0 + timedelta(days=584), 146)])
    new_id = cert(CertKind.identity, "13", T0 + timedelta(days=730), 219)
    a = view(T0 + timedelta(days=731), [CA2, new_id])
    assert checks(b, a, rollover_fps={"22"})["new CA is the former rollover CA"] is True
    assert checks(b, a, rollover_fps={"33"})["new CA is the former rollover CA"] is False
    # an identity certificate from some other CA is caught
    foreign = view(
        T0 + timedelta(days=731),
        [CA2, cert(CertKind.identity, "13", T0 + timedelta(days=730), 219, issuer="cn=EVIL")],
    )
    got = checks(b, foreign, rollover_fps={"22"})
    assert got["issuer is the expected CA"] is False and got["chain valid"] is False


def test_failed_collections_are_reported() -> None:
    b = view(T0, [CA1])
    a = HostState(host="r1", unreachable="unreachable")
    assert verify_views(b, a) == [("r1", "-", "collected after", False, "unreachable")]


def test_a_manual_renewal_keeps_the_key_even_with_regenerate() -> None:
    """`regenerate` governs auto-enroll renewals (C7): `iospki renew` (crypto pki enroll) before the RENEW the
    device showed keeps the key, and verify checks that instead of failing 'key replaced'."""
    now = T0 + timedelta(days=10)
    b = view(
        now,
        [CA1, cert(CertKind.identity, "02", T0, 365)],
        key="AA",
        timers=[timer("RENEW", T0 + timedelta(days=292), now)],
    )
    renewed = [CA1, cert(CertKind.identity, "05", now + timedelta(minutes=1), 365)]
    got = checks(b, view(now + timedelta(minutes=2), renewed, key="AA"), regenerate={"TP": (True, "K")})
    assert got["key kept (manual renewal)"] is True and "key replaced (regenerate)" not in got
    assert all(got.values()), got
    detail = next(
        d
        for _, _, c, _, d in verify_views(
            b, view(now + timedelta(minutes=2), renewed, key="AA"), {"TP": (True, "K")}
        )
        if c.startswith("key")
    )
    assert "before auto-enroll's time 2026-10-20 00:00:00 UTC" in detail
    # a manual renewal that changed the key is reported
    changed = checks(b, view(now + timedelta(minutes=2), renewed, key="BB"), regenerate={"TP": (True, "K")})
    assert changed["key kept (manual renewal)"] is False
    # the same renewal at the RENEW time (issued on the second) is auto-enroll's: the key must be new
    auto = [CA1, cert(CertKind.identity, "05", T0 + timedelta(days=292), 365)]
    got = checks(b, view(T0 + timedelta(days=293), auto, key="BB"), regenerate={"TP": (True, "K")})
    assert got["key replaced (regenerate)"] and all(got.values()) and "key kept (manual renewal)" not in got
    # no RENEW or SHADOW shown before: nothing but a manual enrolment renews it
    b_none = view(now, [CA1, cert(CertKind.identity, "02", T0, 365)], key="AA", timers=[])
    assert checks(
        b_none, view(now + timedelta(minutes=2), renewed, key="AA"), regenerate={"TP": (True, "K")}
    )["key kept (manual renewal)"]


def test_a_capped_certificate_renews_by_its_shadow_timer() -> None:
    """C9: a certificate capped at the CA's end shows SHADOW, not RENEW; renewed before that SHADOW is manual."""
    now = T0 + timedelta(days=600)
    capped = cert(CertKind.identity, "09", T0 + timedelta(days=584), 146)
    b = view(now, [CA1, capped], key="AA", timers=[timer("SHADOW", T0 + timedelta(days=700, hours=19), now)])
    renewed = [CA1, cert(CertKind.identity, "0A", now, 130)]
    assert checks(b, view(now, renewed, key="AA"), regenerate={"TP": (True, "K")})[
        "key kept (manual renewal)"
    ]
    # on a certificate that is not capped a SHADOW is the CA shadow at 90 % (C5): not a renewal time
    b2 = view(
        now,
        [CA1, cert(CertKind.identity, "02", T0 + timedelta(days=300), 365)],
        timers=[timer("SHADOW", T0 + timedelta(days=657), now)],
    )
    got = checks(
        b2,
        view(now, [CA1, cert(CertKind.identity, "0A", now, 130)], key="AA"),
        regenerate={"TP": (True, "K")},
    )
    assert got["key kept (manual renewal)"] is True  # no RENEW was armed: the renewal was manual
