"""Task: re-enroll a trustpoint now (manual renewal) and wait for the new certificate."""

from __future__ import annotations

from nornir.core.task import Result, Task

from .enroll import enroll_trustpoint
from .wait_certificate import wait_certificate


def renew_trustpoint(
    task: Task,
    trustpoint: str,
    challenge_password: str | None,
    serial_number: bool = False,
    timeout: float = 60.0,
) -> Result:
    """`crypto pki enroll TP` answering `yes` to the re-enrollment question, then wait until the identity
    certificate's serial changed. Result: {'before': [...], 'after': [...]}."""
    sent = task.run(
        task=enroll_trustpoint,
        trustpoint=trustpoint,
        challenge_password=challenge_password,
        serial_number=serial_number,
        reenroll=True,
    )
    before = sent.result["serials_before"]
    got = task.run(task=wait_certificate, trustpoint=trustpoint, not_serials=before, timeout=timeout)
    return Result(host=task.host, result={"before": before, "after": got.result["serials"]}, changed=True)
