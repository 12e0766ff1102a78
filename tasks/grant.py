"""Task: grant the pending enrollment requests on a certificate server (manual grant mode)."""

from __future__ import annotations

from nornir.core.task import Result, Task

from .connection import TaskFailed, show
from .state import pending_request_ids


def grant_requests(task: Task, server: str) -> Result:
    """`crypto pki server NAME grant all` when requests are pending; result: the ids that were pending."""
    text = show(task, f"show crypto pki server {server} requests")
    pending = pending_request_ids(text, server)
    if not pending:
        return Result(host=task.host, result=[], changed=False)
    out = show(task, f"crypto pki server {server} grant all")
    if "%" in out and ("Invalid" in out or "not known" in out or "Error" in out):
        raise TaskFailed(f"{task.host.name}: grant on {server} failed: {out.strip().splitlines()[-1]}")
    return Result(host=task.host, result=pending, changed=True)
