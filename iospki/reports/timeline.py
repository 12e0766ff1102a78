"""The timeline picture: per device and trustpoint, certificate validity bars (collected and
predicted), the rollover overlap, timer events as markers, today, and outage windows in red."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

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
from iospki.pki.inputs import CAIndex, ca_inputs
from iospki.state.loader import HostState

if TYPE_CHECKING:  # matplotlib is imported when a chart is drawn, not with the reports
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MAX_ROWS = 40
PAGE_ROWS = 25  # rows of one detail page (one CA's trustpoints) in the HTML report
Key = tuple[str, str]

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


def _now(result: AuditResult) -> datetime | None:
    return result.at or max((s.now for s in result.hosts if not s.failed and s.now), default=None)


def groups(result: AuditResult) -> list[tuple[str, list[Key]]]:
    """The rows (host, trustpoint) grouped by the CA server they depend on, the CA's own row first,
    then rows with outages; groups with outages first."""
    fc = result.forecast
    ok = [s for s in result.hosts if not s.failed]
    rows = _rows(ok, fc)
    index = CAIndex.build(ok)
    by_host = {s.host: s for s in ok}
    ca_keys = {c.key for s in ok for c in ca_inputs(s)}
    bad = {(o.host, o.trustpoint) for o in fc.outages} if fc is not None else set()
    grouped: dict[Key | None, list[Key]] = {}
    for key in rows:
        if key in ca_keys:
            ca: Key | None = key
        else:
            st = by_host.get(key[0])
            ca = index.find(st, key[1]) if st is not None else None
        grouped.setdefault(ca, []).append(key)
    out: list[tuple[str, list[Key]]] = []
    for ca, keys in grouped.items():
        keys.sort(key=lambda k: (k != ca, k not in bad, k))
        label = f"CA {ca[1]} on {ca[0]}" if ca else "trustpoints without a known CA server"
        out.append((label, keys))
    out.sort(key=lambda g: (not any(k in bad for k in g[1]), g[0]))
    return out


def pages(result: AuditResult, rows_per_page: int = PAGE_ROWS) -> list[tuple[str, list[Key]]]:
    """Detail pages: each CA group split into pages of at most `rows_per_page` rows."""
    out: list[tuple[str, list[Key]]] = []
    for label, keys in groups(result):
        n = (len(keys) + rows_per_page - 1) // rows_per_page
        for i in range(n):
            part = keys[i * rows_per_page : (i + 1) * rows_per_page]
            out.append((label + (f" (part {i + 1} of {n})" if n > 1 else ""), part))
    return out


_OUTAGE_STYLE = {  # reason -> (colour, hatch, legend label)
    "no-identity-certificate": ("#d62728", None, "outage: no valid identity certificate"),
    "ca-untrusted": ("#a50f15", "xx", "outage: active CA not trusted"),
}


def _finish(
    ax: Axes, fig: Figure, fmt: str, title: str, now: datetime | None, fc: Forecast | None,
    extra: list[tuple[str, str | None, str]],
) -> bytes:
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    if now is not None:
        ax.axvline(mdates.date2num(now), color="black", linestyle="--", linewidth=1.2, label="today")
        ax.annotate(
            f"today {now:%Y-%m-%d}",
            (mdates.date2num(now), 0.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, 4),
            textcoords="offset points",
            fontsize=8,
        )
    ax.invert_yaxis()
    ax.xaxis_date()
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=6, maxticks=14))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    ax.tick_params(axis="x", labelsize=8, labelrotation=30)
    if fc is not None:
        ax.set_xlim(
            mdates.date2num(min(fc.start - timedelta(days=30), now or fc.start)), mdates.date2num(fc.until)
        )
    ax.set_title(title, fontsize=10, loc="left")
    handles, labels = ax.get_legend_handles_labels()
    uniq = dict(zip(labels, handles, strict=True))
    for color, hatch, label in extra:
        uniq[label] = Patch(facecolor=color, hatch=hatch, edgecolor="#555555", label=label)
    ax.legend(list(uniq.values()), list(uniq.keys()), fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    plt.close(fig)
    return buf.getvalue()


_BAR_LEGEND = [
    ("#9ecae1", None, "identity certificate"),
    ("#b5d99c", None, "CA certificate"),
    ("#6baed6", "//", "rollover certificate (collected)"),
    ("#c6dbef", "..", "predicted certificate"),
    ("#fdd49e", "..", "predicted rollover CA"),
]


def _rects(ax, vals: list[tuple[float, float, float]], height: float, **style: object) -> None:  # type: ignore[no-untyped-def]
    """Bars (y centre, width, left) as one collection: barh adds (and re-limits) one patch per bar."""
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle

    rects = [Rectangle((x0, y - height / 2), w, height) for y, w, x0 in vals]
    ax.add_collection(PatchCollection(rects, match_original=False, **style))


def render(
    result: AuditResult,
    fmt: str = "svg",
    max_rows: int = MAX_ROWS,
    keys: list[Key] | None = None,
    title: str | None = None,
) -> bytes:
    """The picture as SVG or PNG bytes: one row per (host, trustpoint), or, when there are more
    rows than `max_rows` and no `keys` are given, the overview with one row per CA server."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    fc = result.forecast
    ok = [s for s in result.hosts if not s.failed]
    rows = _rows(ok, fc)
    if keys is None:
        if len(rows) > max_rows:
            return render_overview(result, fmt)
        keys = [k for _, ks in groups(result) for k in ks]
    keys = keys[:max_rows] if len(keys) > max_rows else keys
    index = {k: i for i, k in enumerate(keys)}
    fig_h = max(4.2, 1.6 + 0.42 * len(keys))  # room for the legend
    fig, ax = plt.subplots(figsize=(13, fig_h), dpi=90)
    # one barh / plot call per style: a call per bar made a 50-row page take a second
    bars: dict[tuple[bool, str, str | None], list[tuple[float, float, float]]] = {}
    for k in keys:
        for b in rows.get(k, []):
            x0 = mdates.date2num(b.start)
            bars.setdefault((b.ca, b.color, b.hatch), []).append(
                (index[k] + (0.28 if b.ca else -0.08), mdates.date2num(b.end) - x0, x0)
            )
    for (ca, color, hatch), vals in bars.items():
        _rects(
            ax, vals, 0.16 if ca else 0.44, facecolor=color, edgecolor="#555555", linewidth=0.4, hatch=hatch
        )
    extra = list(_BAR_LEGEND)
    if fc is not None:
        outs: dict[str, list[tuple[float, float, float]]] = {}
        for o in fc.outages:
            k = (o.host, o.trustpoint)
            if k in index:
                x0 = mdates.date2num(o.start)
                outs.setdefault(o.reason, []).append((index[k], mdates.date2num(o.end or fc.until) - x0, x0))
        for reason, vals in outs.items():
            color, hatch, label = _OUTAGE_STYLE.get(reason, ("#d62728", None, f"outage: {reason}"))
            _rects(ax, vals, 0.8, facecolor=color, alpha=0.3, hatch=hatch, edgecolor=color, linewidth=0)
            extra.append((color, hatch, label))
        marks: dict[str, list[tuple[float, int]]] = {}
        for e in fc.events:
            k = (e.host, e.trustpoint or e.subject)
            if k in index and e.event in _MARKERS:
                marks.setdefault(e.event, []).append((mdates.date2num(e.at), index[k]))
        for event in sorted(marks, key=list(_MARKERS).index):
            m, col = _MARKERS[event]
            xs2, ys2 = zip(*marks[event], strict=True)
            ax.plot(list(xs2), list(ys2), marker=m, color=col, markersize=6, linestyle="none", label=event)
    ax.set_yticks(range(len(keys)))
    ax.set_yticklabels([f"{h} / {t}" for h, t in keys], fontsize=8)
    ax.set_ylim(-0.7, max(len(keys), 1) - 0.3)
    t = title or "iospki timeline: certificate validity, PKI timer events, outages (red)"
    hidden = len(rows) - len(keys) if title is None else 0
    if hidden > 0:
        t += f" ({len(keys)} of {len(rows)} rows)"
    return _finish(ax, fig, fmt, t, _now(result), fc, extra)


