"""Task: `crypto pki enroll TP`, answering the enrollment questions (and the re-enrollment one)."""

from __future__ import annotations

from nornir.core.task import Result, Task

from iospki.operations import interrupt

from .connection import Answer, TaskFailed, cli, dialog, prompt_re, show
from .state import has_ca, has_identity, identity_serials, pending_request, poll_pending


def enroll_trustpoint(
    task: Task,
    trustpoint: str,
    challenge_password: str | None,
    serial_number: bool = False,
    reenroll: bool = False,
) -> Result:
    """Send the enrollment request of `trustpoint` to its CA.

    Idempotent: a trustpoint that already holds an identity certificate is left alone unless `reenroll`
    (then the re-enrollment question is answered `yes`). The challenge password is typed into the dialog,
    never configured or logged. A request already pending at the CA is not sent again ('already_pending').
    Result: {'sent': bool, 'serials_before': [...]}; wait for the certificate
    with `iospki.tasks.wait_certificate`.
    """
    certs = show(task, f"show crypto pki certificates {trustpoint}")
    if not has_ca(certs):
        raise TaskFailed(
            f"{task.host.name}: trustpoint {trustpoint} is not authenticated (no CA certificate); authenticate first"
        )
    before = identity_serials(certs)
    if has_identity(certs) and not reenroll:
        return Result(host=task.host, result={"sent": False, "serials_before": before}, changed=False)
    if not reenroll and (
        pending_request(certs) or poll_pending(show(task, "show crypto pki timers"), trustpoint)
    ):
        # a request is already with the CA (IOS enrolls by itself after `authenticate` when auto-enroll is
        # set): a second one would leave two pending requests for one router on a manual-grant CA
        return Result(
            host=task.host,
            result={"sent": True, "serials_before": before, "already_pending": True},
            changed=False,
        )
    conn = cli(task)
    secret = challenge_password or ""
    answers = [
        Answer(r"re-enrollment\? \[yes/no\]:", "yes" if reenroll else "no"),
        Answer(r"Re-enter password:", secret, secret=True),
        Answer(r"Password:", secret, secret=True),
        Answer(r"serial number in the subject name\? \[yes/no\]:", "yes" if serial_number else "no"),
        Answer(r"IP address in the subject name\? \[no\]:", "no"),
        Answer(r"Request certificate from CA\? \[yes/no\]:", "yes"),
    ]
    with interrupt.config_exchange(task.host.name, f"crypto pki enroll {trustpoint}"):
        conn.config_mode()
        try:
            transcript = dialog(
                conn,
                f"crypto pki enroll {trustpoint}",
                answers,
                done=prompt_re(conn, "config"),
                read_timeout=90,
            )
        finally:
            conn.exit_config_mode()
    if "request sent" not in transcript.lower():
        errs = [
            ln.strip() for ln in transcript.splitlines() if ln.strip().startswith("%") and ln.strip() != "%"
        ]
        raise TaskFailed(
            f"{task.host.name}: enrollment of {trustpoint} not sent: {errs[-1] if errs else 'no confirmation from the device'}"
        )
    return Result(host=task.host, result={"sent": True, "serials_before": before}, changed=True)
