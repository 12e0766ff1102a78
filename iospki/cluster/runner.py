"""`DaskRunner`: a Nornir runner plugin that runs each host's task on a Dask worker of the host's site.

Registered as the Nornir runner `dask` (entry point), so any runbook can use it:

    runner: {plugin: dask, options: {scheduler: "tcp://127.0.0.1:8786"}}

Options: `scheduler` (default IOSPKI_CLUSTER), `num_workers` (hosts at once per worker process, as on one
jump host), `read_only` (True/False for the whole run; default: known read-only iospki tasks and tasks marked
with `read_only()`; anything else counts as changing), `ca_enroll_limit` (default IOSPKI_CA_ENROLL_LIMIT),
`journal` (a file; default the ClientStore's `.iospki-journal.jsonl`), `resume`, `site_grace` (seconds a site
may be without workers before its waiting hosts fail), `stop_grace` (seconds hosts already started may take to
report back after a Ctrl-C; default IOSPKI_STOP_GRACE, or 90), `connect_timeout`, and `tls_ca_file`, `tls_cert`,
`tls_key` for a scheduler at tls://.

How a run goes: the task function and its parameters are pickled once and checked for every secret the client
knows (refused when one is found), and sent to every worker once with the run-wide values they refer to (an
operation's context, decoded once per worker and run); each host travels as a secret-free `HostSpec` and is placed by the worker
resource of its site (`site-<name>`); results come back as they complete, the client writes their files into
the collection, journals the host, and builds the usual AggregatedResult.

Ctrl-C (`iospki.operations.interrupt`) stops a run as on one machine (`iospki.cluster.stopping`): hosts not
started are cancelled and fail "interrupted", started ones stop before their next device exchange and report
back (with the config exchanges that reached the device); a changing host that does not report back within
`stop_grace` is "outcome unknown". The journal lists only the hosts that finished, so `--resume` redoes the rest.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import time
import uuid
from collections.abc import Callable
from typing import Any

from nornir.core import Nornir
from nornir.core.inventory import Host
from nornir.core.task import AggregatedResult, MultiResult, Result, Task

from iospki.operations import interrupt, settings
from iospki.operations import inventory as inv
from iospki.operations.resilience import limit_from_env

from . import limits, relay, stopping
from .hostspec import host_spec, site_resource
from .journal import JOURNAL_FILE, Journal
from .transport import ClusterError, Outcome, OutcomeUnknown, failed_result, from_wire
from .worker import run_host

ENV_CLUSTER = "IOSPKI_CLUSTER"
RUNNER_NAME = "dask"
READ_ONLY_ATTR = "iospki_read_only"

# iospki's own tasks that only read (show commands, NAPALM getters): safe to run again on another worker.
READ_ONLY_TASKS = {
    "iospki.tasks.collect.collect_pki",
    "iospki.tasks.napalm_diff.napalm_compare",
    "iospki.tasks.wait_certificate.wait_certificate",
    # the operations' per-host tasks that only read
    "iospki.operations.collection.collect_into.<locals>.one",
    "iospki.operations.deploy._plan",
    "iospki.operations.deploy._read_fingerprint",
    "iospki.operations.deploy._wait",
}


def read_only(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a Nornir task as read-only: a worker lost while running it may have it run on another worker."""
    setattr(fn, READ_ONLY_ATTR, True)
    return fn


def is_read_only(fn: Callable[..., Any]) -> bool:
    return bool(getattr(fn, READ_ONLY_ATTR, False)) or f"{fn.__module__}.{fn.__qualname__}" in READ_ONLY_TASKS


