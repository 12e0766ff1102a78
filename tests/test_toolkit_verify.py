"""`verify_views`: the comparison rules on hand-built states (the lab run in test_toolkit_lab covers real data)."""

from __future__ import annotations

from datetime import datetime, timedelta

from iospki.cli.commands.verify import verify_views
from iospki.models import CAServer, Certificate, CertKind, Clock, KeyPair
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
    now: datetime, certs: list[Certificate], key: str = "AA", servers: list[CAServer] | None = None
) -> HostState:
    """A host whose device prints UTC: its printed models and its UTC state are the same."""
    clock, keys, servers = Clock(time=now, authoritative=True), [KeyPair(name="K", key_data=key)], servers or []
    return HostState(
        host="r1",
        clock=clock,
        certificates=certs,
        keys=keys,
        servers=servers,
        printed=Printed(clock, certs, servers, keys),
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
