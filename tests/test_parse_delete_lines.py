"""Issue 12 §3: delete each line of every real and lab output in turn and parse. A deletion
must give a ParseError or a model a device could have printed; the counts of silent merges
and silently nulled critical fields are asserted (see tests/delete_lines.py for how each
is told)."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from iospki.models import Certificate, CertificatesOutput, CertKind
from iospki.parsers import ParseError, parse
from tests import delete_lines
from tests.delete_lines import Outcome, run
from tests.lab_outputs import lab_outputs
from tests.parse_support import read
from tests.test_parse_acceptance import COMMANDS, FILES

# The deletions that cannot be told from real output, each with the capture that shows it:
KNOWN_NULLED = {
    # an RA-mode server without its Status line is what genie's iosxe__golden_output_2 shows
    "genie/show_crypto_pki_server/iosxe__golden_output_1.txt:2: Status: enabled",
}


def test_delete_each_line_of_every_real_and_lab_output(shared_dir: object) -> None:
    assert FILES, "no real fixtures found"
    outcome = Outcome()
    for path in FILES:
        run(
            f"{path.parent.parent.name}/{path.parent.name}/{path.name}",
            COMMANDS[path.parent.name],
            read(path),
            outcome,
        )
    lab = lab_outputs()
    assert len(lab) >= 20
    for (host, command), text in lab.items():
        run(f"lab/{host}/{command}", command, text, outcome)
    # the run is big enough to mean something, and most deletions are noticed
    assert outcome.runs > 2000 and outcome.errors > 700, outcome
    # (i) deletions that merged a section silently, (ii) that left a critical field null silently
    # the one class of deletions that cannot be told from real output beside KNOWN_NULLED: the only DN line
    # of a one-line subject (`cn=CA`) deleted reads as the empty subject DN, which a certificate may really
    # carry (a third-party CA that keeps only the alternative names: tests/test_lab_pki_peers.py)
    lone_dn = [n for n in outcome.nulled if n not in KNOWN_NULLED and re.search(r":\d+: [A-Za-z][\w.-]*=[^,]*$", n)]
    assert len(outcome.merged) == 0, outcome.merged
    assert set(outcome.nulled) - set(lone_dn) == KNOWN_NULLED, outcome.nulled
    assert len(lone_dn) <= 25, lone_dn  # one class, about 20 single-line subjects in the captures


def test_the_harness_sees_a_merge_and_a_null() -> None:
    """The two counters fire on results that have the fault (no false green)."""
    a = Certificate(section="Certificate", kind=CertKind.identity, serial="02", end=datetime(2024, 1, 1))
    b = Certificate(section="CA Certificate", kind=CertKind.ca, serial="01", end=datetime(2026, 1, 1))
    # the identity certificate with the CA's serial and end date: the merge issue 12 reports
    merged = a.model_copy(update={"serial": "01", "end": datetime(2026, 1, 1)})
    before = CertificatesOutput(certificates=[a, b])
    assert delete_lines.merged(before, CertificatesOutput(certificates=[merged]))
    assert not delete_lines.merged(before, CertificatesOutput(certificates=[b]))  # a whole record gone
    assert delete_lines.nulls(CertificatesOutput(certificates=[a.model_copy(update={"end": None})])) == (
        delete_lines.nulls(CertificatesOutput(certificates=[a])) + 1
    )


@pytest.mark.parametrize("header", ["CA Certificate", "Certificate"])
def test_a_deleted_section_header_is_an_error_naming_the_line(header: str) -> None:
    text = (
        "Certificate\n  Status: Available\n  Certificate Serial Number (hex): 02\n  Certificate Usage: General Purpose\n"
        "  Issuer:\n    cn=CA\n  Subject:\n    cn=r1\n  Validity Date:\n    start date: 10:00:00 UTC Jan 1 2023\n"
        "    end   date: 10:00:00 UTC Jan 1 2024\n  Associated Trustpoints: TP\n\n"
        "CA Certificate\n  Status: Available\n  Certificate Serial Number (hex): 01\n  Certificate Usage: Signature\n"
        "  Issuer:\n    cn=CA\n  Subject:\n    cn=CA\n  Validity Date:\n    start date: 10:00:00 UTC Jan 1 2023\n"
        "    end   date: 10:00:00 UTC Jan 1 2026\n  Associated Trustpoints: TP\n"
    )
    lines = text.split("\n")
    cut = "\n".join(
        ln for i, ln in enumerate(lines) if not (ln == header and (header != "Certificate" or i == 0))
    )
    if header == "Certificate":
        # the first header gone: the identity certificate's lines stand outside any section
        with pytest.raises(ParseError) as exc:
            parse("show crypto pki certificates", cut)
        assert exc.value.line is not None
        return
    # the CA header gone: the identity certificate (expired 2024) must not take the CA's serial and 2026 end
    with pytest.raises(ParseError, match="second Status line") as exc:
        parse("show crypto pki certificates", cut)
    assert exc.value.line is not None and "Status: Available" in exc.value.line and exc.value.lineno == 14
