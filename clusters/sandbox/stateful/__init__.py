"""The sandbox's stateful backends (issue 21): real high-availability servers on private loopback
ports, each with its own config and data dir in a temp dir, stopped by PID.

redis.py: Debian's redis-server, a primary, a replica and three Sentinels (`RedisSentinelSet`);
postgres.py: Debian's patroni and etcd-server over PostgreSQL 15, an etcd member and two Patroni
nodes (`PatroniSet`), each node run by keeper.py (which takes its PostgreSQL along when it goes);
servers.py: what both sets share (`ServerSet`: nodes in the temp dir, the failover event log);
postgres_writer.py: the probe's writer and reader through libpq's multi-host connection string;
owner.py: the sandbox controller's side (started with the sandbox, the primary faults, Sentinel's
events into the sandbox's event log, stopped with it); store.py: the pods' Sentinel-aware client
(asyncio) behind their `/kv` endpoints; probe.py: a run's durability probe, writing through the
balancer; writer.py: a writer and the reader straight through Sentinel. The verdict over what they
saw is clusters/durability.py.

This module is the vocabulary: the stores a sandbox can run beside its pods and the durability
modes, checked here once for the sandbox config, the target kind, the CLI, the form and the API.
A store is one entry of `STORES` (what it is, whether this build has it, the binaries it needs).
Django-free, like the rest of `clusters/`; it imports no redis, so checking a config stays cheap.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from clusters.base import ClusterError

DURABILITY_MODES = ("sync", "async")
DEFAULT_DURABILITY = "sync"
# What each mode promises, from the store's own documentation: the run's summary says it beside the
# figures. A mode that promises no loss fails the run on any acknowledged write lost.
PROMISES = {
    ("redis", "sync"): "a write is acknowledged once a replica has it (WAIT 1). Redis documents WAIT as best "
                       "effort: it does not make Redis strongly consistent, and a failover can still lose an "
                       "acknowledged write, so LB Lab measures what was lost and never assumes zero.",
    ("redis", "async"): "a write is acknowledged on the primary's reply; a failover loses what the replica had "
                        "not received yet (the RPO is that window).",
    ("postgres", "sync"): "Patroni's synchronous_mode: a commit returns once the synchronous standby has flushed "
                          "it, and Patroni never promotes a standby that may lack an acknowledged commit, so no "
                          "acknowledged write may be lost (with no standby left, writes go on unreplicated; "
                          "synchronous_mode_strict would block them instead).",
    ("postgres", "async"): "a commit returns on the primary alone; Patroni promotes a replica at most "
                           "maximum_lag_on_failover (1 MiB) behind, and what it had not received is lost (the RPO "
                           "is that window).",
}
PROMISES_NO_LOSS = frozenset({"sync"})  # the modes whose verdict fails on any acknowledged write lost
# The request mix of a stateful sandbox when the flags describe the scenario: every user writes to the
# store through the pods (`POST /kv`: an id of the pod's own), so a primary fault shows in the load.
# Debian's PostgreSQL 15 server, which Patroni runs (its bin_dir is this file's dir).
POSTGRES_SERVER = "/usr/lib/postgresql/15/bin/postgres"
STORE_WRITES = ({"path": "/kv", "method": "POST", "weight": 1},)
INSTALL = {"redis": "make stateful (Debian's redis-server and redis-sentinel)",
           "postgres": "make stateful (Debian's patroni, etcd-server and postgresql-15)"}


@dataclass(frozen=True)
class Store:
    name: str
    label: str
    binaries: tuple[str, ...] = ()
    missing: str = ""  # why this build cannot run it ("" when it can)


Address = tuple[str, int]


@dataclass(frozen=True)
class FailoverEvent:
    """One entry of a stateful set's event log (both stores log in this shape)."""
    at: float  # unix time it was seen
    source: str  # "lblab" for what LB Lab did, else the server that told it ("sentinel-0", "patroni")
    kind: str  # kill, stop, restart; or the store's own event (+sdown, +switch-master, leader, ...)
    detail: str  # the node and PID, or the store's message


@dataclass(frozen=True)
class Switch:
    """The store promoted `node` (at `new`) in place of the primary at `old`."""
    at: float  # unix time the promotion was first seen
    old: Address
    new: Address
    node: str


STORES: dict[str, Store] = {store.name: store for store in (
    Store("redis", "Redis with Sentinel (primary, replica, 3 Sentinels)", binaries=("redis-server", "redis-sentinel")),
    Store("postgres", "PostgreSQL with Patroni (etcd, primary, replica)", binaries=("patroni", "etcd", POSTGRES_SERVER)),
)}


def located(binary: str, store: str = "redis") -> str:
    """The path of `binary`; ClusterError(field="stateful") when it is not installed."""
    found = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/local/sbin:/sbin")
    if found is None:
        raise ClusterError(f"{binary} is not installed ({INSTALL.get(store, 'see the README')})", field="stateful")
    return found


def check_stateful(store, durability=DEFAULT_DURABILITY, *, binaries: bool = False) -> None:
    """ClusterError(field="stateful" or "durability") unless `store` ("" for none) and `durability`
    name something this build runs; with `binaries`, also that its servers are installed."""
    if store in ("", None):
        if durability not in ("", None, DEFAULT_DURABILITY):
            raise ClusterError("a durability mode needs a stateful store (--stateful redis|postgres)",
                               field="durability")
        return
    if store not in STORES:
        raise ClusterError(f"unknown stateful store {store!r}; one of {', '.join(STORES)}", field="stateful")
    if STORES[store].missing:
        raise ClusterError(STORES[store].missing, field="stateful")
    if durability not in DURABILITY_MODES:
        raise ClusterError(f"unknown durability mode {durability!r}; one of {', '.join(DURABILITY_MODES)}",
                           field="durability")
    if binaries:
        for binary in STORES[store].binaries:
            located(binary, store)
