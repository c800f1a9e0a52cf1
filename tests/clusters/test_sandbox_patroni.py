"""The sandbox's stateful mode on PostgreSQL (`stateful="postgres"`): an etcd member and two Patroni
nodes start with the sandbox and stop with it; the pods' `/kv` endpoints write and read through
libpq's multi-host connection (`target_session_attrs=read-write`) and follow the primary after a
kill of its server; the kill and Patroni's promotion are in the sandbox's event log; nothing is
left after close() (a killed owner: test_sandbox_stateful.py)."""

from __future__ import annotations

import os
import time

import pytest

from clusters.sandbox.stateful.postgres import stop_wal_sender
from clusters.sandbox.stateful.probe import DurabilityProbe, read_records
from tests.clusters.test_sandbox_stateful import alive, kv
from tests.conftest import wait_for


def test_pods_write_through_libpq_and_follow_the_new_primary_after_a_kill(start_sandbox):
    cluster = start_sandbox(pods=2, stateful="postgres", durability="sync")
    store = cluster.stateful()
    assert (store["store"], store["primary"]) == ("postgres", "pg-0")
    assert "target_session_attrs=read-write" in store["conninfo"]
    status, body = kv(cluster, "POST", "/kv/before-kill")
    assert (status, body["acked"]) == (200, True)  # committed: the synchronous standby has it
    assert body["primary"].endswith(f":{store['servers']['pg-0'][1]}")
    assert kv(cluster, "GET", "/kv/before-kill")[0] == 200
    assert kv(cluster, "GET", "/kv/never-written")[0] == 404

    killed_at = time.monotonic()
    assert cluster.kill_primary() == "pg-0"
    assert cluster.restore_stateful() == []  # Patroni starts the killed server again itself

    def confirmed_write():
        status, body = kv(cluster, "POST", "/kv/after")
        return body if status == 200 else None

    after = wait_for(confirmed_write, "a confirmed write on the new primary", deadline_s=30, poll_s=0.1)
    print(f"\nsandbox postgres kill: writes confirmed again {time.monotonic() - killed_at:.2f} s after the kill")
    assert after["primary"].endswith(f":{store['servers']['pg-1'][1]}")
    assert kv(cluster, "GET", "/kv/before-kill")[0] == 200  # the acknowledged write survived
    wait_for(lambda: cluster.stateful()["primary"] == "pg-1", "Patroni to name pg-1")

    def logged() -> list:  # the owner copies Patroni's changes into the log as it polls them
        events = [(event.type, event.details.get("server")) for event in cluster.events()]
        return events if ("failover", "pg-1") in events else None

    events = wait_for(logged, "the promotion in the sandbox's event log")
    assert ("primary_killed", "pg-0") in events
    assert events.index(("primary_killed", "pg-0")) < events.index(("failover", "pg-1"))
    assert any(kind == "store_event" for kind, _ in events)  # Patroni's role and state changes

    pids, root = cluster.stateful()["pids"], store["root"]
    cluster.close()
    assert [name for name, pid in pids.items() if alive(pid)] == []
    assert not os.path.exists(root)


def test_a_clean_stop_fails_over_and_restore_brings_the_node_back_as_a_replica(start_sandbox):
    cluster = start_sandbox(pods=1, stateful="postgres", durability="async")
    store = cluster.stateful()
    assert set(store["pids"]) == {"etcd-0", "pg-0", "pg-0/postgres", "pg-1", "pg-1/postgres"}
    assert kv(cluster, "POST", "/kv/before-stop")[0] == 200

    assert cluster.stop_primary() == "pg-0"
    assert not {"pg-0", "pg-0/postgres"} & set(cluster.stateful()["pids"])
    wait_for(lambda: kv(cluster, "POST", "/kv/after-stop")[0] == 200, "a write on the new primary", poll_s=0.1)
    assert cluster.stateful()["primary"] == "pg-1"
    assert kv(cluster, "GET", "/kv/before-stop")[0] == 200  # the fast shutdown sent it to the replica first
    assert cluster.restore_stateful() == ["pg-0"]
    wait_for(lambda: ("store_restarted", "pg-0") in [(event.type, event.details.get("server"))
                                                     for event in cluster.events()], "pg-0 started again")
    wait_for(lambda: "pg-0/postgres" in cluster.stateful()["pids"], "pg-0's PostgreSQL to run again")
    assert cluster.stateful()["primary"] == "pg-1"  # it came back as the replica
    pids = cluster.stateful()["pids"]
    cluster.close()
    assert [pid for pid in pids.values() if alive(pid)] == []
    assert not os.path.exists(store["root"])


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_writes_the_replica_never_received_are_lost_only_when_acknowledged_async(start_sandbox, mode):
    """The forced loss through the whole sandbox path (the probe writing through the balancer and
    the pods): the primary's WAL sender is stopped, the probe goes on writing, the primary's server
    is killed and Patroni promotes pg-1. Async acknowledged what only pg-0 held: the verdict names
    it lost, with an RPO. Under synchronous_mode those commits never returned: nothing is lost."""
    cluster = start_sandbox(pods=2, stateful="postgres", durability=mode)
    store = cluster.stateful()
    probe = DurabilityProbe(cluster.endpoint, prefix="forced-", mode=mode, rate=200.0)
    probe.start()
    try:
        wait_for(lambda: len(probe.log.acked) >= 100, "100 acknowledged writes", poll_s=0.05)
        stop_wal_sender(tuple(store["servers"]["pg-0"]))
        time.sleep(0.5)
        assert cluster.kill_primary() == "pg-0"
        wait_for(lambda: any(event.type == "failover" for event in cluster.events()), "the promotion", poll_s=0.05)
        promoted = len(probe.log.acked)
        wait_for(lambda: len(probe.log.acked) >= promoted + 50, "writes acknowledged by the new primary",
                 poll_s=0.05)
    finally:
        log = probe.stop()
    result = probe.check(read_records(store))
    print(f"\nforced {mode} loss through the Patroni sandbox: acked {result.acked}, lost {result.lost}, "
          f"recovered {result.recovered}, failed {len(log.failed)}, RPO {result.rpo_s} s")
    assert result.unexpected == 0
    if mode == "async":
        assert result.lost > 0 and set(result.lost_ids) <= set(log.acked)
        assert 0 < result.rpo_s < 5.0  # the 0.5 s the sender was stopped, and the kill's own delay
    else:
        assert result.lost == 0 and result.rpo_s is None