def render_overview(result: AuditResult, fmt: str = "svg") -> bytes:
    """One row per CA server: its CA certificate (and predicted rollover CA), its timer events, and a
    red band from the first to the last predicted outage of its trustpoints, with their count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    fc = result.forecast
    ok = [s for s in result.hosts if not s.failed]
    rows = _rows(ok, fc)
    grp = groups(result)
    fig, ax = plt.subplots(figsize=(13, max(4.2, 1.6 + 0.5 * len(grp))), dpi=90)
    labels = []
    for y, (label, keys) in enumerate(grp):
        ca_key = keys[0] if label.startswith("CA ") else None
        for b in rows.get(ca_key, []) if ca_key else []:
            ax.barh(
                y - 0.05,
                mdates.date2num(b.end) - mdates.date2num(b.start),
                left=mdates.date2num(b.start),
                height=0.22,
                zorder=2,
                color=b.color,
                edgecolor="#555555",
                linewidth=0.4,
                hatch=b.hatch,
            )
        members = set(keys) - ({ca_key} if ca_key else set())
        outs = [o for o in (fc.outages if fc else []) if (o.host, o.trustpoint) in members]
        if outs and fc is not None:
            first = min(o.start for o in outs)
            last = max(o.end or fc.until for o in outs)
            hit = {(o.host, o.trustpoint) for o in outs}
            ax.barh(
                y,
                mdates.date2num(last) - mdates.date2num(first),
                left=mdates.date2num(first),
                height=0.8,
                color="#d62728",
                alpha=0.3,
                zorder=0.5,
                label="outage (some trustpoints)",
            )
            ax.annotate(
                f"{len(hit)} of {len(members)} trustpoints in outage from {first:%Y-%m-%d}",
                (mdates.date2num(first), y + 0.32),
                xytext=(3, 0),
                textcoords="offset points",
                fontsize=7,
                color="#a50f15",
            )
        if ca_key and fc is not None:
            seen = {h.get_label() for h in ax.get_legend_handles_labels()[0]}
            for e in fc.events:
                if (e.host, e.trustpoint or e.subject) == ca_key and e.event in _MARKERS:
                    m, col = _MARKERS[e.event]
                    ax.plot(
                        mdates.date2num(e.at),
                        y,
                        marker=m,
                        color=col,
                        markersize=7,
                        linestyle="none",
                        label=e.event if e.event not in seen else None,
                    )
                    seen.add(e.event)
        labels.append(f"{label} ({len(members)} trustpoints)")
    ax.set_yticks(range(len(grp)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_ylim(-0.7, max(len(grp), 1) - 0.3)
    n_rows = sum(len(k) for _, k in grp)
    title = f"iospki timeline overview: {n_rows} rows grouped by CA server; outages in red"
    return _finish(ax, fig, fmt, title, _now(result), fc, _BAR_LEGEND[1:2] + _BAR_LEGEND[4:])
