"""What a Dask worker runs for one host: rebuild the host from its secret-free spec with the worker's own
credentials, run the Nornir task, and send back a secret-free `Outcome` (pickled bytes).

Everything the client submits is bytes it has already checked for secrets (see `runner`), so the scheduler
holds nothing else; the result is checked again here before it leaves the worker.

The host runs inside its run's stop (`iospki.cluster.stopping`): after the client's Ctrl-C it stops before its
next device exchange, as on one machine, and the config exchanges that reached the device travel back with it.
"""

from __future__ import annotations

import functools
import pickle
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from nornir.core import Nornir
from nornir.core.configuration import Config, SSHConfig
from nornir.core.inventory import Defaults, Groups, Host, Hosts, Inventory
from nornir.core.plugins.connections import ConnectionPluginRegister
from nornir.core.processor import Processors
from nornir.core.task import Task
from nornir.plugins.runners import SerialRunner

from iospki.operations import interrupt
from iospki.operations import inventory as inv
from iospki.operations.resilience import CA_SLOTS

from . import limits, relay
from .hostspec import HostSpec, worker_host
from .stopping import RUNS
from .transport import Outcome, replace_secrets, to_wire

_SLOTS: dict[int, Callable[[str], AbstractContextManager[None]]] = {}
_SLOTS_LOCK = threading.Lock()


def _ca_slots(limit: int) -> Callable[[str], AbstractContextManager[None]]:
    with _SLOTS_LOCK:
        if limit not in _SLOTS:
            _SLOTS[limit] = limits.dask_ca_slots(limit)
        return _SLOTS[limit]


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except ValueError:  # called outside a worker (unit tests)
        return "local"


@functools.cache
def _register_plugins() -> None:
    # netmiko, napalm (InitNornir does this on the client). Once per process: it walks every installed
    # package's entry points (~170 ms), which was most of a worker's CPU per host.
    ConnectionPluginRegister.auto_register()
    inv._quiet_nornir_logs()


def _one_host_nornir(host: Host) -> Nornir:
    _register_plugins()
    return Nornir(
        inventory=Inventory(hosts=Hosts({host.name: host}), groups=Groups(), defaults=Defaults()),
        config=Config(ssh=SSHConfig(config_file=inv._empty_ssh_config())),
        runner=SerialRunner(),
    )


def run_host(
    run_id: str, task_name: str, payload: relay.RunPayload, spec_bytes: bytes, options: dict[str, Any]
) -> bytes:
    """Run the task in `payload` ((function, parameters, severity, dry run), cloudpickled, and the run-wide
    values it refers to) on the host in `spec_bytes`. Returns the pickled `Outcome`."""
    spec: HostSpec = pickle.loads(spec_bytes)
    where = _worker_address()
    with RUNS.running(run_id) as stop:
        if stop.is_set():  # queued before the client's Ctrl-C, started after it: the device is not touched
            return _not_started(spec.name, where)
        with interrupt.scope(stop):
            return _run_host(run_id, task_name, payload, spec, options, where)


def _not_started(host: str, where: str) -> bytes:
    reason = f"{host}: {interrupt.Interrupted('it started')}"
    return pickle.dumps(Outcome(host, "interrupted", reason=reason, worker=where))


def _run_host(
    run_id: str, task_name: str, payload: relay.RunPayload, spec: HostSpec, options: dict[str, Any], where: str
) -> bytes:
    import cloudpickle

    host = worker_host(spec)
    if host.data.get("_credential_error"):
        return pickle.dumps(Outcome(spec.name, "refused", reason=str(host.data["_credential_error"]), worker=where))
    nr = _one_host_nornir(host)
    secrets = inv.all_secrets(nr)
    cap = int(options.get("host_cap") or 0)
    scratch = relay.scratch_dir()
    token = CA_SLOTS.set(_ca_slots(int(options["ca_enroll_limit"])))
    interrupt.take_changes(spec.name)  # what an earlier run left here is not this run's
    try:
        # ClientStore / HostSecrets inside become this host's values; run-wide values are decoded once per worker
        with relay.on_the_worker(secrets, scratch, payload.shared):
            fn, params, severity, dry_run = cloudpickle.loads(payload.task)
        with limits.host_cap(cap) if cap > 0 else nullcontext():
            if interrupt.stopped():  # stopped while waiting for the host cap
                return _not_started(spec.name, where)
            if not options["read_only"]:
                try:
                    earlier = limits.mark_started(run_id, spec.name, where)
                except interrupt.Interrupted:  # the run was stopped in the scheduler before this one began
                    return _not_started(spec.name, where)
                if earlier is not None:
                    reason = (
                        f"{spec.name}: outcome unknown: {task_name} had started on worker {earlier}, which was "
                        "lost; not sent again (check the device, then re-run)"
                    )
                    return pickle.dumps(Outcome(spec.name, "unknown", reason=reason, worker=where))
            task = Task(
                fn,
                nr,
                global_dry_run=dry_run,
                processors=Processors(),
                name=task_name,
                severity_level=severity,
                **params,
            )
            mr = task.start(host)
        files = {p: replace_secrets(f, secrets) for p, f in relay.harvest(scratch, spec.name).items()}
        outcome = Outcome(
            spec.name, "done", to_wire(mr, secrets), files, worker=where,
            sent=replace_secrets(interrupt.take_changes(spec.name), secrets),
        )  # fmt: skip
    finally:
        CA_SLOTS.reset(token)
        host.close_connections()
        relay.drop_scratch(scratch)
    blob: bytes = cloudpickle.dumps(outcome)
    if any(s.encode() in blob for s in secrets):  # a secret hidden in a non-string result object
        blob = pickle.dumps(
            Outcome(spec.name, "refused", reason=f"{spec.name}: result withheld: it carried a secret", worker=where)
        )
    return blob
