"""Task: trigger (or cancel) a CA rollover on a certificate server, then read back its rollover state."""

from __future__ import annotations

from nornir.core.task import Result, Task

from iospki.operations import interrupt
from iospki.parsers.dialogs import rejection

from .connection import Answer, TaskFailed, cli, dialog, prompt_re, show, wait_until
from .state import rollover_key, server_state


def _rollover_key(task: Task, server: str) -> bool:
    return rollover_key(show(task, "show crypto key mypubkey rsa"), server)


def ca_rollover(task: Task, server: str, cancel: bool = False) -> Result:
    """`crypto pki server NAME rollover` (or `rollover cancel`).

    After a rollover: `show crypto pki server` must report a rollover certificate (status and fingerprint)
    and the `NAME#` key pair must exist; after a cancel both must be gone. Result: {'rollover_status',
    'rollover_fingerprint', 'rollover_key'}.
    """
    conn = cli(task)
    command = f"crypto pki server {server} rollover" + (" cancel" if cancel else "")
    with interrupt.config_exchange(task.host.name, command):
        transcript = dialog(
            conn,
            command,
            [Answer(r"\[yes/no\]:", "yes"), Answer(r"\[confirm\]", "")],
            done=prompt_re(conn),
            read_timeout=120,
        )
    refused = rejection(transcript)
    if refused is not None:
        raise TaskFailed(f"{task.host.name}: {command!r} rejected: {refused}")

    State = tuple[str | None, str | None, bool]

    def state_now() -> State:
        st = server_state(show(task, f"show crypto pki server {server}"), server)
        if st is None:
            raise TaskFailed(f"{task.host.name}: certificate server {server} not found")
        return st.rollover_status, st.rollover_fingerprint, _rollover_key(task, server)

    def cancelled() -> State | None:
        s = state_now()
        return s if not s[1] and not s[2] else None

    def present() -> State | None:
        s = state_now()
        return s if s[1] and s[2] else None

    done: State | None
    if cancel:
        done = wait_until(cancelled, 15)
        if not done:
            raise TaskFailed(
                f"{task.host.name}: rollover cancel on {server}: a rollover certificate or {server}# key remains"
            )
    else:
        done = wait_until(present, 30)
        if not done:
            st, fp, key = state_now()
            raise TaskFailed(
                f"{task.host.name}: rollover on {server} not verified: status {st!r}, fingerprint {fp!r}, key {server}# "
                + ("present" if key else "missing")
            )
    assert done is not None
    st, fp, key = done
    return Result(
        host=task.host,
        result={"rollover_status": st, "rollover_fingerprint": fp, "rollover_key": key},
        changed=True,
    )
