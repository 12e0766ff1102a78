"""Audit: rules as frozen data bound to their pure checks (`checks`, `@rule`), generic evaluation (`engine`),
remedies rendered from the deploy templates (`remedies`)."""

from iospki.audit.engine import RULES, RULES_BY_ID, AuditResult, Finding, run_audit
from iospki.audit.rules import Rule, Severity

__all__ = ["RULES", "RULES_BY_ID", "AuditResult", "Finding", "Rule", "Severity", "run_audit"]
