"""The one loader: UTC copies of device-local times (no model forgotten), platforms from one table, facts that
two outputs carry reconciled once, and the device-local view that status/verify show."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel

import iospki.models as models
from iospki.models import CAServer, Certificate, CertKind, Crl, RevokedEntry, Timer
from iospki.parsers import parse
from iospki.state import devicetime, platforms, store
from iospki.state.loader import load_collection, load_host
from tests.pki_samples import Client, Server, Site, write_site

REPO = Path(__file__).resolve().parents[1]
D0 = datetime(2025, 1, 1, 8, 0, 0)


def _datetime_fields(cls: type[BaseModel]) -> set[str]:
    hints = typing.get_type_hints(cls)
    return {
        name
        for name in cls.model_fields
        if hints[name] is datetime or datetime in typing.get_args(hints[name])
    }


def _dated_models() -> list[type[BaseModel]]:
    return [
        cls
        for _, cls in inspect.getmembers(models, inspect.isclass)
        if issubclass(cls, BaseModel) and cls.__module__ == models.__name__ and _datetime_fields(cls)
    ]


def test_every_dated_model_has_a_zone_rule() -> None:
    """A new model (or field) with a device time cannot be forgotten by the UTC conversion."""
    dated = _dated_models()
    assert {Certificate, CAServer, Crl, RevokedEntry, Timer} <= set(dated)
    for cls in dated:
        if cls in devicetime.PRINTED_IN_UTC or cls in devicetime.NESTED:
            continue
        fields = devicetime.dated_fields(cls)
        assert fields is not None, f"{cls.__name__} has datetime fields but no rule in devicetime.DATED"
        assert set(fields) == _datetime_fields(cls), cls.__name__
        assert "tz" in cls.model_fields, f"{cls.__name__}: a device-local time needs its zone name beside it"


def test_to_utc_copies_and_leaves_the_parsed_model_alone() -> None:
    zones = devicetime.from_config("clock timezone CET 1 0")
    crl = Crl(
        this_update=datetime(2026, 1, 1, 10),
        tz="CET",
        revoked=[RevokedEntry(serial="01", revoked_at=datetime(2026, 1, 1, 9))],
    )
    utc = devicetime.to_utc(crl, zones)
    assert (utc.this_update, utc.tz, utc.revoked[0].revoked_at) == (
        datetime(2026, 1, 1, 9),
        "UTC",
        datetime(2026, 1, 1, 8),
    )
    assert (crl.this_update, crl.tz, crl.revoked[0].revoked_at) == (
        datetime(2026, 1, 1, 10),
        "CET",
        datetime(2026, 1, 1, 9),
    )
    odd = Certificate(section="Certificate", kind=CertKind.identity, end=datetime(2027, 1, 1), tz="XYZ")
    assert devicetime.to_utc(odd, zones) is odd and "XYZ" in zones.unknown  # unknown zone: left as printed
    timer = Timer(section="PKI Timers", kind="RENEW", remaining_seconds=1.0, at=datetime(2026, 1, 1))
    assert devicetime.to_utc(timer, zones) is timer  # IOS prints timers in UTC


def test_to_utc_shares_a_model_that_is_utc_already() -> None:
    """A model in UTC (offset 0) is not copied: nothing would change. GMT (also offset 0) becomes 'UTC', and a
    device that calls its own zone UTC with an offset (`clock timezone UTC 2`) gets its times shifted."""
    at = datetime(2027, 1, 1, 12)
    utc = Certificate(section="Certificate", kind=CertKind.identity, end=at, tz="UTC")
    assert devicetime.to_utc(utc, devicetime.from_config("")) is utc
    gmt = utc.model_copy(update={"tz": "GMT"})
    assert devicetime.to_utc(gmt, devicetime.from_config("")) == utc and gmt.tz == "GMT"
    odd = devicetime.to_utc(utc, devicetime.from_config("clock timezone UTC 2\n"))
    assert (odd.end, odd.tz, utc.end) == (at - timedelta(hours=2), "UTC", at)


def test_a_dated_model_without_a_rule_is_an_error() -> None:
    class Stamped(models.Model):
        when: datetime
        tz: str | None = None

    with pytest.raises(TypeError, match="Stamped"):
        devicetime.to_utc(Stamped(when=datetime(2026, 1, 1), tz="CET"), devicetime.Zones())


def _cet_site(root: Path) -> Path:
    site = Site(
        Server("ROOT", D0, D0 + timedelta(days=730), auto_rollover_days=90),
        [Client("R1", percent=80, id_start=D0 + timedelta(days=100), id_end=D0 + timedelta(days=465))],
    )
    write_site(root, site, D0 + timedelta(days=380))
    # the same collection on devices that print CET: every stamp one hour later, the zone configured
    for host in store.hosts(root):
        for cmd, text in store.read_outputs(root, host).items():
            if cmd.startswith("show crypto pki timers"):
                continue  # IOS prints timers in UTC whatever the zone
            text = text.replace(" UTC ", " CET ")
            if cmd == "show running-config":
                text = text.replace("\nhostname", "\nclock timezone CET 1 0\nhostname", 1)
            store.write_output(root, host, cmd, text)
    return root


def test_state_is_utc_and_printed_is_device_local(tmp_path: Path) -> None:
    st = load_host(_cet_site(tmp_path), "R1")
    assert st.errors == [] and st.clock is not None and st.printed.clock is not None
    assert st.clock.tz == "UTC" and st.printed.clock.tz == "CET"
    assert st.printed.clock.time - st.clock.time == timedelta(hours=1)
    ident = st.cert("client", CertKind.identity)
    printed = st.printed.certs("client", "identity")[0]
    assert ident is not None and printed.tz == "CET" and ident.tz == "UTC"
    assert printed.end is not None and ident.end == printed.end - timedelta(hours=1)
    assert st.printed.trustpoints() == ["client"]


def test_ca_facts_reconciled_once(tmp_path: Path) -> None:
    """The overlap: the running config's exact `auto-rollover` wins; `show crypto pki server`'s days fill in."""
    write_site(tmp_path, Site(Server("ROOT", D0, D0 + timedelta(days=730), auto_rollover_days=90), []), D0)
    (ca,) = load_host(tmp_path, "CA").ca_servers
    assert (ca.name, ca.auto_rollover, ca.grant) == ("ROOT", timedelta(days=90), "auto")
    assert ca.shown is not None and ca.config is not None
    shown_fp = ca.shown.ca_fingerprint
    assert shown_fp and ca.ca_fingerprint == shown_fp and ca.certificate_fingerprint
    assert ca.certificate_fingerprint == shown_fp and ca.fingerprints == (shown_fp,)  # one CA, said twice
    store.write_output(tmp_path, "CA", "show running-config", "hostname CA\nip http server\nend\n")
    (ca,) = load_host(tmp_path, "CA").ca_servers
    assert ca.config is None and ca.auto_rollover == timedelta(days=90)  # from `show crypto pki server`
    other = tmp_path / "no-show"
    write_site(other, Site(Server("ROOT", D0, D0 + timedelta(days=730), auto_rollover_days=90), []), D0)
    (other / "CA" / store.command_filename("show crypto pki server")).unlink()
    (ca,) = load_host(other, "CA").ca_servers
    assert ca.shown is None and ca.ca_fingerprint == shown_fp  # now from the CA certificate alone


def test_software_and_platform_from_show_version(tmp_path: Path) -> None:
    store.write_output(tmp_path, "r9", "show version", "Cisco IOS XE Software, Version 17.03.04a\n"
                       "cisco ISR4451-X/K9 (2RU) processor with 1795999K/6147K bytes of memory.\n")  # fmt: skip
    store.write_output(tmp_path, "r8", "show version", "% Invalid input detected at '^' marker.\n")
    r8, r9 = load_collection(tmp_path)
    assert (r9.software, r9.platform, r9.model, r9.software_family) == (
        "17.03.04a",
        "iosxe",
        "ISR4451-X/K9",
        "iosxe",
    )
    assert list(r8.parse_errors) == ["show version"] and r8.software is None


@pytest.mark.parametrize(
    "platform_family, model, family, expected",
    [
        ("ISR-G1", None, None, "isr_g1"),
        ("isr_g2", "ISR4451-X/K9", "iosxe", "isr_g2"),  # the inventory's word wins
        ("CSR1k", None, None, "iosxe"),
        ("iosxe", None, None, "iosxe"),
        ("NX-OS", "CISCO2911/K9", "ios", None),  # a platform the table does not know: no minimum
        (None, "CISCO2911/K9", None, "isr_g2"),
        (None, "2811", None, "isr_g1"),
        (None, "C8300-1N1S-4T2X", None, "iosxe"),
        (None, None, "iosxe", "iosxe"),
        (None, "WS-C3750", "ios", None),
    ],
)
def test_platform_table(
    platform_family: str | None, model: str | None, family: str | None, expected: str | None
) -> None:
    assert platforms.software_family(platform_family, model, family) == expected


def test_every_inventory_platform_is_in_the_table() -> None:
    """Adding a platform touches `inventory/groups.yaml` and the table: the two name the same platforms."""
    import yaml

    groups = yaml.safe_load((REPO / "inventory" / "groups.yaml").read_text(encoding="utf-8"))
    for name, group in groups.items():
        data = (group or {}).get("data") or {}
        if "platform_family" in data:
            row = platforms.by_name(data["platform_family"])
            assert row is not None, name
            assert row.family in (group.get("groups") or []), name
            assert platforms.by_model(str(data["model"])) is row, name


def test_one_loader() -> None:
    defs = [
        p for p in (REPO / "iospki").rglob("*.py") if "def load_collection(" in p.read_text(encoding="utf-8")
    ]
    assert [p.relative_to(REPO).as_posix() for p in defs] == ["iospki/state/loader.py"]


def test_platform_from_the_table_when_the_device_does_not_say(tmp_path: Path) -> None:
    store.write_output(tmp_path, "r1", "show clock", "*10:15:00.123 UTC Mon Mar 4 2024\n")
    store.write_json(tmp_path, "r1", "facts", {"platform_family": "ISR4K"})
    store.write_output(tmp_path, "r2", "show clock", "*10:15:00.123 UTC Mon Mar 4 2024\n")
    store.write_json(
        tmp_path, "r2", "facts", {"model": "CISCO2911/K9", "os_version": "C2900 Software, Version 15.4(3)M2"}
    )
    r1, r2 = load_collection(tmp_path)
    assert (r1.platform, r1.software_family, r1.software) == ("iosxe", "iosxe", None)
    assert (r2.platform, r2.software_family, r2.software) == ("ios", "isr_g2", "15.4(3)M2")


def test_status_shows_the_times_the_device_printed(tmp_path: Path) -> None:
    """`status` keeps showing device-local times (what the router's CLI shows); the days left are the same
    in either zone, and the timers stay in UTC as IOS prints them."""
    from iospki.cli.commands.status import host_status

    st = load_host(_cet_site(tmp_path), "R1")
    out = host_status(st)
    ident = st.printed.certs("client", "identity")[0]
    assert ident.end is not None and st.printed.clock is not None
    assert out["clock"] == st.printed.clock.time.isoformat()
    (tp,) = out["trustpoints"]
    assert tp["identity"]["end"] == ident.end.isoformat()  # CET, as printed; the UTC copy is an hour earlier
    utc = st.cert("client", CertKind.identity)
    assert utc is not None and utc.end is not None and tp["identity"]["end"] != utc.end.isoformat()
    renew = next(t for t in st.timers or [] if t.kind == "RENEW")
    assert renew.at is not None and tp["timers"]["RENEW"] == renew.at.isoformat()


def test_counters_and_trustpool_are_kept_the_trustpool_in_utc(tmp_path: Path, shared_dir: Path) -> None:
    """Real IOS-XE captures: the counters as printed, the trustpool's IST dates as UTC copies (the zone from
    the running config), and a host where neither was collected says so (None, not empty)."""
    real = shared_dir / "fixtures/real/genie"
    store.write_output(tmp_path, "xe", "show running-config", "hostname xe\nclock timezone IST 5 30\nend\n")
    counters = (real / "show_crypto_pki_counters/iosxe__golden_output.txt").read_text()
    store.write_output(tmp_path, "xe", "show crypto pki counters", counters)
    pool = (real / "show_crypto_pki_trustpool/iosxe__golden_output1.txt").read_text()
    store.write_output(tmp_path, "xe", "show crypto pki trustpool", pool)
    store.write_output(tmp_path, "old", "show running-config", "hostname old\nend\n")
    old, xe = load_collection(tmp_path)
    assert xe.parse_errors == {} and xe.counters is not None
    assert (xe.counters.sessions_started, xe.counters.successful_validations, xe.counters.failed_validations) == (
        12, 6, 0,
    )  # fmt: skip
    assert xe.trustpool is not None and len(xe.trustpool) == pool.count("Trustpool: ")
    first = xe.trustpool[0]  # `start date: 00:58:06 IST Jul 6 2017` is 19:28:06 UTC the day before
    assert (first.tz, first.start, first.source) == ("UTC", datetime(2017, 7, 5, 19, 28, 6), "Built-In")
    assert (old.counters, old.trustpool) == (None, None)


# --------------------------------------------------------------------------- the fast paths give what the plain ones give


def _plain_files(root: Path, host: str) -> store.HostFiles:
    """A host folder read the plain way: every file by its whole path, in text mode."""
    d = root / host
    names = sorted(p.name for p in d.iterdir() if p.is_file())
    outputs = {
        store.filename_command(n): (d / n).read_text(encoding="utf-8", errors="replace")
        for n in names
        if n.endswith(".txt") and not n.startswith(("_", "."))
    }
    error = (d / n).read_text(encoding="utf-8").rstrip("\n") if (n := store.ERROR_FILE) in names else None
    return store.HostFiles(error, outputs, [d / n for n in names if n.endswith(".json")])


def _copied(model: BaseModel, zones: devicetime.Zones) -> BaseModel:
    """The UTC conversion spelled out: a copy with every dated field shifted by its zone's offset."""
    tz = getattr(model, "tz", None)
    off = zones.offsets.get(tz) if tz else None
    if off is None:
        return model
    fields = devicetime.dated_fields(type(model)) or ()
    shifted = {n: getattr(model, n) - off for n in fields if getattr(model, n) is not None}
    return model.model_copy(update={"tz": "UTC", **shifted})


