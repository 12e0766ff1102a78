"""What an operation's tasks read from its `Context`, in a form that may travel to a cluster worker.

`iospki.operations.runner.Context` holds the loaded Nornir objects, and with them every device's password;
pickled (as a task parameter, or captured by an operation's inner task) it becomes a `TaskContext`: the PKI
intents, the hosts' addresses and the secrets to redact (a `HostSecrets`: on a worker, that worker's own).
The intents and addresses are the whole inventory's (a trustpoint names its CA server, another host): on a
cluster they travel as a run-wide value (`relay.Once`), decoded once per worker and run, not per host.

    >>> ctx = TaskContext({}, {"ca1": "127.0.0.1"}, HostSecrets(["hunter2"]))
    >>> ctx.addr("ca1"), ctx.redact("pw hunter2")
    ('127.0.0.1', 'pw <redacted>')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iospki.state.store import redact

from .relay import HostSecrets
from .runner import on_cluster

if TYPE_CHECKING:
    from iospki.operations.runner import Context


@dataclass
class TaskContext:
    intents: dict[str, Any]  # host -> HostIntent
    addresses: dict[str, str]  # host -> address, of the whole inventory (trustpoints name their CA server)
    secrets: HostSecrets

    @classmethod
    def of(cls, fleet: tuple[dict[str, Any], dict[str, str]], secrets: HostSecrets) -> TaskContext:
        """Unpickling a `Context`: `fleet` (intents, addresses) is the run's, shared by the worker's hosts."""
        return cls(fleet[0], fleet[1], secrets)

    def addr(self, host: str) -> str:
        return self.addresses[host]

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)



def use_cluster(ctx: Context, address: str | None = None, **options: Any) -> Context:
    """Run `ctx`'s tasks on the cluster at `address` (default IOSPKI_CLUSTER): the `--cluster` of a command.
    Options as DaskRunner's (e.g. resume=True). Returns `ctx`, changed in place."""
    ctx.nr = on_cluster(ctx.nr, address, **options)
    ctx.full = on_cluster(ctx.full, address, **options)
    return ctx
