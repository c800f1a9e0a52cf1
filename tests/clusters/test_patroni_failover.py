"""A real etcd member and two Patroni nodes (clusters/sandbox/stateful/postgres.py) under the
durability probe's PostgreSQL writer (clusters/sandbox/stateful/postgres_writer.py), which reaches
the primary as production clients do (libpq multi-host, `target_session_attrs=read-write`): the
primary server's death, Patroni's promotion, writes on the new primary, and the Jepsen-style
verdict over what is read back. Each test starts its own set (about 8 s) and closes it."""

from __future__ import annotations

import time

import pytest

from clusters.base import ClusterError
from clusters.sandbox.stateful.postgres import PatroniSet
from clusters.sandbox.stateful.postgres_writer import read_ids, write_ids
from tests.clusters.store_writer import StoreWriter
from tests.conftest import wait_for

FAILOVER_WITHIN_S = 30.0  # the acceptance


def probe_writer(pg_set: PatroniSet, mode: str, table: str = "probe") -> StoreWriter:
    return StoreWriter(write_ids, pg_set.conninfo(), mode=mode, table=table)


def test_primary_kill_under_sync_writes_fails_over_and_loses_no_acknowledged_write(start_patroni_set):
    pg_set = start_patroni_set(durability="sync")
    writer = probe_writer(pg_set, "sync")
    try:
        writer.wait_acked(200)
        killed_at = time.time()
        assert pg_set.kill_primary() == "pg-0"
        switch = pg_set.wait_for_switch(since=killed_at, timeout_s=FAILOVER_WITHIN_S)
        assert (switch.node, switch.old, switch.new) == ("pg-1", pg_set.address("pg-0"), pg_set.address("pg-1"))
        assert pg_set.primary() == pg_set.address("pg-1")
        # The killed server's Patroni brings it back itself, rewound onto the new primary's timeline.
        wait_for(lambda: pg_set.follows("pg-0", "pg-1"), "pg-0 to stream from pg-1")
        writer.wait_acked(200)
    finally:
        log = writer.finish()
    kinds = [(event.source, event.kind) for event in pg_set.events()]
    assert kinds.index(("lblab", "kill")) < kinds.index(("patroni", "leader"))
    assert log.acked_on(pg_set.address("pg-1")), "no write was acknowledged by the new primary"
    # After the kill libpq found the new primary only (target_session_attrs=read-write).
    assert {address for at, address in log.primaries if at > killed_at} == {pg_set.address("pg-1")}
    result = log.check(read_ids(pg_set.conninfo(), table="probe"))
    print(f"\nsync primary kill: failover {switch.at - killed_at:.3f} s after the kill; "
          f"acked {result.acked}, lost {result.lost}, recovered {result.recovered}, failed {dict(log.errors)}")
    assert switch.at - killed_at < FAILOVER_WITHIN_S
    assert result.acked >= 400
    assert (result.lost, result.unexpected) == (0, 0)


def test_strict_synchronous_mode_blocks_writes_until_a_standby_is_back(start_patroni_set):
    """`synchronous_mode_strict`: after the kill the new primary has no standby, and its commits
    wait until the old primary is back and named synchronous standby, instead of going on alone."""
    pg_set = start_patroni_set(durability="sync", strict=True)
    writer = probe_writer(pg_set, "sync")
    try:
        writer.wait_acked(100)
        killed_at = time.time()
        pg_set.kill_primary()
        switch = pg_set.wait_for_switch(since=killed_at, timeout_s=FAILOVER_WITHIN_S)
        assert switch.node == "pg-1"
        wait_for(lambda: pg_set.follows("pg-0", "pg-1"), "pg-0 to stream from pg-1")
        with pg_set.connect("pg-1") as primary:  # when pg-0's replication connection began
            [[streaming_from]] = primary.execute(
                "SELECT extract(epoch FROM backend_start)::float FROM pg_stat_replication").fetchall()
        writer.wait_acked(100)
        wait_for(lambda: pg_set.sync_standby() == "pg-0", "pg-0 to be the synchronous standby")
    finally:
        log = writer.finish()
    resumed = min(at for at in log.acked.values() if at > switch.at)
    result = log.check(read_ids(pg_set.conninfo(), table="probe"))
    print(f"\nstrict sync primary kill: failover {switch.at - killed_at:.3f} s, pg-0 streaming again "
          f"{streaming_from - killed_at:.3f} s, writes acknowledged again {resumed - killed_at:.3f} s after the kill; "
          f"acked {result.acked}, lost {result.lost}")
    # No commit returned on pg-1 alone: only once pg-0 replicated from it again (with no candidate,
    # strict mode names any standby, `*`, so the first to connect confirms the waiting commits),
    # seconds after the promotion (crash recovery and pg_rewind first), where without strict mode
    # the commits return from the promotion on. (pg-0's latest replication connection, above, may
    # be a later one than the first: Patroni may restart it once more.)
    assert resumed - switch.at > 1.0
    assert (result.lost, result.unexpected) == (0, 0)


