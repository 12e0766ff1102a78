"""Run iospki's Nornir tasks on a Dask `distributed` cluster: one worker per jump host, placed by site.

    dask scheduler --host 192.0.2.5                                   # anywhere the jump hosts reach
    IOSPKI_PASSWORD=... dask worker tcp://192.0.2.5:8786 --nthreads 20 --resources "site-ams=20"   # per jump host

    from iospki.cluster import runner_config, ClientStore, HostSecrets
    nr = InitNornir(..., runner=runner_config("tcp://192.0.2.5:8786"))        # Nornir runner plugin "dask"
    nr.run(task=collect_pki, output=ClientStore(out), secrets=HostSecrets(secrets))

- placement: a host with `site: ams` (data key, or a group named `site-ams`) runs only on workers started
  with `--resources site-ams=N` (N = hosts that worker drives at once); a site without a worker fails its
  hosts with that reason. A host without a site may run on any worker.
- secrets: devices' credentials come from each worker's environment (IOSPKI_USERNAME, IOSPKI_PASSWORD,
  IOSPKI_ENABLE_SECRET, IOSPKI_CA_PASSPHRASE, IOSPKI_CHALLENGE_PASSWORD; the lab's throwaway defaults for
  `lab: true` hosts); nothing the client sends or gets back holds one.
- faults: a lost worker's read-only tasks run again on another worker of the site (Dask reschedules them);
  a changing task that had started is reported "outcome unknown" and never sent twice.
- Ctrl-C: the run stops on the workers as a local run stops (`stopping`): hosts not started are cancelled,
  started ones stop before their next device exchange and report back.
- `IOSPKI_CA_ENROLL_LIMIT` is a cluster-wide semaphore per CA server; one collection written by the client;
  a journal to resume an interrupted run.
"""

from __future__ import annotations

from .context import use_cluster
from .relay import ClientStore, HostSecrets
from .runner import (
    ENV_CLUSTER,
    RUNNER_NAME,
    DaskRunner,
    cluster_problem,
    is_read_only,
    on_cluster,
    read_only,
    runner_config,
)
from .transport import ClusterError, OutcomeUnknown

__all__ = [
    "ENV_CLUSTER",
    "RUNNER_NAME",
    "ClientStore",
    "ClusterError",
    "cluster_problem",
    "DaskRunner",
    "HostSecrets",
    "OutcomeUnknown",
    "is_read_only",
    "on_cluster",
    "read_only",
    "runner_config",
    "use_cluster",
]