class DaskRunner:
    """Nornir RunnerPlugin over a Dask `distributed` scheduler (see the module docstring)."""

    def __init__(
        self,
        scheduler: str | None = None,
        num_workers: int | None = None,
        read_only: bool | None = None,
        ca_enroll_limit: int | None = None,
        journal: str | None = None,
        resume: bool = False,
        site_grace: float = 30.0,
        stop_grace: float | None = None,
        connect_timeout: float = 30.0,
        tls_ca_file: str | None = None,
        tls_cert: str | None = None,
        tls_key: str | None = None,
    ) -> None:
        self.scheduler = scheduler or os.environ.get(ENV_CLUSTER) or ""
        # hosts at once per worker process (as IOSPKI_MAX_HOSTS on one jump host); the site resource caps too.
        # A value a setting cannot take is a SettingError naming it, never a silent default (`settings`).
        self.num_workers = num_workers or settings.count(settings.MAX_HOSTS)
        self.read_only = read_only
        self.ca_enroll_limit = ca_enroll_limit or limit_from_env()
        self.journal = journal
        self.resume = resume
        self.site_grace = site_grace
        self.stop_grace = settings.seconds(settings.STOP_GRACE) if stop_grace is None else stop_grace
        self.connect_timeout = connect_timeout
        self.tls = (tls_ca_file, tls_cert, tls_key)
        self.placement: dict[str, str] = {}  # host -> worker that ran it, for the last run (reports, tests)

    # ------------------------------------------------------------------ client side

    def _client(self) -> Any:
        from distributed import Client

        kwargs: dict[str, Any] = {"timeout": self.connect_timeout, "set_as_default": False}
        if any(self.tls):
            from distributed.security import Security

            ca, cert, key = self.tls
            kwargs["security"] = Security(
                tls_ca_file=ca, tls_client_cert=cert, tls_client_key=key, require_encryption=True
            )
        return Client(self.scheduler, **kwargs)

    def run(self, task: Task, hosts: list[Host]) -> AggregatedResult:
        result = AggregatedResult(task.name)
        if not hosts:
            return result
        if task.task.__qualname__.endswith("close_connections_task"):
            # Nornir's close_connections: workers close their sessions after every host; the client holds none
            for host in hosts:
                result[host.name] = task.copy().start(host)
            return result
        one = _Run(self, task, hosts)
        done = one.go()
        self.placement = one.placement
        for host in hosts:
            result[host.name] = done[host.name]
        return result


def pack_task(
    fn: Callable[..., Any], params: dict[str, Any], severity: int, dry_run: bool | None
) -> tuple[relay.RunPayload, dict[str, str]]:
    """A run's task as it travels: the payload (the task cloudpickled, and apart from it the run-wide values it
    refers to, such as an operation's context of the whole inventory) and {token: client directory} of the
    ClientStores in it. What each host's task unpickles on a worker does not grow with the inventory."""
    import cloudpickle  # with distributed (the `cluster` extra): only a cluster run needs it

    shared: dict[str, bytes] = {}
    with relay.sending(shared) as stores:
        task = cloudpickle.dumps((fn, params, severity, dry_run))
    return relay.RunPayload(task, shared), stores


