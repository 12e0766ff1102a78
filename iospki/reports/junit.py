"""JUnit XML: one test case per host and rule; findings fail it, failed hosts error it."""

from __future__ import annotations

from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

from iospki.audit.engine import AuditResult, Finding
from iospki.audit.rules import FAILURE_KINDS
from iospki.reports.registry import writer


@writer("audit", "junit")
def to_junit(result: AuditResult) -> str:
    suite = TestSuite("iospki.audit")
    by_key: dict[tuple[str, str], list[Finding]] = {}
    for f in result.findings:
        by_key.setdefault((f.host, f.rule), []).append(f)
    for st in result.hosts:
        failures = [f for f in result.findings if f.host == st.host and f.rule in FAILURE_KINDS]
        for rule in result.rules:
            if rule.id in FAILURE_KINDS:
                continue
            case = TestCase(rule.id, classname=st.host)
            found = by_key.get((st.host, rule.id), [])
            if st.failed:
                case.result = [Error(failures[0].message if failures else "host failed", "host-unreachable")]
            elif found:
                text = "\n\n".join(
                    f"[{f.severity.value}] {f.target or st.host}: {f.message}\n"
                    + "".join(f"  {k}: {v}\n" for k, v in f.evidence.items())
                    + (f"  impact: {f.impact_at.isoformat()}\n" if f.impact_at else "")
                    + f"  remedy: {f.remedy}"
                    for f in found
                )
                fail = Failure(found[0].message, found[0].severity.value)
                fail.text = text
                case.result = [fail]
            elif st.errors:
                # checks ran on partial data: say so without failing the rule
                case.result = [Skipped("some outputs of this host could not be parsed")]
            suite.append(case)  # add_testcase re-counts the suite each time: quadratic
        for f in failures:
            if f.rule != "host-unreachable":  # parse-error, collection-incomplete: one erroring case each
                case = TestCase(f"{f.rule}: {f.target}" if f.target else f.rule, classname=st.host)
                case.result = [Error(f.message, f.rule)]
                suite.append(case)  # add_testcase re-counts the suite each time: quadratic
    suite.update_statistics()
    xml = JUnitXml("iospki audit")
    xml.add_testsuite(suite)
    return xml.tostring().decode("utf-8") if isinstance(xml.tostring(), bytes) else str(xml.tostring())
