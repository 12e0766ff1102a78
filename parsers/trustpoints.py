"""`show crypto pki trustpoints [NAME]` into `TrustpointsOutput` and
`show crypto pki trustpoints [NAME] status` into `TrustpointStatusOutput`.

Line state machines rather than TTP: the subject DN spans a variable number of lines
(`show ... trustpoints`) or sits on the line after `Subject Name:` (`status`), which only
the position tells apart from other lines."""

from __future__ import annotations

import re
from typing import Any

from iospki.models import Trustpoint, TrustpointsOutput, TrustpointStatus, TrustpointStatusOutput

from .base import ParseError, register
from .lines import device_lines
from .noise import blocks

TPS = "show crypto pki trustpoints"
STATUS = "show crypto pki trustpoints status"

_HEAD = re.compile(r"Trustpoint (?P<name>\S+?):")
_RDN = re.compile(r"[A-Za-z][\w.\-]*=.*")
_SERIAL = re.compile(r"Serial Number(?: \(hex\))?: (?:0x)?(?P<serial>[0-9A-Fa-f]+)")
_SCEP = re.compile(r"SCEP URL: (?P<url>\S+)")
_KEY_LABEL = re.compile(r"Using key label (?P<label>\S+)")


def _once(command: str, tp: dict[str, Any], what: str, raw: str, no: int) -> None:
    """A line a trustpoint block prints at most once: a second one means the next block's
    `Trustpoint NAME:` header is missing, and two trustpoints would merge silently."""
    seen: set[str] = tp.setdefault("_seen", set())
    if what in seen:
        raise ParseError(
            command, f"trustpoint {tp['name']!r} has a second {what} line (a header missing?)", raw, no
        )
    seen.add(what)


# Fast paths: the usual layouts (the lines of a block in the order IOS prints them, blank lines only between
# blocks) read by one match per trustpoint. None of the lines these patterns take is session noise (so
# `device_lines` keeps each), and each value is what the strict loop takes from the same stripped line; a
# value its patterns (`.+`) would refuse sends the text to the strict loop, which names the line. Runs of blanks,
# dots and values are possessive (`*+`): the token after each never starts with what it took, so no match is lost.
_FAST_TP = re.compile(
    r"[ \t]*+Trustpoint (?P<name>\S+?):[ \t]*+\n"
    r"(?:[ \t]*+Subject Name:[ \t]*+\n(?P<rdns>(?:[ \t]*+[A-Za-z][\w.\-]*+=[^\n]*+\n)*))?"
    r"(?:[ \t]*+Serial Number(?: \(hex\))?: (?:0x)?(?P<serial>[0-9A-Fa-f]+)[ \t]*+(?:\n|\Z))?"
    r"(?P<configured>[ \t]*+Certificate configured\.[ \t]*+(?:\n|\Z))?"
    r"(?:[ \t]*+SCEP URL: (?P<url>\S+)[ \t]*+(?:\n|\Z))?"
    # IOS-XE's self-signed trust point (`TP-self-signed-...`, on nearly every IOS-XE device): G1 of the behaviour notes
    r"(?P<self_signed>[ \t]*+Persistent self-signed certificate trust point[ \t]*+(?:\n|\Z))?"
    r"(?:[ \t]*+Using key label (?P<label>\S++)[ \t]*+(?:\n|\Z))?"
    r"\s*"
)
_SELF_SIGNED = "Persistent self-signed certificate trust point"


def _fast_trustpoints(text: str) -> TrustpointsOutput | None:
    matches = blocks(_FAST_TP, text)
    if matches is None:
        return None
    out: list[dict[str, Any]] = []
    for m in matches:
        name, rdn_lines, serial, configured, url, self_signed, label = m.groups()
        rdns = [ln.strip() for ln in (rdn_lines or "").split("\n") if ln.strip()]
        # the status lines in the order they stand (as the strict loop joins them)
        status = [
            line
            for line, seen in (("Certificate configured.", configured), (_SELF_SIGNED, self_signed))
            if seen
        ]
        out.append(
            {
                "name": name,
                "subject": ",".join(rdns) or None,
                "serial": serial.upper() if serial is not None else None,
                "certificate_configured": configured is not None,
                "scep_url": url,
                "self_signed": self_signed is not None,
                "key_label": label,
                "status": "; ".join(status) or None,
            }
        )
    return TrustpointsOutput.model_validate({"trustpoints": out})


