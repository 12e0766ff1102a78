"""Markdown for a CI job summary."""

from __future__ import annotations

from iospki.audit.engine import AuditResult
from iospki.reports.common import summary
from iospki.reports.registry import writer

_ICON = {"critical": "🔴", "warning": "🟠", "info": "🔵"}
MAX_ROWS = 300  # a CI job summary is limited in size; the JSON/HTML reports carry everything


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def _code(s: str) -> str:
    return _cell(s).replace("`", "'")  # a backtick would end the code span


def _evidence(ev: dict[str, str], limit: int = 600) -> str:
    text = "<br>".join(f"{_cell(k)}: {_cell(v)}" for k, v in ev.items())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@writer("audit", "markdown")
def to_markdown(result: AuditResult) -> str:
    s = summary(result)
    out = [
        "## iospki audit",
        "",
        f"{len(result.hosts)} hosts ({len(result.failed_hosts)} failed) · "
        f"{s['critical']} critical · {s['warning']} warning · {s['info']} info"
        + (f" · at {result.at.isoformat()}" if result.at else " · each device's own clock"),
        "",
    ]
    if result.findings:
        out += [
            "| | rule | host | target | finding | evidence | impact | remedy |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for f in result.findings[:MAX_ROWS]:
            out.append(
                f"| {_ICON[f.severity.value]} | `{f.rule}` | {_cell(f.host)} | {_cell(f.target or '')} | "
                f"{_cell(f.message)} | {_evidence(f.evidence)} | "
                f"{f.impact_at.isoformat(sep=' ') if f.impact_at else ''} | `{_code(f.remedy)}` |"
            )
        if len(result.findings) > MAX_ROWS:
            out.append(
                f"\n… and {len(result.findings) - MAX_ROWS} more findings (see the JSON or HTML report)."
            )
    else:
        out.append("No findings.")
    fc = result.forecast
    if fc is not None and fc.outages:
        out += [
            "",
            "### Predicted outages",
            "",
            "| host | trustpoint | from | until | reason |",
            "|---|---|---|---|---|",
        ]
        for o in fc.outages[:MAX_ROWS]:
            out.append(
                f"| {o.host} | {o.trustpoint} | {o.start.isoformat(sep=' ')} | "
                f"{o.end.isoformat(sep=' ') if o.end else 'open'} | {o.reason} |"
            )
        if len(fc.outages) > MAX_ROWS:
            out.append(f"\n… and {len(fc.outages) - MAX_ROWS} more predicted outages.")
    if fc is not None and fc.unpredictable:
        out += ["", "### Not predicted (incomplete or failed collection)", "", "| host | why |", "|---|---|"]
        out += [f"| {u.host} | {u.reason} |" for u in fc.unpredictable[:MAX_ROWS]]
        if len(fc.unpredictable) > MAX_ROWS:
            out.append(f"\n… and {len(fc.unpredictable) - MAX_ROWS} more hosts not predicted.")
    return "\n".join(out) + "\n"
