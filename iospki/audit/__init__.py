"""Audit: rules as data (`rules.RULES`), one pure check per rule (`checks.CHECKS`), generic evaluation."""

from iospki.audit.engine import AuditResult, Finding, run_audit
from iospki.audit.rules import RULES, RULES_BY_ID, Rule, Severity

__all__ = ["RULES", "RULES_BY_ID", "AuditResult", "Finding", "Rule", "Severity", "run_audit"]