@register(r"(?:show|sh) crypto pki trustpoints?(?: (?!status$)\S+)?")
def parse_trustpoints(text: str, platform: str | None = None, *, fast: bool = True) -> TrustpointsOutput:
    """`fast=False` skips the fast path (the tests compare both)."""
    if fast:
        quick = _fast_trustpoints(text)
        if quick is not None:
            return quick
    lines = device_lines(text)
    tps: list[dict[str, Any]] = []
    in_subject = False
    for no, raw in enumerate(lines, 1):
        s = raw.strip()
        if not s:
            continue
        if m := _HEAD.fullmatch(s):
            tps.append({"name": m["name"], "rdns": [], "status": []})
            in_subject = False
            continue
        if not tps:
            raise ParseError(TPS, "output does not start with 'Trustpoint NAME:'", raw, no)
        tp = tps[-1]
        if s == "Subject Name:":
            _once(TPS, tp, "'Subject Name:'", raw, no)
            in_subject = True
        elif in_subject and _RDN.fullmatch(s):
            tp["rdns"].append(s)
        elif m := _SERIAL.fullmatch(s):
            _once(TPS, tp, "serial number", raw, no)
            tp["serial"], in_subject = m["serial"].upper(), False
        elif s == "Certificate configured.":
            _once(TPS, tp, "'Certificate configured.'", raw, no)
            tp["configured"], in_subject = True, False
            tp["status"].append(s)
        elif m := _SCEP.fullmatch(s):
            _once(TPS, tp, "'SCEP URL:'", raw, no)
            tp["scep_url"], in_subject = m["url"], False
        elif s == _SELF_SIGNED:
            tp["self_signed"], in_subject = True, False
            tp["status"].append(s)
        elif m := _KEY_LABEL.fullmatch(s):
            _once(TPS, tp, "'Using key label'", raw, no)
            tp["key_label"], in_subject = m["label"], False
        else:
            raise ParseError(TPS, "unexpected line", raw, no)
    return TrustpointsOutput(
        trustpoints=[
            Trustpoint(
                name=tp["name"],
                subject=",".join(tp["rdns"]) or None,
                serial=tp.get("serial"),
                certificate_configured=tp.get("configured", False),
                scep_url=tp.get("scep_url"),
                self_signed=tp.get("self_signed", False),
                key_label=tp.get("key_label"),
                status="; ".join(tp["status"]) or None,
            )
            for tp in tps
        ]
    )


_CERT = re.compile(r"(?P<which>Issuing CA|Router [\w ]+?) certificate (?P<state>\w+):")
_FP = re.compile(r"Fingerprint (?P<alg>MD5|SHA1): (?P<fp>[0-9A-Fa-f ]+)")
_LAST = re.compile(r"Last enrollment status: (?P<status>.+)")
_STATE = re.compile(
    r"(?P<item>Keys generated|Issuing CA authenticated|Certificate request\(s\)) \.+ (?P<value>.+)"
)
_YES_DETAIL = re.compile(r"(?P<yn>Yes|No)(?:\s*(?P<detail>\(.+\)))?")


def _state_item(tp: dict[str, Any], item: str, value: str) -> None:
    """One line of a `State:` block into the trustpoint's fields."""
    if item == "Certificate request(s)":
        tp["certificate_requests"] = value
        return
    if item == "Issuing CA authenticated" and value in ("Yes", "No"):  # as `_YES_DETAIL` reads it, without it
        tp["ca_authenticated"] = value == "Yes"
        return
    yn = _YES_DETAIL.fullmatch(value)
    if item == "Keys generated":
        tp["keys_generated"] = yn["yn"] == "Yes" if yn else None
        # "(General Purpose, exportable)" or, for usage keys, "(Signing, ...)(Encryption, ...)"
        detail = yn["detail"] if yn else value
        tp["keys_detail"] = (
            detail[1:-1] if detail and detail.count("(") == 1 and detail.startswith("(") else detail
        )
    elif item == "Issuing CA authenticated":
        tp["ca_authenticated"] = yn["yn"] == "Yes" if yn else None
    else:
        tp["certificate_requests"] = value


def _fast_cert(which: str) -> str:
    """A certificate block of `status` (`which`: the group prefix, 'ca' or 'router')."""
    return (
        rf"(?:[ \t]*+Subject Name:[ \t]*+\n[ \t]*+(?P<{which}_subject>[A-Za-z][\w.\-]*+=[^\n]*+)\n)?"
        rf"(?:[ \t]*+Fingerprint MD5: (?P<{which}_fingerprint_md5>[0-9A-Fa-f ]++)[ \t]*+\n)?"
        rf"(?:[ \t]*+Fingerprint SHA1: (?P<{which}_fingerprint_sha1>[0-9A-Fa-f ]++)[ \t]*+\n)?"
    )


_FAST_STATUS = re.compile(
    r"[ \t]*+Trustpoint (?P<name>\S+?):[ \t]*+\n"
    r"(?:[ \t]*+Issuing CA certificate (?P<ca_state>\w++):[ \t]*+\n" + _fast_cert("ca") + ")?"
    r"(?:[ \t]*+Router [\w ]+? certificate (?P<router_state>\w++):[ \t]*+\n" + _fast_cert("router") + ")?"
    r"(?:[ \t]*+Last enrollment status: (?P<last>[^\n]*+)\n)?"
    r"(?:[ \t]*+State:[ \t]*+\n"
    r"[ \t]*+Keys generated \.++ (?P<keys>[^\n]*+)\n"
    r"[ \t]*+Issuing CA authenticated \.++ (?P<auth>[^\n]*+)\n"
    r"[ \t]*+Certificate request\(s\) \.++ (?P<requests>[^\n]*+)(?:\n|\Z))?"
    r"\s*"
)
_FAST_FINGERPRINTS = tuple(f"{w}_fingerprint_{a}" for w in ("ca", "router") for a in ("md5", "sha1"))
_FAST_STATE = ("Keys generated", "Issuing CA authenticated", "Certificate request(s)")


