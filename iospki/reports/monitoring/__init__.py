"""Monitoring that reads the Prometheus textfile (`iospki audit --format prometheus`).

`iospki-alerts.yml` holds Prometheus alerting rules and `grafana-dashboard.json` a Grafana dashboard;
both use only the metric names `iospki.reports.prometheus` writes. They ship as package data:

>>> from iospki.reports.monitoring import ALERT_RULES, DASHBOARD
>>> ALERT_RULES.name, DASHBOARD.name
('iospki-alerts.yml', 'grafana-dashboard.json')
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
ALERT_RULES = HERE / "iospki-alerts.yml"
DASHBOARD = HERE / "grafana-dashboard.json"
