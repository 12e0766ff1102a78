"""What each host's task costs a cluster worker to unpickle, as the inventory grows (issue 13 §4).

An operation's per-host task carries its `Context` (the intents and addresses of the WHOLE inventory: a
trustpoint names its CA server, another host). Sent inline with the task, every host's task on a worker
unpickled all of it: the worker's cost per host grew with the fleet. Since `relay.Once` it travels as a
run-wide value, decoded once per worker and run; each host's task unpickles only the task itself.

For an in-memory inventory of N hosts (one CA server, N-1 clients with one trustpoint each, as the built-in
inventory's), this pickles an operation-like task that captures the context (as deploy's inner tasks do)
exactly as the cluster runner does, then unpickles it as a worker does for --hosts hosts in a row:

- `inline`: the context inside every host's task (how the runner sent it before `relay.Once`);
- `once`:   the context as a run-wide value (now): the first host of the run pays the decode, the rest not.

Prints, per size: bytes each host's task carries, ms per host (mean over the hosts after the first), and the
first host's ms (the run-wide decode in `once`). Then the same task through the `dask` runner on a real
loopback cluster (one `dask worker` process, 2 threads) for --cluster-hosts hosts of each inventory, inline
(the runner's packing swapped for the old one) and once: the worker's CPU per host and the wall time.

    .venv/bin/python -m bench.bench_cluster_payload [--sizes 400,2000,10000] [--hosts 50] [--cluster-hosts 200]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cloudpickle
from nornir.core import Nornir
from nornir.core.configuration import Config
from nornir.core.inventory import Defaults, Groups, Host, Hosts, Inventory
from nornir.core.task import Result, Task
from nornir.plugins.runners import SerialRunner

from iospki.cluster import relay
from iospki.cluster.runner import pack_task
from iospki.operations.intent import validate_inventory
from iospki.operations.runner import Context

PASSWORD = "bench-payload-password"  # the inventory's one secret: the runner's check looks for it

_COMMON = {"domain_name": "fleet.iospki.test", "ntp_servers": ["127.20.0.254"]}
_CA = {
    **_COMMON,
    "ca_server": {"name": "FLEETCA", "issuer": "CN=FLEETCA,O=iospki bench", "lifetime_ca_days": 730,
                  "lifetime_certificate_days": 365, "auto_rollover_days": 90, "grant": "auto",
                  "database_level": "complete", "database_url": "nvram:", "http_port": 8080},
}  # fmt: skip
_CLIENT = {
    **_COMMON,
    "trustpoints": [{"name": "FLEETCA", "ca_server": "ca1", "auto_enroll_percent": 80, "regenerate": True,
                     "key_label": "IOSPKI-KEY", "key_size": 2048, "revocation_check": "none"}],
}  # fmt: skip


def fleet_context(n: int) -> Context:
    """A `Context` of `n` hosts (ca1 and n-1 clients of it), in memory: no files, no devices."""
    hosts: dict[str, tuple[str, dict[str, Any]]] = {"ca1": ("127.20.0.1", _CA)}
    for i in range(1, n):
        hosts[f"r{i:05d}"] = (f"127.20.{1 + i // 250}.{1 + i % 250}", _CLIENT)
    intents, problems = validate_inventory(hosts)
    assert not problems, problems[:3]
    defaults = Defaults(username="iospki", password=PASSWORD)
    inv = Hosts({name: Host(name, hostname=addr, data=dict(data), defaults=defaults)
                 for name, (addr, data) in hosts.items()})  # fmt: skip
    nr = Nornir(
        inventory=Inventory(hosts=inv, groups=Groups(), defaults=defaults), config=Config(), runner=SerialRunner()
    )
    return Context(nr=nr, full=nr, intents=intents, secrets=[PASSWORD])


def operation_task(ctx: Context) -> Callable[[Task], Result]:
    """A per-host task as the operations write them: an inner function that reads the context, its own host's
    intent and its CA server's address."""

    def one(task: Task) -> Result:
        tp = ctx.intents[task.host.name].trustpoints[0]
        return Result(host=task.host, result=(tp.name, ctx.addr(tp.ca_server)))

    return one


def pack(ctx: Context, run_wide: bool) -> relay.RunPayload:
    """The task as the cluster runner packs it (`pack_task`); `run_wide` False packs the context inline, as
    the runner did before relay.Once."""
    if run_wide:
        return pack_task(operation_task(ctx), {}, 20, False)[0]
    with relay.sending():  # no table for run-wide values: they are pickled inline
        return relay.RunPayload(cloudpickle.dumps((operation_task(ctx), {}, 20, False)), {})


