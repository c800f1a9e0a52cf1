"""Issue 21's acceptance, for each store: under synchronous write load the primary is killed five
times in a row (the node promoted each time is the next one killed), each failover happens within
30 s, the killed node comes back as the new primary's replica, and not one acknowledged write of the
whole series is lost (Jepsen's set check over what is read back at the end). Solo: Sentinel and
Patroni act on timers a busy machine delays (Sentinel's TILT), and five failovers in a row add up."""

from __future__ import annotations

import os
import time

import pytest

from clusters.sandbox.stateful.postgres_writer import read_ids as read_postgres_ids
from clusters.sandbox.stateful.writer import read_ids as read_redis_ids
from tests.clusters.test_patroni_failover import probe_writer as postgres_writer
from tests.clusters.test_redis_sentinel_failover import probe_writer as redis_writer
from tests.conftest import wait_for

pytestmark = [
    pytest.mark.solo, pytest.mark.timeout(600),
    # no database here: what the PostgreSQL + Redis suite would run is the same, minutes again
    pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="uses no database: run by the embedded-default suite"),
]

KILLS = 5
FAILOVER_WITHIN_S = 30.0


def kill_five_times(store, writer, *, restart, ready) -> list[float]:
    """Kill the primary KILLS times, each once `ready(last switch, node killed)` says the store can
    fail over again; returns each failover's time after its kill."""
    failovers, switch, killed = [], None, None
    try:
        writer.wait_acked(100)
        for _ in range(KILLS):
            if switch is not None:
                wait_for(lambda s=switch, k=killed: ready(s, k), "the store to be ready for another failover")
            killed_at = time.time()
            killed = store.kill_primary()
            switch = store.wait_for_switch(since=killed_at, timeout_s=FAILOVER_WITHIN_S)
            failovers.append(switch.at - killed_at)
            assert switch.node != killed and store.primary() == store.address(switch.node)
            restart(killed)
            wait_for(lambda k=killed, n=switch.node: store.follows(k, n), f"{killed} to follow {switch.node}")
            writer.wait_acked(100)  # writes are acknowledged again (sync: a replica has them)
    finally:
        writer.log_after = writer.finish()
    return failovers


def test_five_redis_primary_kills_in_a_row_lose_no_acknowledged_write(redis_set):
    writer = redis_writer(redis_set, "sync")
    # Sentinel starts no new failover of the same primary within twice its failover-timeout of the
    # last one (its documented rule), and promotes only a replica it sees up and linked
    failovers = kill_five_times(
        # back as the new primary's replica at once, as an operator restarting a Redis pod does
        redis_set, writer, restart=lambda node: redis_set.restart(node, replica_of=redis_set.primary()),
        ready=lambda switch, _: (time.time() > switch.at + 2 * redis_set.failover_timeout_s
                                 and redis_set.disagreement(redis_set.primary()) is None))
    result = writer.log_after.check(read_redis_ids(redis_set.sentinels, key="probe"))
    print(f"\nredis, 5 kills: failovers {[round(s, 2) for s in failovers]} s; acked {result.acked}, "
          f"lost {result.lost}, recovered {result.recovered}")
    assert len(failovers) == KILLS and max(failovers) < FAILOVER_WITHIN_S
    assert result.acked >= KILLS * 100
    assert (result.lost, result.unexpected) == (0, 0)


def test_five_postgres_primary_kills_in_a_row_lose_no_acknowledged_write(start_patroni_set):
    pg_set = start_patroni_set(durability="sync")
    writer = postgres_writer(pg_set, "sync")
    # a killed server's Patroni brings it back itself, rewound onto the new primary's timeline
    # synchronous_mode promotes only the synchronous standby: the killed node, back, must be named so
    failovers = kill_five_times(pg_set, writer, restart=lambda node: None,
                                ready=lambda _, killed: pg_set.sync_standby() == killed)
    result = writer.log_after.check(read_postgres_ids(pg_set.conninfo(), table="probe"))
    print(f"\npostgres, 5 kills: failovers {[round(s, 2) for s in failovers]} s; acked {result.acked}, "
          f"lost {result.lost}, recovered {result.recovered}")
    assert len(failovers) == KILLS and max(failovers) < FAILOVER_WITHIN_S
    assert result.acked >= KILLS * 100
    assert (result.lost, result.unexpected) == (0, 0)