class _Run:
    """One `DaskRunner.run`: submission, streaming of results into the store, faults, journal."""

    def __init__(self, runner: DaskRunner, task: Task, hosts: list[Host]) -> None:
        self.r = runner
        self.task = task
        self.hosts = {h.name: h for h in hosts}
        self.run_id = uuid.uuid4().hex[:12]
        self.read_only = runner.read_only if runner.read_only is not None else is_read_only(task.task)
        self.payload, self.stores = pack_task(task.task, task.params, task.severity_level, task.global_dry_run)
        journal_path = runner.journal or (
            os.path.join(next(iter(self.stores.values())), JOURNAL_FILE) if self.stores else None
        )
        self.journal = Journal(journal_path, task.name) if journal_path else None
        self.out: dict[str, MultiResult] = {}
        self.placement: dict[str, str] = {}
        self.site_of: dict[str, str | None] = {}
        self.stopped = False  # Ctrl-C reached this run
        self.started_on: dict[str, str] = {}  # after a Ctrl-C: changing host -> the worker it had started on

    def _secrets(self) -> list[str]:
        known = set(inv.all_secrets(self.task.nornir))
        for value in self.task.params.values():  # (nested ones are the inventory's, counted above)
            if isinstance(value, relay.HostSecrets):
                known.update(s for s in value if len(s) >= 3)
        return sorted(known, key=len, reverse=True)

    def _fail(self, name: str, reason: str, exc: BaseException | None = None) -> None:
        self.out[name] = failed_result(self.hosts[name], self.task.name, reason, exc)

    def _finish(self, name: str, mr: MultiResult) -> None:
        self.out[name] = mr
        interrupt.remote_exchange(name, None)
        self.task.processors.task_instance_completed(self.task, self.hosts[name], mr)

    def _interrupted(self, name: str, before: str = "it started") -> None:
        """A host stopped by Ctrl-C (`before` it did what); the journal keeps it for --resume to redo."""
        exc = interrupt.Interrupted(before)
        self._finish(name, failed_result(self.hosts[name], self.task.name, f"{name}: {exc}", exc))
        if self.journal:
            self.journal.record(name, False, None)

    def go(self) -> dict[str, MultiResult]:
        secrets = self._secrets()
        blobs = [self.payload.task, *self.payload.shared.values()]  # the run-wide values are checked too
        leaked = any(s.encode() in b for b in blobs for s in secrets)
        names = list(self.hosts)
        if leaked:
            for n in names:
                self._fail(n, f"{n}: not sent to the cluster: task {self.task.name!r} carries a secret in its "
                           "code or parameters (pass secrets as HostSecrets, devices' credentials stay on the workers)")
            return self.out
        if self.journal and self.r.resume:
            for n, res in self.journal.finished().items():
                if n in self.hosts:
                    mr = MultiResult(self.task.name)
                    r = Result(host=self.hosts[n], result=res)
                    r.name = self.task.name  # type: ignore[assignment]  # nornir types Result.name as None
                    mr.append(r)
                    self._finish(n, mr)
        todo = [n for n in names if n not in self.out]
        if not todo:
            return self.out
        if interrupt.stopped():  # a later step of an interrupted operation: nothing new starts
            for n in todo:
                self._interrupted(n)
            return self.out
        try:
            client = self.r._client()
        except Exception as exc:
            for n in todo:
                self._fail(n, f"{n}: cluster scheduler {self.r.scheduler or '(none: set IOSPKI_CLUSTER)'} "
                           f"unreachable: {type(exc).__name__}: {exc}")
            return self.out
        try:
            self._submit_and_collect(client, todo, secrets)
        finally:
            if not self.read_only or self.stopped:
                with contextlib.suppress(Exception):  # the scheduler went away: its markers went with it
                    limits.forget_run(client, self.run_id)
            if self.payload.shared:
                with contextlib.suppress(Exception):  # workers gone: so is what they had decoded
                    client.run(relay.forget_shared, list(self.payload.shared))
            client.close()
        if self.journal and all(not mr.failed for mr in self.out.values()):
            self.journal.remove()
        return self.out

    def _sites_up(self, client: Any) -> set[str]:
        info = client.scheduler_info(n_workers=-1)
        return {res for w in info.get("workers", {}).values() for res in (w.get("resources") or {})}

    def _submit_and_collect(self, client: Any, todo: list[str], secrets: list[str]) -> None:
        from distributed import as_completed

        options = {
            "read_only": self.read_only,
            "ca_enroll_limit": self.r.ca_enroll_limit,
            "host_cap": self.r.num_workers or 0,
        }
        up = self._sites_up(client)
        # the task and the run-wide values (an operation's context: the intents of the whole fleet) go to every
        # worker once; each host's task refers to them instead of carrying its own copy, and a worker decodes the
        # run-wide values once (relay.Once), not for every host
        payload = client.scatter(self.payload, broadcast=True, hash=False)
        futures: dict[Any, str] = {}
        site_of = self.site_of
        for n in todo:
            if interrupt.stopped():  # Ctrl-C while submitting: the rest is not sent
                self._interrupted(n)
                continue
            host = self.hosts[n]
            spec = host_spec(host)
            site_of[n] = spec.site
            spec_bytes = pickle.dumps(spec)
            if any(s.encode() in spec_bytes for s in secrets):
                self._fail(n, f"{n}: not sent to the cluster: its inventory data holds a secret under a key "
                           "iospki does not recognise as one")
                continue
            resource = site_resource(spec.site) if spec.site else None
            if resource is not None and resource not in up:
                self._fail(n, f"{n}: no cluster worker for site {spec.site!r} (start one on a jump host of "
                           f"that site with --resources {resource}=N); not run from another site")
                continue
            self.task.processors.task_instance_started(self.task, host)
            fut = client.submit(
                run_host,
                self.run_id,
                self.task.name,
                payload,
                spec_bytes,
                options,
                key=f"iospki-{self.task.name}-{n}-{self.run_id}",
                resources={resource: 1} if resource else None,
                retries=0,
                pure=False,
            )
            futures[fut] = n
        lost_since: dict[str, float] = {}
        pending = as_completed(list(futures), loop=client.loop)
        next_watch = time.monotonic() + 1.0
        stop_by: float | None = None  # after a Ctrl-C: until when started hosts may still report back
        while futures:
            if stop_by is None and interrupt.stopped():
                stop_by = time.monotonic() + self.r.stop_grace
                self._stop(client, futures)
            batch = pending.next_batch(block=False)  # results as they complete, written as they come
            for fut in batch:
                if fut in futures:
                    self._take(client, fut, futures.pop(fut))
                fut.release()  # the worker may drop the result: memory stays bounded
            if not batch:
                time.sleep(0.05)
            if futures and time.monotonic() >= next_watch:
                try:
                    self._watch_sites(client, futures, site_of, lost_since)
                except OSError as exc:  # the scheduler is gone (CommClosedError is an OSError): so is the run
                    for fut, n in list(futures.items()):
                        futures.pop(fut)
                        self._lost(client, n, f"the cluster scheduler was lost ({type(exc).__name__})")
                next_watch = time.monotonic() + 1.0
            if stop_by is not None and futures and time.monotonic() >= stop_by:
                for fut, n in list(futures.items()):
                    futures.pop(fut)
                    fut.cancel()
                    self._unreported(n)

    def _stop(self, client: Any, futures: dict[Any, str]) -> None:
        """Ctrl-C: stop the run on the workers; cancel the hosts that had not started anywhere."""
        self.stopped = True
        try:
            started = stopping.stop_workers(client, self.run_id)
        except OSError as exc:  # the scheduler is gone (CommClosedError is an OSError): so is the run
            for fut, n in list(futures.items()):
                futures.pop(fut)
                self._lost(client, n, f"the cluster scheduler was lost ({type(exc).__name__})")
            return
        for fut, n in list(futures.items()):
            if fut.status != "pending":  # finished, failed or lost: its result is on its way to _take
                continue
            worker = started.get(fut.key)
            if worker is None:  # started nowhere, and any start from now on sees the stop
                futures.pop(fut)
                fut.cancel()
                self._interrupted(n)
            elif not self.read_only:  # a second Ctrl-C (quit now) names it as outcome unknown
                self.started_on[n] = worker
                interrupt.remote_exchange(n, f"{self.task.name} on cluster worker {worker}")

    def _unreported(self, n: str) -> None:
        """A host started before the Ctrl-C that did not report back within `stop_grace`."""
        worker = self.started_on.get(n)
        if worker is None:  # read-only: nothing on its device depends on the answer
            self._interrupted(n, f"its cluster worker reported back (waited {self.r.stop_grace:g} s)")
            return
        reason = (f"{n}: outcome unknown: {self.task.name} had started on cluster worker {worker} when the run "
                  f"was interrupted (Ctrl-C) and did not report back within {self.r.stop_grace:g} s; not sent "
                  "again (check the device, then re-run)")
        self._finish(n, failed_result(self.hosts[n], self.task.name, reason, OutcomeUnknown(reason)))
        if self.journal:
            self.journal.record(n, False, None)

    def _watch_sites(
        self, client: Any, futures: dict[Any, str], site_of: dict[str, str | None], lost_since: dict[str, float]
    ) -> None:
        """Hosts waiting for a site that lost all its workers fail after `site_grace` seconds."""
        up = self._sites_up(client)
        now = time.monotonic()
        waiting = {site_of[n] for n in futures.values() if site_of[n]}
        for site in waiting:
            if site is None or site_resource(site) in up:
                lost_since.pop(str(site), None)
                continue
            since = lost_since.setdefault(site, now)
            if now - since < self.r.site_grace:
                continue
            for fut, n in list(futures.items()):
                if site_of[n] != site:
                    continue
                fut.cancel()
                futures.pop(fut)
                self._lost(client, n, f"no cluster worker left for site {site!r}")

    def _lost(self, client: Any, n: str, why: str) -> None:
        """A host whose worker(s) went away before it reported back."""
        started = None
        if not self.read_only:
            try:
                started = limits.started_on(client, self.run_id, n)
            except Exception:
                started = "(unknown: the scheduler did not answer)"
        if started is not None:
            reason = (f"{n}: outcome unknown: {self.task.name} had started on {started}, {why}; "
                      "not sent again (check the device, then re-run)")
            self._finish(n, failed_result(self.hosts[n], self.task.name, reason, OutcomeUnknown(reason)))
        else:
            self._finish(n, failed_result(self.hosts[n], self.task.name, f"{n}: {why}"))
        if self.journal:
            self.journal.record(n, False, None)

    def _take(self, client: Any, fut: Any, n: str) -> None:
        host = self.hosts[n]
        if fut.status != "finished":
            exc = fut.exception() if fut.status == "error" else None
            name = type(exc).__name__
            site = self.site_of.get(n)
            try:
                up = self._sites_up(client) if exc is None and client.status == "running" else None
            except OSError:
                up = None
            if exc is None and up is None:  # the scheduler went away with its state
                why = "the cluster scheduler was lost"
            elif exc is None and up is not None and site and site_resource(site) not in up:
                why = f"no cluster worker left for site {site!r}"  # Dask gave up on it before the grace ended
            elif exc is None:
                why = f"it was {fut.status} by the cluster"
            elif name in ("KilledWorker", "CommClosedError"):
                why = "its worker was lost" + (" (repeatedly)" if name == "KilledWorker" else "")
            else:
                why = f"the cluster failed it: {name}"
            self._lost(client, n, why)
            return
        outcome: Outcome = pickle.loads(fut.result())
        self.placement[n] = outcome.worker
        interrupt.add_changes(n, outcome.sent)  # what reached the device, as a local run records it
        if outcome.state == "done":
            for token, files in outcome.files.items():
                if token in self.stores:
                    relay.write_back(self.stores[token], n, files)
            mr = from_wire(host, self.task.name, outcome.results)
        elif outcome.state == "unknown":
            mr = failed_result(host, self.task.name, outcome.reason, OutcomeUnknown(outcome.reason))
        elif outcome.state == "interrupted":
            mr = failed_result(host, self.task.name, outcome.reason, interrupt.Interrupted("it started"))
        else:
            mr = failed_result(host, self.task.name, outcome.reason)
        if self.journal:
            self.journal.record(n, not mr.failed, None if mr.failed else mr[0].result)
        self._finish(n, mr)


