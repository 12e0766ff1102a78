"""Audit reports: canonical JSON, JUnit XML, Markdown, self-contained HTML, CSV, Prometheus, timeline picture."""

from __future__ import annotations

from iospki.audit.engine import AuditResult

FORMATS = ("table", "json", "junit", "markdown", "html", "csv", "prometheus")


def render(result: AuditResult, fmt: str) -> str:
    """The report in `fmt` (any of FORMATS except 'table', which the CLI prints with rich)."""
    if fmt == "json":
        from iospki.reports.json_report import to_json_text

        return to_json_text(result)
    if fmt == "junit":
        from iospki.reports.junit import to_junit

        return to_junit(result)
    if fmt == "markdown":
        from iospki.reports.markdown import to_markdown

        return to_markdown(result)
    if fmt == "html":
        from iospki.reports.html import to_html

        return to_html(result)
    if fmt == "csv":
        from iospki.reports.csv_report import to_csv

        return to_csv(result)
    if fmt == "prometheus":
        from iospki.reports.prometheus import to_prometheus

        return to_prometheus(result)
    raise ValueError(f"unknown report format {fmt!r} (choose from {', '.join(FORMATS)})")
