"""The reports of `iospki lab validate`: JUnit XML (one case per host and check, one per worst-day probe,
one per audit finding that fails the run), a Markdown summary, the result as JSON and a PNG timeline of the
certificates each client held, with the problems marked."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from xml.etree import ElementTree as ET

from iospki.reports.registry import writer
from iospki.validate.model import CHECKS, CLIENT_CHECKS, ValidationResult, at_or_above, iso


@writer("validation", "junit", "junit.xml")
def junit_xml(res: ValidationResult) -> str:
    """One test case per host and check; a failure names host, trustpoint, time and cause. Outcomes and the
    audit are separate kinds of failure: a probe's verdict is the case `<probe>`/`worst-join-day`, an audit
    finding at or above --fail-on the case `audit.<host>`/`<rule> <target>`."""
    suite = ET.Element("testsuite", name="iospki.validate")
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="fail-on", value=res.fail_on)
    for probe in res.probes:
        ET.SubElement(props, "property", name=f"probe {probe.host}", value=probe.line(res.day0))
    cases = 0
    failures = 0
    errors = 0
    for host in res.hosts:
        for check in CHECKS:
            if check in CLIENT_CHECKS and host not in res.trustpoints:
                continue  # a CA server or a host without client trustpoints
            case = ET.SubElement(suite, "testcase", classname=host, name=check)
            cases += 1
            found = [p for p in res.problems if p.host == host and p.check == check]
            if found:
                failures += 1
                f = ET.SubElement(case, "failure", message=found[0].line()[:500], type=check)
                f.text = "\n".join(p.line() for p in found)
    for probe in res.probes:
        case = ET.SubElement(suite, "testcase", classname=probe.host, name="worst-join-day")
        cases += 1
        found = [p for p in res.problems if p.host == probe.host]
        ET.SubElement(case, "system-out").text = probe.line(res.day0)
        if not probe.joined:
            ET.SubElement(case, "skipped", message="its join day lies beyond the span validated (--through)")
        elif found:
            failures += 1
            f = ET.SubElement(case, "failure", message=probe.line(res.day0)[:500], type="worst-join-day")
            f.text = "\n".join([probe.line(res.day0), *(p.line() for p in found)])
    judged = [f for f in res.audit_findings if at_or_above(f.severity, res.fail_on)]
    for finding in judged:
        name = f"{finding.rule} {finding.target}" if finding.target else finding.rule
        case = ET.SubElement(suite, "testcase", classname=f"audit.{finding.host}", name=name)
        cases += 1
        failures += 1
        ET.SubElement(
            case, "failure", message=finding.line()[:500], type=f"audit-{finding.severity}"
        ).text = finding.line()
    if res.fail_on != "none" and not judged:
        ET.SubElement(suite, "testcase", classname="audit", name=f"no finding at or above {res.fail_on}")
        cases += 1
    if res.error:
        case = ET.SubElement(suite, "testcase", classname="lab", name="run")
        ET.SubElement(case, "error", message=res.error[:500], type="run").text = res.error
        cases += 1
        errors += 1
    suite.set("tests", str(cases))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("time", f"{res.seconds:.1f}")
    root = ET.Element("testsuites", name="iospki lab validate")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


@writer("validation", "summary", "summary.md")
def markdown(res: ValidationResult) -> str:
    verdict = "PASSED" if res.passed else "FAILED"
    lines = [
        f"# iospki lab validate: {verdict}",
        "",
        f"- inventory: `{res.inventory}`",
        f"- lab time: {iso(res.start) if res.start else '-'} to {iso(res.until) if res.until else '-'}",
        f"- hosts: {len(res.hosts)}, client trustpoints: {sum(len(v) for v in res.trustpoints.values())}",
        f"- checkpoints: {len(res.checkpoints)}, forecast events confirmed on the devices: {len(res.events_seen)}",
        f"- SSH host keys: {'checked against the known_hosts file the lab wrote' if res.host_keys_checked else 'not checked'}",
        f"- run time: {res.seconds:.1f} s ("
        + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(res.phases.items()))
        + ")",
        "",
    ]
    if res.error:
        lines += ["## The run did not complete", "", f"{res.error}", ""]
    lines += ["## Worst-day probes (rule V1)", ""]
    if res.probes:
        lines += [
            "| probe | like | design | joined (day) | shadow request (day) | rollover CA (day) | margin (days) "
            "| shadow renewal found no rollover CA | outcome |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for pr in res.probes:
            failed = "-"
            if pr.shadow_failed_at is not None:
                failed = iso(pr.shadow_failed_at)
                if res.day0 is not None:
                    failed += f" (day {(pr.shadow_failed_at - res.day0).total_seconds() / 86400:.1f})"
            outcome = "FAILED" if any(p.host == pr.host for p in res.problems) else "passed"
            if not pr.joined:
                outcome = "not joined within the span"
            lines.append(
                f"| {pr.host} | {', '.join(pr.clients)} | {pr.design} | {pr.join_day:g} | {pr.shadow_day:g} "
                f"| {pr.rollover_day:g} | {pr.margin_days:+g} | {failed} | {outcome} |"
            )
    else:
        lines.append("None (--as-deployed, or no design with auto-rollover).")
    lines += [f"- {n}" for n in res.probe_notes]
    lines += ["", "## Problems", ""]
    if res.problems:
        lines += ["| host | trustpoint | check | time | until | cause |", "|---|---|---|---|---|---|"]
        for p in res.problems:
            cause = p.cause.replace("|", "\\|")
            until = iso(p.until) if p.until else "end"
            lines.append(
                f"| {p.host} | {p.trustpoint or '-'} | {p.check} | {iso(p.at)} | {until} | {cause} |"
            )
    else:
        lines.append(
            "None: every client held a valid identity certificate and trusted the active CA at every "
            "checkpoint, and the devices did what the forecast predicted."
        )
    lines += [
        "",
        "## Checkpoints",
        "",
        "| lab time | reason | hosts ok | failed | audit findings |",
        "|---|---|---|---|---|",
    ]
    for c in res.checkpoints:
        lines.append(f"| {iso(c.at)} | {c.reason} | {c.hosts_ok} | {c.hosts_failed} | {c.audit_findings} |")
    lines += ["", f"## Audit findings (first time seen; --fail-on {res.fail_on})", ""]
    if res.audit_findings:
        lines += ["| first seen | host | target | severity | rule | fails the run | message |"]
        lines += ["|---|---|---|---|---|---|---|"]
        for f in res.audit_findings[:300]:
            fails = "yes" if at_or_above(f.severity, res.fail_on) else "no"
            msg = f.message.replace("|", "\\|")
            lines.append(
                f"| {iso(f.at)} | {f.host} | {f.target or '-'} | {f.severity} | {f.rule} | {fails} | {msg} |"
            )
    else:
        lines.append("None.")
    lines += [f"- {n}" for n in res.audit_errors[:50]]
    return "\n".join(lines) + "\n"


@writer("validation", "json", "result.json")
def result_json(res: ValidationResult) -> str:
    return json.dumps(res.to_json(), indent=1)


@writer("validation", "timeline", "timeline.png")
def timeline_png(res: ValidationResult, max_rows: int = 60) -> bytes:
    """Certificates held by each client trustpoint over the run, with the problems marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    keys = sorted(res.history)[:max_rows]
    fig_h = max(2.5, 0.35 * len(keys) + 1.5)
    fig, ax = plt.subplots(figsize=(12, fig_h))
    colours = {"identity": "tab:green", "rollover": "tab:olive", "ca": "tab:blue"}
    offs = {"identity": 0.0, "rollover": 0.25, "ca": -0.25}
    for i, key in enumerate(keys):
        for label, v in res.history[key]:
            ax.barh(
                i + offs[label],
                mdates.date2num(v.end) - mdates.date2num(v.start),
                left=mdates.date2num(v.start),
                height=0.22,
                color=colours[label],
                alpha=0.8,
            )
    for p in res.problems:
        if p.trustpoint is None or (p.host, p.trustpoint) not in keys:
            continue
        i = keys.index((p.host, p.trustpoint))
        ax.plot([mdates.date2num(p.at)], [i], marker="X", color="red", markersize=10)
    if res.start and res.until:
        ax.set_xlim(
            mdates.date2num(res.start - timedelta(days=5)), mdates.date2num(res.until + timedelta(days=5))
        )
    ax.set_yticks(range(len(keys)), [f"{h}/{t}" for h, t in keys])
    ax.xaxis_date()
    ax.set_title(
        f"iospki lab validate: {'passed' if res.passed else 'FAILED'} "
        "(green identity, olive rollover identity, blue CA certificate, X problem)"
    )
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()