def _fast_status(text: str) -> TrustpointStatusOutput | None:
    matches = blocks(_FAST_STATUS, text)
    if matches is None:
        return None
    out: list[dict[str, Any]] = []
    for m in matches:
        (
            name,
            ca_state,
            ca_subject,
            ca_md5,
            ca_sha1,
            router_state,
            router_subject,
            *fps,
            last,
            keys,
            auth,
            requests,
        ) = m.groups()
        # only the fields the lines set (as the strict loop gives them: its models list the same set fields)
        tp: dict[str, Any] = {"name": name}
        if ca_state is not None:
            tp["ca_configured"] = ca_state == "configured"
        if router_state is not None:
            tp["router_cert_configured"] = router_state == "configured"
        if ca_subject is not None:
            tp["ca_subject"] = ca_subject.rstrip()
        if router_subject is not None:
            tp["router_subject"] = router_subject.rstrip()
        for key, fp in zip(_FAST_FINGERPRINTS, (ca_md5, ca_sha1, *fps), strict=True):
            if fp is not None:
                tp[key] = fp.replace(" ", "").upper()  # hex digits and spaces only (`_fast_cert`)
        if last is not None:
            tp["last_enrollment_status"] = last = last.rstrip()
            if not last:
                return None
        if keys is not None:
            for item, value in zip(_FAST_STATE, (keys, auth, requests), strict=True):
                value = value.rstrip()
                if not value:
                    return None
                _state_item(tp, item, value)
        out.append(tp)
    return TrustpointStatusOutput.model_validate({"trustpoints": out})


@register(r"(?:show|sh) crypto pki trustpoints?(?: \S+)? status")
def parse_trustpoints_status(
    text: str, platform: str | None = None, *, fast: bool = True
) -> TrustpointStatusOutput:
    """`fast=False` skips the fast path (the tests compare both)."""
    if fast:
        quick = _fast_status(text)
        if quick is not None:
            return quick
    lines = device_lines(text)
    tps: list[dict[str, Any]] = []
    cert: str | None = None  # 'ca' or 'router' while inside a certificate block
    want_dn = False
    for no, raw in enumerate(lines, 1):
        s = raw.strip()
        if not s:
            continue
        if m := _HEAD.fullmatch(s):
            tps.append({"name": m["name"]})
            cert, want_dn = None, False
            continue
        if not tps:
            raise ParseError(STATUS, "output does not start with 'Trustpoint NAME:'", raw, no)
        tp = tps[-1]
        if want_dn:
            if cert is None or not _RDN.fullmatch(s):
                raise ParseError(STATUS, "expected the subject DN after 'Subject Name:'", raw, no)
            tp[f"{cert}_subject"], want_dn = s, False
        elif m := _CERT.fullmatch(s):
            _once(STATUS, tp, repr(m["which"] + " certificate"), raw, no)
            cert = "ca" if m["which"] == "Issuing CA" else "router"
            tp["ca_configured" if cert == "ca" else "router_cert_configured"] = m["state"] == "configured"
        elif s == "Subject Name:" and cert is not None:
            want_dn = True
        elif (m := _FP.fullmatch(s)) and cert is not None:
            tp[f"{cert}_fingerprint_{m['alg'].lower()}"] = "".join(m["fp"].split()).upper()
        elif m := _LAST.fullmatch(s):
            _once(STATUS, tp, "'Last enrollment status:'", raw, no)
            tp["last_enrollment_status"], cert = m["status"], None
        elif s == "State:":
            _once(STATUS, tp, "'State:'", raw, no)
            tp["_state_at"] = (raw, no)
            cert = None
        elif m := _STATE.fullmatch(s):
            _once(STATUS, tp, repr(m["item"]), raw, no)
            _state_item(tp, m["item"], m["value"])
        else:
            raise ParseError(STATUS, "unexpected line", raw, no)
    if want_dn:
        raise ParseError(STATUS, "output ends after 'Subject Name:'", lines[-1], len(lines))
    for tp in tps:
        # every capture's State: block lists all three items; a missing one is a deleted line
        if "_state_at" in tp:
            for item in ("Keys generated", "Issuing CA authenticated", "Certificate request(s)"):
                if repr(item) not in tp["_seen"]:
                    raise ParseError(
                        STATUS,
                        f"trustpoint {tp['name']!r}: State: block has no {item!r} line",
                        *tp["_state_at"],
                    )
    return TrustpointStatusOutput(
        trustpoints=[TrustpointStatus(**{k: v for k, v in tp.items() if not k.startswith("_")}) for tp in tps]
    )
