"""Task: `crypto pki authenticate TP`, accepting the CA only when its fingerprint is the expected one."""

from __future__ import annotations

import re

from nornir.core.task import Result, Task

from iospki.models import normalize_fingerprint
from iospki.operations import interrupt
from iospki.parsers.dialogs import offered_fingerprints

from .connection import TaskFailed, cli, prompt_re, show
from .state import has_ca


def authenticate_trustpoint(task: Task, trustpoint: str, expected_fingerprint: str) -> Result:
    """Authenticate `trustpoint`: answer `yes` only if the offered CA certificate's MD5 or SHA1 fingerprint equals
    `expected_fingerprint` (the inventory's pin, or the fingerprint read from the CA server); otherwise answer
    `no` and fail, naming both fingerprints. Idempotent: an authenticated trustpoint is left alone."""
    expected = normalize_fingerprint(expected_fingerprint)
    if not expected:
        raise TaskFailed(
            f"{task.host.name}: no expected CA fingerprint for trustpoint {trustpoint}; refusing to authenticate"
        )
    if has_ca(show(task, f"show crypto pki certificates {trustpoint}")):
        return Result(host=task.host, result=f"trustpoint {trustpoint} already authenticated", changed=False)
    conn = cli(task)
    with interrupt.config_exchange(task.host.name, f"crypto pki authenticate {trustpoint}"):
        conn.config_mode()
        state: dict[str, str] = {}

        try:
            conn.find_prompt()
            command = f"crypto pki authenticate {trustpoint}"
            conn.write_channel(command + conn.RETURN)
            # skip anything before our command's echo: a late prompt must not count as the answer
            conn.read_until_pattern(pattern=re.escape(command), read_timeout=60)
            question = r"\[yes/no\]:"
            done = prompt_re(conn, "config")
            out = conn.read_until_pattern(pattern=f"(?:{question}|{done})", read_timeout=60)
            state.update(offered_fingerprints(out))
            if not re.search(question + r"\s*$", out):
                raise TaskFailed(
                    f"{task.host.name}: crypto pki authenticate {trustpoint} failed: {_last_error(out)}"
                )
            accept = expected in state.values()
            conn.write_channel(("yes" if accept else "no") + conn.RETURN)
            out += conn.read_until_pattern(pattern=done, read_timeout=60)
        finally:
            conn.exit_config_mode()
    if not accept:
        raise TaskFailed(
            f"{task.host.name}: refused the CA certificate of trustpoint {trustpoint}: fingerprint "
            f"MD5 {state.get('MD5', '?')} / SHA1 {state.get('SHA1', '?')} does not match the expected {expected}"
        )
    if not has_ca(show(task, f"show crypto pki certificates {trustpoint}")):
        raise TaskFailed(
            f"{task.host.name}: answered yes but trustpoint {trustpoint} holds no CA certificate: {_last_error(out)}"
        )
    return Result(host=task.host, result={"fingerprints": state, "accepted": True}, changed=True)


def _last_error(text: str) -> str:
    errs = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("%")]
    if errs:
        return errs[-1]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return "no CA certificate offered" + (f" (device said: {' / '.join(lines[-3:])[:300]})" if lines else "")
