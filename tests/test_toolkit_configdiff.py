"""The deploy diff: parent-aware, idempotent, tolerant of what IOS shows differently (defaults, encrypted secrets)."""

from __future__ import annotations

import doctest

import iospki.operations.configdiff
import iospki.operations.scep_probe
import iospki.templates
from iospki.operations.configdiff import missing_lines

RUNNING = """Building configuration...

Current configuration : 900 bytes
!
hostname r1
ip domain-name lab.example
!
crypto pki server CA
 database archive pkcs12 password 7 01100F175804575D72
 issuer-name CN=CA
 grant auto
 auto-rollover 90
!
crypto pki trustpoint A
 enrollment url http://192.0.2.1:80
 revocation-check none
!
crypto pki trustpoint B
 enrollment url http://192.0.2.2:80
!
end
"""


def test_doctests_of_the_toolkit_modules() -> None:
    for mod in (iospki.operations.configdiff, iospki.operations.scep_probe, iospki.templates):
        assert doctest.testmod(mod).failed == 0, mod.__name__


def test_child_counts_only_under_its_own_parent() -> None:
    # B lacks `revocation-check none` although A has it: push B's line, under B
    assert missing_lines(
        RUNNING, ["crypto pki trustpoint B", " enrollment url http://192.0.2.2:80", " revocation-check none"]
    ) == [
        "crypto pki trustpoint B",
        " revocation-check none",
    ]


def test_new_block_is_pushed_whole_and_present_one_not_at_all() -> None:
    want = ["crypto pki trustpoint C", " enrollment url http://192.0.2.3:80", " auto-enroll 80 regenerate"]
    assert missing_lines(RUNNING, want) == want
    assert missing_lines(RUNNING, ["crypto pki trustpoint A", " enrollment url http://192.0.2.1:80"]) == []


def test_aliases_secrets_and_defaults() -> None:
    assert missing_lines(RUNNING, ["ip domain name lab.example"]) == []  # ip domain-name on older images
    ca = [
        "crypto pki server CA",
        " database archive pkcs12 password s3cret-typed-in-clear",  # IOS shows it type 7: same setting
        " issuer-name CN=CA",
        " grant auto",
        " lifetime certificate 365",  # defaults IOS may not show
        " lifetime ca-certificate 1095",
        " auto-rollover 90",
    ]
    assert missing_lines(RUNNING, ca) == []
    changed = [*ca[:-1], " auto-rollover 30"]
    assert missing_lines(RUNNING, changed) == ["crypto pki server CA", " auto-rollover 30"]
    # a trustpoint's default revocation-check crl is absent from the config, unless another value is set
    assert missing_lines(RUNNING, ["crypto pki trustpoint B", " revocation-check crl"]) == []
    assert missing_lines(RUNNING, ["crypto pki trustpoint A", " revocation-check crl"]) == [
        "crypto pki trustpoint A",
        " revocation-check crl",
    ]
