"""Task: wait until a trustpoint holds a (new) identity certificate, reading the device's state."""

from __future__ import annotations

from nornir.core.task import Result, Task

from .connection import TaskFailed, show, wait_until
from .state import has_identity, identity_serials, pending_request


def wait_certificate(
    task: Task, trustpoint: str, not_serials: list[str] | None = None, timeout: float = 60.0
) -> Result:
    """Poll `show crypto pki certificates TP` until an identity certificate whose serial is not in `not_serials`
    is available. Fails after `timeout` seconds saying whether the request is still pending on the CA."""
    old = {s.upper() for s in (not_serials or [])}

    def check() -> list[str] | None:
        text = show(task, f"show crypto pki certificates {trustpoint}")
        new = [s for s in identity_serials(text) if s not in old]
        return new if has_identity(text) and new else None

    got = wait_until(check, timeout, interval=0.5)
    if not got:
        text = show(task, f"show crypto pki certificates {trustpoint}")
        why = (
            "request pending on the CA"
            if pending_request(text)
            else "no certificate yet (a CA in manual grant mode keeps the request pending"
        )
        why += ": grant it on the CA, or set grant_pending: true in the CA's intent)"
        raise TaskFailed(
            f"{task.host.name}: trustpoint {trustpoint}: no new identity certificate after {timeout:.0f}s: {why}"
        )
    return Result(host=task.host, result={"serials": got}, changed=True)