def runner_config(
    address: str | None = None, *, resume: bool = False, **options: Any
) -> dict[str, Any]:
    """The Nornir `runner` configuration for the cluster at `address` (default IOSPKI_CLUSTER), e.g. for
    `InitNornir(runner=runner_config("tcp://192.0.2.5:8786"))` or `load_nornir(..., runner=...)`."""
    address = address or os.environ.get(ENV_CLUSTER)
    if not address:
        raise ClusterError(f"no cluster address: pass --cluster ADDRESS or set {ENV_CLUSTER}")
    return {"plugin": RUNNER_NAME, "options": {"scheduler": address, "resume": resume, **options}}


def on_cluster(nr: Nornir, address: str | None = None, **options: Any) -> Nornir:
    """`nr` with its tasks run on the cluster at `address` (default IOSPKI_CLUSTER); options as DaskRunner's."""
    return nr.with_runner(DaskRunner(**runner_config(address, **options)["options"]))


def cluster_problem(address: str | None = None, connect_timeout: float = 10.0, **tls: Any) -> str | None:
    """Why the cluster at `address` (default IOSPKI_CLUSTER) cannot be used -- no address, no answer, no
    worker -- in one line; None when it can. A command checks this once before any host is touched."""
    try:
        options = runner_config(address, connect_timeout=connect_timeout, **tls)["options"]
    except ClusterError as exc:
        return str(exc)
    try:
        import distributed  # noqa: F401
    except ImportError:
        return "the cluster needs Dask's distributed: pip install 'iospki[cluster]'"
    runner = DaskRunner(**options)
    try:
        client = runner._client()
    except Exception as exc:
        return f"cluster scheduler {runner.scheduler} unreachable: {type(exc).__name__}: {exc}"
    try:
        if not client.scheduler_info(n_workers=-1).get("workers"):
            return f"cluster scheduler {runner.scheduler} has no workers (start `dask worker` on the jump hosts)"
    finally:
        client.close()
    return None
