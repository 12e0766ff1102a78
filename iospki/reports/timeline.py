"""The timeline picture: per device and trustpoint, certificate validity bars (collected and
predicted), the rollover overlap, timer events as markers, today, and outage windows in red."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta

from iospki.audit.engine import AuditResult
from iospki.forecast import (
    CERT_END,
    CS_CERT_EXPIRE,
    CS_SHADOW_CERT_GENERATION,
    RENEW,
    ROLLOVER_ACTIVATION,
    SHADOW,
    SHADOW_FAILED,
    SHADOW_RENEWAL,
    SHADOW_RENEWAL_FAILED,
    Forecast,
)
from iospki.snapshot import HostState

MAX_ROWS = 40

_MARKERS = {
    RENEW: ("o", "#1f77b4"),
    SHADOW_RENEWAL: ("D", "#2ca02c"),
    SHADOW_RENEWAL_FAILED: ("X", "#d62728"),
    SHADOW: ("^", "#2ca02c"),
    SHADOW_FAILED: ("v", "#d62728"),
    ROLLOVER_ACTIVATION: ("*", "#9467bd"),
    CS_SHADOW_CERT_GENERATION: ("P", "#ff7f0e"),
    CS_CERT_EXPIRE: ("s", "#8c564b"),
    CERT_END: ("|", "#d62728"),
}


@dataclass
class Bar:
    start: datetime
    end: datetime
    color: str
    hatch: str | None = None
    ca: bool = False  # CA certificates: a thin bar under the identity certificates


def _rows(states: list[HostState], fc: Forecast | None) -> dict[tuple[str, str], list[Bar]]:
    rows: dict[tuple[str, str], list[Bar]] = {}
    for st in states:
        for c in st.certificates:
            if c.start is None or c.end is None or not c.trustpoints:
                continue
            key = (st.host, c.trustpoints[0])
            if c.kind.value == "ca":
                color = "#b5d99c" if not c.rollover else "#7fbf5f"
            elif c.kind.value == "identity":
                color = "#9ecae1" if not c.rollover else "#6baed6"
            else:
                continue
            rows.setdefault(key, []).append(
                Bar(c.start, c.end, color, "//" if c.rollover else None, ca=c.kind.value == "ca")
            )
    if fc is not None:
        for e in fc.events:
            if e.valid_from and e.valid_to:
                key = (e.host, e.trustpoint or e.subject)
                color = "#fdd49e" if e.event == CS_SHADOW_CERT_GENERATION else "#c6dbef"
                ca = e.event == CS_SHADOW_CERT_GENERATION
                rows.setdefault(key, []).append(Bar(e.valid_from, e.valid_to, color, "..", ca=ca))
            else:
                rows.setdefault((e.host, e.trustpoint or e.subject), [])
    return rows


def render(result: AuditResult, fmt: str = "svg", max_rows: int = MAX_ROWS) -> bytes:
    """The picture as SVG or PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    fc = result.forecast
    ok = [s for s in result.hosts if not s.failed]
    rows = _rows(ok, fc)
    keys = sorted(rows)
    # rows with outages first: they are what a person looks for
    if fc is not None:
        bad = {(o.host, o.trustpoint) for o in fc.outages}
        keys.sort(key=lambda k: (k not in bad, k))
    hidden = max(0, len(keys) - max_rows)
    keys = keys[:max_rows]
    index = {k: i for i, k in enumerate(keys)}
    fig_h = max(4.2, 1.2 + 0.42 * len(keys))  # room for the legend
    fig, ax = plt.subplots(figsize=(13, fig_h), dpi=90)
    for k, bars in rows.items():
        if k not in index:
            continue
        y = index[k]
        for b in bars:
            ax.barh(
                y + (0.28 if b.ca else -0.08),
                mdates.date2num(b.end) - mdates.date2num(b.start),
                left=mdates.date2num(b.start),
                height=0.16 if b.ca else 0.44,
                color=b.color,
                edgecolor="#555555",
                linewidth=0.4,
                hatch=b.hatch,
            )
    if fc is not None:
        for o in fc.outages:
            k = (o.host, o.trustpoint)
            if k in index:
                end = o.end or fc.until
                ax.barh(
                    index[k],
                    mdates.date2num(end) - mdates.date2num(o.start),
                    left=mdates.date2num(o.start),
                    height=0.8,
                    color="#d62728",
                    alpha=0.35,
                    label="outage",
                )
        seen: set[str] = set()
        for e in fc.events:
            k = (e.host, e.trustpoint or e.subject)
            if k in index and e.event in _MARKERS:
                m, col = _MARKERS[e.event]
                ax.plot(
                    mdates.date2num(e.at),
                    index[k],
                    marker=m,
                    color=col,
                    markersize=6,
                    linestyle="none",
                    label=e.event if e.event not in seen else None,
                )
                seen.add(e.event)
    now = result.at or max((s.now for s in ok if s.now), default=None)
    if now is not None:
        ax.axvline(mdates.date2num(now), color="black", linestyle="--", linewidth=1, label="today")
    ax.set_yticks(range(len(keys)))
    ax.set_yticklabels([f"{h} / {t}" for h, t in keys], fontsize=8)
    ax.invert_yaxis()
    ax.xaxis_date()
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    if fc is not None:
        ax.set_xlim(
            mdates.date2num(min(fc.start - timedelta(days=30), now or fc.start)), mdates.date2num(fc.until)
        )
    title = "iospki timeline: certificate validity, PKI timer events, outages (red)"
    if hidden:
        title += f" (first {max_rows} of {max_rows + hidden} rows)"
    ax.set_title(title, fontsize=10)
    from matplotlib.patches import Patch

    handles, labels = ax.get_legend_handles_labels()
    uniq = dict(zip(labels, handles, strict=True))
    for color, hatch, label in (
        ("#9ecae1", None, "identity certificate"),
        ("#b5d99c", None, "CA certificate"),
        ("#6baed6", "//", "rollover certificate"),
        ("#c6dbef", "..", "predicted certificate"),
    ):
        uniq[label] = Patch(facecolor=color, hatch=hatch, edgecolor="#555555", label=label)
    ax.legend(list(uniq.values()), list(uniq.keys()), fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    plt.close(fig)
    return buf.getvalue()
