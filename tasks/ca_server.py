"""Task: enable (`no shutdown`) an IOS certificate server, answering the passphrase dialog."""

from __future__ import annotations

from nornir.core.task import Result, Task

from iospki.operations import interrupt

from .connection import Answer, TaskFailed, cli, dialog, prompt_re, show, wait_until
from .state import server_state


def enable_ca_server(task: Task, server: str, passphrase: str | None) -> Result:
    """`crypto pki server SERVER` / `no shutdown`; the passphrase protects the CA key (asked when no archive
    password is configured). Idempotent: an enabled server is left alone. Fails unless the server ends enabled."""
    before = server_state(show(task, f"show crypto pki server {server}"), server)
    if before is not None and before.enabled:
        return Result(host=task.host, result=f"certificate server {server} already enabled", changed=False)
    conn = cli(task)
    with interrupt.config_exchange(task.host.name, f"crypto pki server {server} / no shutdown"):
        conn.config_mode()
        try:
            conn.send_command(f"crypto pki server {server}", expect_string=prompt_re(conn, "cs-server"))
            if passphrase is None:
                answers = [Answer(r"Password:", "", secret=True)]  # Return = exit: reported below
            else:
                answers = [
                    Answer(r"Re-enter password:", passphrase, secret=True),
                    Answer(r"Password:", passphrase, secret=True),
                ]
            answers.append(Answer(r"\[yes/no\]:", "yes"))
            transcript = dialog(
                conn, "no shutdown", answers, done=prompt_re(conn, "cs-server"), read_timeout=120
            )
        finally:
            conn.exit_config_mode()
    # IOS-XE queues the 'no shut' event: wait (reading the state) until it took effect
    wait_until(
        lambda: (st := server_state(show(task, f"show crypto pki server {server}"), server)) and st.enabled,
        20,
    )
    after = server_state(show(task, f"show crypto pki server {server}"), server)
    if after is None or not after.enabled:
        why = (after.status if after else None) or "server not shown by `show crypto pki server`"
        if passphrase is None:
            why += " (no CA passphrase: set IOSPKI_CA_PASSPHRASE)"
        raise TaskFailed(f"{task.host.name}: certificate server {server} not enabled: {why}")
    return Result(host=task.host, result=transcript.strip(), changed=True)
