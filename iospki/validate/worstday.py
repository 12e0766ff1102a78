"""Rule V1 (docs/rules.md): the join day that leaves a trustpoint design the least margin between a client's
shadow request and the rollover CA's creation, as pure arithmetic in days from the CA's notBefore.

A client joining on day `j` renews at `j + f·L`, `j + 2f·L`, ... (C2, C3) until a certificate reaches the
CA's end (S2); the capped certificate, installed on `t_c`, makes its shadow request at
`t_c + f·(L_CA − t_c)` (C9) and the rollover CA exists from `L_CA − R` (S3). The worst join day is
`D mod f·L` with `D = max(L_CA − L, 0)`; its margin `R − (1 − f)·min(L, L_CA)`.

The behaviour doc §1.8 table (CA 730 days, certificates 365 days), row by row:

>>> d90, d30 = Design(730, 90, 365, 80), Design(730, 30, 365, 80)
>>> [round(shadow_request_day(d30, j), 1) for j in (0, 73, 100)]
[700.8, 657.0, 662.4]
>>> [round(margin(d90, j), 1) for j in (0, 73, 100)]
[60.8, 17.0, 22.4]
>>> [round(margin(d30, j), 1) for j in (0, 73, 100)]
[0.8, -43.0, -37.6]
>>> worst_join_day(d30), worst_margin(d30), worst_margin(d90)
(73.0, -43.0, 17.0)
>>> d60 = Design(730, 90, 365, 60)
>>> round(shadow_request_day(d60, 0), 1), round(margin(d60, 0), 1), worst_join_day(d60), worst_margin(d60)
(613.2, -26.8, 146.0, -56.0)
>>> manual = Design(730, 30, 365, None, auto_enroll=False)  # C5: the CA shadow at 90 % of the CA's life
>>> shadow_request_day(manual, 100), margin(manual, 100), worst_join_day(manual)
(657.0, -43.0, 0.0)
"""

from __future__ import annotations

from dataclasses import dataclass

from iospki.pki.timers import SHADOW_FRACTION


@dataclass(frozen=True)
class Design:
    """A trustpoint design: `L_CA`, `R` (None: no auto-rollover), `L`, auto-enroll percentage `p`.

    `percent` None with `auto_enroll` means `auto-enroll` without a percentage (f = 1, C2)."""

    ca_days: float
    overlap_days: float | None
    cert_days: float
    percent: int | None
    auto_enroll: bool = True

    def describe(self) -> str:
        overlap = f"auto-rollover {self.overlap_days:g}" if self.overlap_days is not None else "no auto-rollover"
        if not self.auto_enroll:
            enroll = "no auto-enroll"
        else:
            enroll = f"auto-enroll {self.percent}" if self.percent is not None else "auto-enroll (at expiry)"
        return f"CA {self.ca_days:g} d, certificates {self.cert_days:g} d, {overlap}, {enroll}"

    @property
    def fraction(self) -> float:
        return 1.0 if self.percent is None else self.percent / 100

    @property
    def step(self) -> float:
        """Days between ordinary renewals, `f·L` (multiplied before dividing: 365 × 80 / 100 is exactly 292)."""
        return self.cert_days if self.percent is None else self.cert_days * self.percent / 100


def capped_install_day(d: Design, join: float) -> float:
    """`t_c`: the install day of the client's first certificate that ends with the CA (S2)."""
    t = join
    while t + d.cert_days < d.ca_days:
        t += d.step
    return t


def shadow_request_day(d: Design, join: float) -> float:
    """The day of the shadow request (C9 with auto-enroll; C5's 90 % of the CA's life without)."""
    if not d.auto_enroll:
        return SHADOW_FRACTION * d.ca_days
    t_c = capped_install_day(d, join)
    if d.percent is None:
        return t_c + (d.ca_days - t_c)
    return t_c + (d.ca_days - t_c) * d.percent / 100


def rollover_day(d: Design) -> float | None:
    """When the rollover CA is created (S3), None without auto-rollover."""
    return None if d.overlap_days is None else d.ca_days - d.overlap_days


def margin(d: Design, join: float) -> float:
    """Days from the rollover CA's creation to the shadow request (negative: the request finds none)."""
    roll = rollover_day(d)
    if roll is None:
        raise ValueError("a design without auto-rollover has no rollover CA to find")
    return round(shadow_request_day(d, join) - roll, 6)


def worst_join_day(d: Design) -> float:
    """V1's `j* = D mod f·L` (the earliest such day); every day is alike without auto-enroll: day 0."""
    if not d.auto_enroll:
        return 0.0
    return round(max(d.ca_days - d.cert_days, 0.0) % d.step, 6)


def worst_margin(d: Design) -> float:
    """The margin of a client joining on the worst day (V1's `m*`)."""
    return margin(d, worst_join_day(d))
