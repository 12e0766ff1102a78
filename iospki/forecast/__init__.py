"""Forecast: every future PKI event per device, and the outage windows they lead to.

Two rooms: `model` (the result types `Event`, `Outage`, `Forecast` and the event names) and `simulator`
(`simulate`, `forecast_states`). The inputs (`CAInput`, `TrustpointInput`, ...) live in `iospki.pki.inputs`,
which the audit reads too; they are re-exported here so `from iospki.forecast import X` keeps working.

>>> from datetime import datetime
>>> ca = CAInput("ca1", "ROOT", Validity(datetime(2025, 1, 1), datetime(2026, 1, 1)))
>>> [e.event for e in simulate([ca], [], datetime(2025, 6, 1), datetime(2027, 1, 1)).events]
['CS CERT EXPIRE']
"""

from __future__ import annotations

from iospki.forecast.model import (
    CA_CERT_END,
    CA_UNTRUSTED,
    CERT_END,
    CERT_INSTALL,
    CS_CERT_EXPIRE,
    CS_SHADOW_CERT_GENERATION,
    ER_EXPIRE,
    NO_IDENTITY,
    POLL,
    POLL_LAST,
    RENEW,
    RENEW_FAILED,
    RENEW_PENDING,
    ROLLOVER_ACTIVATION,
    SHADOW,
    SHADOW_FAILED,
    SHADOW_RENEWAL,
    SHADOW_RENEWAL_FAILED,
    Event,
    Forecast,
    Outage,
)
from iospki.forecast.simulator import forecast_states, simulate
from iospki.pki.inputs import (
    CAIndex,
    CAInput,
    TrustpointInput,
    Validity,
    ca_inputs,
    client_trustpoints,
    inputs_from_states,
    norm_dn,
    trustpoint_input,
)

__all__ = [
    "CA_CERT_END",
    "CA_UNTRUSTED",
    "CERT_END",
    "CERT_INSTALL",
    "CS_CERT_EXPIRE",
    "CS_SHADOW_CERT_GENERATION",
    "ER_EXPIRE",
    "NO_IDENTITY",
    "POLL",
    "POLL_LAST",
    "RENEW",
    "RENEW_FAILED",
    "RENEW_PENDING",
    "ROLLOVER_ACTIVATION",
    "SHADOW",
    "SHADOW_FAILED",
    "SHADOW_RENEWAL",
    "SHADOW_RENEWAL_FAILED",
    "CAIndex",
    "CAInput",
    "Event",
    "Forecast",
    "Outage",
    "TrustpointInput",
    "Validity",
    "ca_inputs",
    "client_trustpoints",
    "forecast_states",
    "inputs_from_states",
    "norm_dn",
    "simulate",
    "trustpoint_input",
]