def _assert_as_plain(root: Path) -> list[str]:
    """Every state of the collection at `root` equals, field by field, the state loaded from a plain reading,
    and its UTC models equal copies of the printed ones shifted by their zone's offset. Returns the zones seen."""
    zones = []
    for st in load_collection(root):
        plain = load_host(root, st.host, _plain_files(root, st.host))
        for f in dataclasses.fields(st):
            assert getattr(st, f.name) == getattr(plain, f.name), (st.host, f.name)
        assert st.zones is not None
        printed = st.printed
        pairs: list[tuple[BaseModel | None, BaseModel]] = [(st.clock, printed.clock)] if printed.clock else []
        pairs += zip(st.certificates, printed.certificates, strict=True)
        pairs += zip(st.servers, printed.servers, strict=True)
        pairs += zip(st.keys, printed.keys, strict=True)
        for utc, local in pairs:
            assert utc == _copied(local, st.zones), (st.host, type(local).__name__)
            assert (utc is local) == (utc == local), (st.host, "shared exactly when nothing changes")
        zones += [str(getattr(m, "tz", None)) for _, m in pairs if getattr(m, "tz", None)]
    return zones


def test_loaded_states_equal_the_plain_reading_and_conversion(tmp_path: Path) -> None:
    """`read_host` (folder opened once) and `to_utc` (a UTC model shared, not copied) give the states that
    reading every file by its path and copying every model gives: sites in UTC, GMT and CET, with JSON facts
    and read times, `collect`'s parsed copies of the outputs (left unread), a failed host and a cut-off
    config."""
    utc, gmt, cet = tmp_path / "utc", tmp_path / "gmt", _cet_site(tmp_path / "cet")
    site = Site(
        Server("ROOT", D0, D0 + timedelta(days=730), auto_rollover_days=90),
        [Client("R1", percent=80, id_start=D0 + timedelta(days=100), id_end=D0 + timedelta(days=465))],
    )
    write_site(utc, site, D0 + timedelta(days=380))
    write_site(gmt, site, D0 + timedelta(days=380))
    for host in store.hosts(gmt):
        for cmd, text in store.read_outputs(gmt, host).items():
            if not cmd.startswith("show crypto pki timers"):
                store.write_output(gmt, host, cmd, text.replace(" UTC ", " GMT "))
    store.write_json(utc, "R1", "facts", {"facts": {"model": "CISCO2911/K9", "os_version": "C2900 Software, Version 15.4(3)M2"}})  # fmt: skip
    store.write_json(utc, "R1", "read_times", {"show clock": ["2026-01-16T08:00:00", "2026-01-16T08:00:01"]})
    for host in ("R1", "CA"):  # what `collect` writes beside the outputs: its parsed copies, not read again
        outputs = store.read_outputs(utc, host)
        for cmd, text in outputs.items():
            copy = parse(cmd, text).model_dump(mode="json")
            store.write_json(utc, host, store.command_filename(cmd)[:-4], copy)
        store.write_json(utc, host, store.PARSE_ERRORS, {})
    store.write_output(utc, "R9", "show running-config", "hostname R9\ncrypto pki trustpoint x\n")  # cut off
    store.write_error(utc, "R9", "timed out")
    seen = [z for root in (utc, gmt, cet) for z in _assert_as_plain(root)]
    assert {"UTC", "GMT", "CET"} <= set(seen)


