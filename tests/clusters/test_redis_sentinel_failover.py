"""A real Redis primary, replica and three Sentinels (clusters/sandbox/stateful/redis.py) under the
durability probe's writer (clusters/sandbox/stateful/writer.py): the primary's death, Sentinel's
promotion, writes on the new primary, and the Jepsen-style verdict over what is read back. Each
test starts its own set (`redis_set`, about 3 s to agree) and closes it. One run per case: the
issue's acceptance (five kills in a row) is tests/clusters/test_five_primary_kills.py."""

from __future__ import annotations

import time

import pytest

from clusters.base import ClusterError
from clusters.sandbox.stateful.redis import RedisSentinelSet
from clusters.sandbox.stateful.writer import read_ids, write_ids
from tests.clusters.store_writer import StoreWriter
from tests.conftest import wait_for


def probe_writer(redis_set: RedisSentinelSet, mode: str, key: str = "probe") -> StoreWriter:
    return StoreWriter(write_ids, redis_set.sentinels, mode=mode, key=key)


def test_primary_kill_under_sync_writes_fails_over_and_loses_no_acknowledged_write(redis_set):
    writer = probe_writer(redis_set, "sync")
    try:
        writer.wait_acked(200)
        killed_at = time.time()
        assert redis_set.kill_primary() == "redis-0"
        switch = redis_set.wait_for_switch(since=killed_at)
        assert (switch.node, switch.old, switch.new) == ("redis-1", redis_set.address("redis-0"),
                                                          redis_set.address("redis-1"))
        assert redis_set.primary() == redis_set.address("redis-1")
        # The killed node comes back as the new primary's replica, as the sandbox's restore starts it
        # (and an operator restarting a Redis pod), so WAIT can acknowledge writes again. Left to
        # Sentinel, the conversion waits for its next INFO of the node, and in TILT mode on a loaded
        # machine for longer: over 90 s once in CI.
        redis_set.restart("redis-0", replica_of=redis_set.primary())
        wait_for(lambda: redis_set.follows("redis-0", "redis-1"), "redis-0 to follow redis-1")
        writer.wait_acked(200)
    finally:
        log = writer.finish()
    kinds = [(event.source, event.kind) for event in redis_set.events()]
    assert kinds.index(("lblab", "kill")) < next(i for i, (_, kind) in enumerate(kinds) if kind == "+switch-master")
    assert log.acked_on(redis_set.address("redis-1")), "no write was acknowledged by the new primary"
    # After the kill the writer went to the Sentinels' new primary only, never back to the old
    # address (the restarted redis-0).
    assert {address for at, address in log.primaries if at > killed_at} == {redis_set.address("redis-1")}
    result = log.check(read_ids(redis_set.sentinels, key="probe"))
    print(f"\nsync primary kill: failover {switch.at - killed_at:.3f} s after the kill; "
          f"acked {result.acked}, lost {result.lost}, recovered {result.recovered}, failed {dict(log.errors)}")
    assert result.acked >= 400
    assert (result.lost, result.unexpected) == (0, 0)


def test_clean_primary_stop_fails_over_and_loses_no_async_write(redis_set):
    """SHUTDOWN lets the replica catch up before the primary exits (Redis pauses writes for it, up
    to shutdown-timeout): even acknowledgements on the primary's reply alone survive."""
    writer = probe_writer(redis_set, "async")
    try:
        writer.wait_acked(200)
        stopped_at = time.time()
        assert redis_set.stop_primary() == "redis-0"
        assert "redis-0" not in redis_set.pids()
        switch = redis_set.wait_for_switch(since=stopped_at)
        assert switch.node == "redis-1"
        writer.wait_acked(100)
    finally:
        log = writer.finish()
    result = log.check(read_ids(redis_set.sentinels, key="probe"))
    print(f"\nasync primary stop: failover {switch.at - stopped_at:.3f} s after the stop; acked {result.acked}, "
          f"lost {result.lost}, recovered {result.recovered}, failed {dict(log.errors)}")
    assert (result.lost, result.unexpected, result.rpo_s) == (0, 0, 0.0)
    assert log.acked_on(redis_set.address("redis-1"))


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_writes_the_replica_never_applied_are_lost_only_when_acknowledged_async(redis_set, mode):
    """The replica stops applying the replication stream (CLIENT PAUSE WRITE), the primary keeps
    taking writes, then dies: what it held alone is gone. Async acknowledged those writes and the
    checker must find them lost; sync's WAIT never acknowledged them."""
    writer = probe_writer(redis_set, mode)
    replica = redis_set.client("redis-1")
    try:
        writer.wait_acked(100)
        replica.execute_command("CLIENT", "PAUSE", 30000, "WRITE")
        paused_at = time.time()
        wait_for(lambda: len(writer.log.acked) + len(writer.log.failed) >= 100
                   and max([*writer.log.acked.values(), *writer.log.failed.values()]) > paused_at + 0.5,
                   "writes while the replica is paused")
        killed_at = time.time()
        redis_set.kill_primary()
        # The replica drops what it received but never applied once it sees its primary gone;
        # then it may be promoted.
        wait_for(lambda: replica.info("replication").get("master_link_status") == "down",
                   "the replica to see its primary gone")
        replica.execute_command("CLIENT", "UNPAUSE")
        switch = redis_set.wait_for_switch(since=killed_at)
        assert switch.node == "redis-1"
        writer.wait_acked(50) if mode == "async" else None
    finally:
        log = writer.finish()
    result = log.check(read_ids(redis_set.sentinels, key="probe"))
    print(f"\n{mode} paused-replica kill: failover {switch.at - killed_at:.3f} s; acked {result.acked}, "
          f"lost {result.lost}, recovered {result.recovered}, RPO {result.rpo_s} s")
    assert result.unexpected == 0
    if mode == "async":
        assert result.lost > 0
        assert set(result.lost_ids) <= set(log.acked)
        assert result.rpo_s > 0
        present = read_ids(redis_set.sentinels, key="probe")
        assert set(log.acked_on(redis_set.address("redis-1"))) <= present
    else:
        assert result.lost == 0
        assert result.rpo_s is None


def test_unknown_durability_mode_is_refused_before_any_write():
    with pytest.raises(ClusterError, match="unknown durability mode"):
        write_ids([("127.0.0.1", 1)], key="probe", mode="eventually", duration_s=1)