def unpickle_per_host(payload: relay.RunPayload, hosts: int, scratch: Path) -> list[float]:
    """Seconds each of `hosts` hosts takes to unpickle its task on one worker (iospki.cluster.worker)."""
    times = []
    for _ in range(hosts):
        t0 = time.perf_counter()
        with relay.on_the_worker(["worker-secret"], scratch, payload.shared):
            cloudpickle.loads(payload.task)
        times.append(time.perf_counter() - t0)
    relay.forget_shared(payload.shared)  # the run's end
    return times


def _inline_pack(
    fn: Callable[..., Any], params: dict[str, Any], severity: int, dry_run: bool | None
) -> tuple[relay.RunPayload, dict[str, str]]:
    with relay.sending() as stores:  # the runner's packing before relay.Once: run-wide values inline
        return relay.RunPayload(cloudpickle.dumps((fn, params, severity, dry_run)), {}), stores


def on_cluster(sizes: list[int], hosts: int) -> None:
    """The same task run by the `dask` runner on a real loopback cluster (a scheduler and one worker process
    with 2 threads), for `hosts` hosts of each inventory: the worker's CPU per host, inline vs once."""
    from iospki.cluster import runner as cluster_runner
    from iospki.cluster.runner import DaskRunner
    from tests.cluster_fixture import start_cluster

    from .bench_lab import cpu_s

    print(f"\non a loopback cluster, {hosts} hosts of each inventory (worker CPU ms per host):")
    print(f"{'hosts':>7} {'mode':>7} {'worker ms/host':>15} {'wall s':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        cluster = start_cluster(Path(tmp), {"w1": "a"}, {"IOSPKI_USERNAME": "iospki",
                                                         "IOSPKI_PASSWORD": "bench-worker-password"})  # fmt: skip
        try:
            pid = cluster.workers["w1"].pid
            for i, n in enumerate([10, *sizes]):  # the first, not printed: the worker's imports, first connections
                ctx = fleet_context(n)
                names = set(list(ctx.full.inventory.hosts)[1 : hosts + 1])
                nr = ctx.full.filter(filter_func=lambda h, names=names: h.name in names)
                nr = nr.with_runner(DaskRunner(cluster.address))
                for mode in ("inline", "once"):
                    if mode == "inline":
                        cluster_runner.pack_task = _inline_pack
                    try:
                        cpu0, t0 = cpu_s(pid), time.monotonic()
                        res = nr.run(task=operation_task(ctx))
                        wall, cpu = time.monotonic() - t0, cpu_s(pid) - cpu0
                    finally:
                        cluster_runner.pack_task = pack_task
                    bad = [h for h, r in res.items() if r.failed or r[0].result != ("FLEETCA", "127.20.0.1")]
                    assert not bad, (bad[:3], res[bad[0]][0].result)
                    if i:
                        print(f"{n:>7} {mode:>7} {1000 * cpu / len(names):>15.1f} {wall:>7.1f}", flush=True)
        finally:
            cluster.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="400,2000,10000", help="inventory sizes, comma-separated")
    ap.add_argument("--hosts", type=int, default=50, help="hosts whose task one worker unpickles per size")
    ap.add_argument("--cluster-hosts", type=int, default=200, help="hosts run on the loopback cluster (0: none)")
    args = ap.parse_args()
    print(f"{'hosts':>7} {'mode':>7} {'task B/host':>12} {'run-wide B':>11} {'ms/host':>8} {'1st host ms':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            ctx = fleet_context(n)
            for run_wide in (False, True):
                payload = pack(ctx, run_wide)
                times = unpickle_per_host(payload, args.hosts, Path(tmp))
                rest = times[1:] or times
                print(f"{n:>7} {'once' if run_wide else 'inline':>7} {len(payload.task):>12,} "
                      f"{sum(map(len, payload.shared.values())):>11,} {1000 * sum(rest) / len(rest):>8.2f} "
                      f"{1000 * times[0]:>12.1f}", flush=True)  # fmt: skip
    if args.cluster_hosts:
        on_cluster([int(s) for s in args.sizes.split(",")], args.cluster_hosts)


if __name__ == "__main__":
    main()