def test_real_captures_load_as_plain(tmp_path: Path, shared_dir: Path) -> None:
    """The real captures, one host each beside a running config that names two zones: the same states as the
    plain reading and copying."""
    config = "hostname x\nclock timezone IST 5 30\nclock summer-time IDT recurring\nend\n"
    captures = sorted((shared_dir / "fixtures/real").rglob("*.txt"))
    for i, p in enumerate(captures):
        host, command = f"h{i:03d}", p.parent.name.replace("_", " ")
        store.write_output(tmp_path, host, command, p.read_text(errors="replace"))
        store.write_output(tmp_path, host, "show running-config", config)
    assert len(captures) > 50 and _assert_as_plain(tmp_path)


def test_read_times_in_naive_utc_bad_entries_left_out(tmp_path: Path) -> None:
    """`read_times.json`: aware times become naive UTC (any offset, 'Z'), naive ones stay; an entry that is no
    pair of ISO times, or answered before it was sent, is left out."""
    store.write_output(tmp_path, "r1", "show clock", "*10:15:00.123 UTC Mon Mar 4 2024\n")
    times = {
        "show clock": ["2026-07-21T09:58:35.5+02:00", "2026-07-21T07:58:36Z"],
        "show version": ["2026-07-21T07:58:35", "2026-07-21T13:29:00+05:30"],
        "show a": ["2026-07-21T07:58:35"] * 3,
        "show b": "ab",
        "show c": None,
        "show d": ["2026-07-21T07:58:35", "yesterday"],
        "show e": ["2026-07-21T07:58:36+00:00", "2026-07-21T07:58:35+00:00"],
    }
    store.write_json(tmp_path, "r1", store.READ_TIMES, times)
    assert load_host(tmp_path, "r1").read_times == {
        "show clock": (datetime(2026, 7, 21, 7, 58, 35, 500000), datetime(2026, 7, 21, 7, 58, 36)),
        "show version": (datetime(2026, 7, 21, 7, 58, 35), datetime(2026, 7, 21, 7, 59)),
    }
