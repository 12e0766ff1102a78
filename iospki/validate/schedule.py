"""When to look: just after every forecast event and every certificate end, close times sharing one look."""

from __future__ import annotations

from datetime import datetime, timedelta

from iospki.forecast import Forecast
from iospki.validate.compare import World

CHECKPOINT_MARGIN = timedelta(minutes=2)  # look this long after an event (let the SCEP exchange finish)
CLUSTER_GAP = timedelta(minutes=10)  # events closer than this share one checkpoint


def checkpoints(
    fc: Forecast, world: World, now: datetime, until: datetime, include_end: bool = True
) -> list[datetime]:
    """Just after every forecast event and certificate end in (now, until]; close times share one."""
    times = [e.at for e in fc.events if now < e.at <= until]
    for v in world.tps.values():
        for c in (v.identity, v.roll_identity, v.ca, v.roll_ca):
            if c is not None and now < c.end <= until:
                times.append(c.end)
    for cav in world.cas.values():
        for x in (cav.ca, cav.roll):
            if x is not None and now < x.end <= until:
                times.append(x.end)
    times.sort()
    out: list[datetime] = []
    last: datetime | None = None
    for t in times:
        if last is not None and t - last <= CLUSTER_GAP:
            out[-1] = t + CHECKPOINT_MARGIN
        else:
            out.append(t + CHECKPOINT_MARGIN)
        last = t
    out = [min(t, until) for t in out]
    if include_end and (not out or out[-1] < until):
        out.append(until)
    return sorted(set(out))
