"""What an operation's tasks read from its `Context`, in a form that may travel to a cluster worker.

`iospki.operations.runner.Context` holds the loaded Nornir objects, and with them every device's password;
pickled (as a task parameter, or captured by an operation's inner task) it becomes a `TaskContext`: the PKI
intents, the hosts' addresses and the secrets to redact (a `HostSecrets`: on a worker, that worker's own).

    >>> ctx = TaskContext({}, {"ca1": "127.0.0.1"}, HostSecrets(["hunter2"]))
    >>> ctx.addr("ca1"), ctx.redact("pw hunter2")
    ('127.0.0.1', 'pw <redacted>')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from iospki.state.store import redact

from .relay import HostSecrets


@dataclass
class TaskContext:
    intents: dict[str, Any]  # host -> HostIntent
    addresses: dict[str, str]  # host -> address, of the whole inventory (trustpoints name their CA server)
    secrets: HostSecrets

    def addr(self, host: str) -> str:
        return self.addresses[host]

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)

