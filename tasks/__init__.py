"""Nornir tasks for IOS PKI, one per module, for the `iospki` commands and for your own runbooks.

    from iospki.operations.inventory import load_nornir
    from iospki.tasks import push_config, enable_ca_server, authenticate_trustpoint, enroll_trustpoint

Every task raises `TaskFailed` (a clear, secret-free reason) when the device does not end up in the intended
state; Nornir records it as a failed host and the others carry on.
"""

from __future__ import annotations

if __name__ != "iospki.tasks":  # one path per file: this folder is only ever `iospki.tasks`
    raise ImportError(f"import iospki.tasks, not {__name__} (the folder is mapped into the iospki package)")

from .authenticate import authenticate_trustpoint
from .backup import backup_config
from .ca_server import enable_ca_server
from .collect import collect_pki, pki_commands
from .connection import TaskFailed
from .enroll import enroll_trustpoint
from .grant import grant_requests
from .napalm_diff import napalm_compare
from .push_config import push_config
from .renew import renew_trustpoint
from .rollover import ca_rollover
from .wait_certificate import wait_certificate

__all__ = [
    "TaskFailed",
    "authenticate_trustpoint",
    "backup_config",
    "ca_rollover",
    "collect_pki",
    "enable_ca_server",
    "enroll_trustpoint",
    "grant_requests",
    "napalm_compare",
    "push_config",
    "pki_commands",
    "renew_trustpoint",
    "wait_certificate",
]
