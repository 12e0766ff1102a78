"""Reports: audit results as canonical JSON, JUnit XML, Markdown, self-contained HTML, CSV, Prometheus and a
timeline picture; validation results as JUnit XML, a Markdown summary, JSON and a PNG timeline.

Every format is a function registered by name (`iospki.reports.registry`); see there how to add one.
"""

from __future__ import annotations

from iospki.reports.registry import Writer, formats, get, render, write, write_report, writer, writers

__all__ = ["Writer", "formats", "get", "render", "write", "write_report", "writer", "writers"]
