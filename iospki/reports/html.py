"""Self-contained HTML report (inline CSS, timeline embedded as SVG) for a compliance archive."""

from __future__ import annotations

import html as _html

from iospki import __version__
from iospki.audit.engine import AuditResult
from iospki.reports import timeline
from iospki.reports.common import certificate_rows, iso, summary
from iospki.reports.registry import writer

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}
.critical{background:#fde0e0}.warning{background:#fff1d6}.info{background:#e6f0ff}
.sev{font-weight:bold;text-transform:uppercase;font-size:11px}
code{background:#f6f6f6;padding:1px 3px}
.summary span{display:inline-block;margin-right:16px;font-weight:bold}
#timeline svg{max-width:100%;height:auto}
details{margin:6px 0}summary{cursor:pointer;font-weight:bold}
"""

MAX_PAGES = 8  # detail pictures in one report (groups with outages first); the tables list everything


def _svg(data: bytes) -> str:
    text = data.decode("utf-8")
    return text[text.find("<svg") :]  # drop the XML prolog and DOCTYPE: inline SVG in HTML5


def _timeline(result: AuditResult) -> list[str]:
    """One picture when it fits; else the overview by CA server and a collapsible page per CA."""
    fc = result.forecast
    parts = ['<h2>Timeline</h2><div id="timeline">']
    pages = timeline.pages(result)
    rows = sum(len(k) for _, k in pages)
    if rows <= timeline.MAX_ROWS:
        parts += [_svg(timeline.render(result, "svg")), "</div>"]
        return parts
    parts.append(_svg(timeline.render_overview(result, "svg")))
    bad = {(o.host, o.trustpoint) for o in fc.outages} if fc is not None else set()
    for i, (label, keys) in enumerate(pages[:MAX_PAGES]):
        n_bad = sum(k in bad for k in keys)
        parts.append(
            f"<details{' open' if i == 0 else ''}><summary>{_e(label)}: {len(keys)} rows, "
            f"{n_bad} with outages</summary>"
        )
        parts.append(_svg(timeline.render(result, "svg", keys=keys, title=f"iospki timeline: {label}")))
        parts.append("</details>")
    if len(pages) > MAX_PAGES:
        parts.append(
            f"<p>{len(pages) - MAX_PAGES} more pages not drawn; every outage and event is in the tables below.</p>"
        )
    parts.append("</div>")
    return parts


def _e(s: object) -> str:
    return _html.escape(str(s)) if s is not None else ""


@writer("audit", "html")
def to_html(result: AuditResult) -> str:
    s = summary(result)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>iospki audit</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>iospki audit</h1>",
        f"<p>iospki {_e(__version__)} · generated {_e(iso(result.generated))} · "
        + (f"at {_e(iso(result.at))}" if result.at else "each device's own clock")
        + "</p>",
        '<p class="summary">'
        + f"<span>{len(result.hosts)} hosts</span><span>{len(result.failed_hosts)} failed</span>"
        + "".join(f'<span class="{k}">{v} {k}</span>' for k, v in s.items())
        + "</p>",
    ]
    parts += _timeline(result)
    parts += [
        "<h2>Findings</h2>",
    ]
    if result.findings:
        parts.append(
            "<table><tr><th>severity</th><th>rule</th><th>host</th><th>target</th><th>finding</th>"
            "<th>evidence</th><th>impact</th><th>remedy</th></tr>"
        )
        for f in result.findings:
            ev = "<br>".join(f"{_e(k)}: {_e(v)}" for k, v in f.evidence.items())
            parts.append(
                f'<tr class="{f.severity.value}"><td class="sev">{f.severity.value}</td><td><code>{_e(f.rule)}</code></td>'
                f"<td>{_e(f.host)}</td><td>{_e(f.target)}</td><td>{_e(f.message)}</td><td>{ev}</td>"
                f"<td>{_e(iso(f.impact_at))}</td><td><code>{_e(f.remedy)}</code></td></tr>"
            )
        parts.append("</table>")
    else:
        parts.append("<p>No findings.</p>")
    fc = result.forecast
    if fc is not None:
        parts.append(f"<h2>Predicted outages ({_e(iso(fc.start))} to {_e(iso(fc.until))})</h2>")
        if fc.outages:
            parts.append(
                "<table><tr><th>host</th><th>trustpoint</th><th>from</th><th>until</th><th>reason</th></tr>"
            )
            parts += [
                f'<tr class="critical"><td>{_e(o.host)}</td><td>{_e(o.trustpoint)}</td><td>{_e(iso(o.start))}</td>'
                f"<td>{_e(iso(o.end)) or 'open'}</td><td>{_e(o.reason)}</td></tr>"
                for o in fc.outages
            ]
            parts.append("</table>")
        else:
            parts.append(
                "<p>None predicted.</p>"
                if not fc.unpredictable
                else "<p>None predicted for the other hosts.</p>"
            )
        if fc.unpredictable:  # hosts the forecast says nothing about: never covered by "none predicted"
            parts.append("<h3>Not predicted</h3><table><tr><th>host</th><th>why</th></tr>")
            parts += [
                f'<tr class="critical"><td>{_e(u.host)}</td><td>{_e(u.reason)}</td></tr>'
                for u in fc.unpredictable
            ]
            parts.append("</table>")
        parts.append(
            "<h2>Forecast events</h2><table><tr><th>at</th><th>host</th><th>subject</th><th>event</th>"
            "<th>detail</th></tr>"
        )
        parts += [
            f"<tr><td>{_e(iso(ev.at))}</td><td>{_e(ev.host)}</td><td>{_e(ev.subject)}</td><td>{_e(ev.event)}</td>"
            f"<td>{_e(ev.detail)}</td></tr>"
            for ev in fc.events[:2000]
        ]
        parts.append("</table>")
    parts.append(
        "<h2>Certificates</h2><table><tr><th>host</th><th>trustpoint</th><th>section</th><th>serial</th>"
        "<th>subject</th><th>not before</th><th>not after</th><th>days left</th></tr>"
    )
    parts += [
        f'<tr class="{"critical" if r.expired else ""}"><td>{_e(r.host)}</td><td>{_e(r.trustpoint)}</td>'
        f"<td>{_e(r.section)}</td><td>{_e(r.serial)}</td><td>{_e(r.subject)}</td><td>{_e(iso(r.not_before))}</td>"
        f"<td>{_e(iso(r.not_after))}</td><td>{_e(r.days_left)}</td></tr>"
        for r in certificate_rows(result)
    ]
    parts.append("</table></body></html>")
    return "\n".join(parts) + "\n"