def test_clean_primary_stop_fails_over_and_loses_no_async_write(start_patroni_set):
    """Patroni stops PostgreSQL with a fast shutdown, whose WAL senders send everything written
    before the server exits, then gives up the leader key: even commits acknowledged by the
    primary alone survive. The stopped node, started again, rejoins as the replica."""
    pg_set = start_patroni_set(durability="async")
    writer = probe_writer(pg_set, "async")
    try:
        writer.wait_acked(200)
        stopped_at = time.time()
        assert pg_set.stop_primary() == "pg-0"
        assert not {"pg-0", "pg-0/postgres"} & set(pg_set.pids())
        switch = pg_set.wait_for_switch(since=stopped_at, timeout_s=FAILOVER_WITHIN_S)
        assert switch.node == "pg-1"
        writer.wait_acked(100)
        pg_set.restart("pg-0")
        wait_for(lambda: pg_set.follows("pg-0", "pg-1"), "pg-0 to stream from pg-1")
    finally:
        log = writer.finish()
    result = log.check(read_ids(pg_set.conninfo(), table="probe"))
    print(f"\nasync primary stop: failover {switch.at - stopped_at:.3f} s after the stop; acked {result.acked}, "
          f"lost {result.lost}, recovered {result.recovered}, failed {dict(log.errors)}")
    assert (result.lost, result.unexpected, result.rpo_s) == (0, 0, 0.0)
    assert log.acked_on(pg_set.address("pg-1"))


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_writes_the_replica_never_received_are_lost_only_when_acknowledged_async(start_patroni_set, mode):
    """The primary's WAL sender is stopped (SIGSTOP), so the replica receives nothing while the
    primary goes on committing; then the primary's server dies (its stopped sender with it) and
    Patroni promotes the replica, which lags by less than maximum_lag_on_failover. Async
    acknowledged what the primary held alone, and the checker must find it lost; under
    synchronous_mode no commit returned without the standby, so none is lost."""
    pg_set = start_patroni_set(durability=mode)
    writer = probe_writer(pg_set, mode)
    try:
        writer.wait_acked(100)
        pg_set.pause_replication()
        paused_at = time.time()
        time.sleep(0.5)
        attempted = len(writer.log.acked) + len(writer.log.failed)
        killed_at = time.time()
        pg_set.kill_primary()
        switch = pg_set.wait_for_switch(since=killed_at, timeout_s=FAILOVER_WITHIN_S)
        assert switch.node == "pg-1"
        writer.wait_acked(50)
    finally:
        log = writer.finish()
    result = log.check(read_ids(pg_set.conninfo(), table="probe"))
    acked_while_paused = [i for i, at in log.acked.items() if paused_at <= at <= killed_at]
    print(f"\n{mode} paused-sender kill: failover {switch.at - killed_at:.3f} s; acked {result.acked} "
          f"({len(acked_while_paused)} while the sender was stopped, of {attempted} attempted by the kill), "
          f"lost {result.lost}, recovered {result.recovered}, RPO {result.rpo_s} s")
    assert result.unexpected == 0
    if mode == "async":
        assert result.lost > 0
        # What was lost is what the primary acknowledged from about the sender's stop (a few ms of
        # the usual replication lag before it) to the server's death, nothing else.
        died_at = next(event.at for event in pg_set.events() if event.kind == "kill")
        lost_at = [log.acked[i] for i in result.lost_ids]
        assert paused_at - 0.1 <= min(lost_at) and max(lost_at) <= died_at + 0.05, \
            (min(lost_at) - paused_at, max(lost_at) - died_at)
        assert 0 < result.rpo_s <= died_at - paused_at + 0.2  # the window the sender was stopped, about
        assert set(log.acked_on(pg_set.address("pg-1"))) <= read_ids(pg_set.conninfo(), table="probe")
    else:
        # The commits waited for the stopped standby's confirmation (one already on its way as
        # the sender stopped may still return).
        assert [i for i in acked_while_paused if log.acked[i] > paused_at + 0.25] == []
        assert result.lost == 0
        assert result.rpo_s is None


def test_unknown_durability_mode_is_refused_before_any_write():
    with pytest.raises(ClusterError, match="unknown durability mode"):
        write_ids("host=127.0.0.1 port=1", mode="eventually", duration_s=1)
