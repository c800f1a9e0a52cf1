"""The stateful sandbox's Redis set (clusters/sandbox/stateful/redis.py) on its own: a primary, a
replica and three Sentinels on free loopback ports, agreeing on the primary; nothing left after
close()."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from clusters import procs
from clusters.base import ClusterError
from clusters.sandbox.stateful import redis as stateful_redis
from clusters.sandbox.stateful.redis import RedisSentinelSet


def test_sentinels_name_the_primary_and_the_replica_follows_it(redis_set):
    assert redis_set.primary() == redis_set.address("redis-0")
    for name in ("sentinel-0", "sentinel-1", "sentinel-2"):
        host, port = redis_set.client(name).sentinel_get_master_addr_by_name("lblab")
        assert (host, int(port)) == redis_set.address("redis-0")
    assert redis_set.follows("redis-1", "redis-0")
    primary = redis_set.client("redis-0")
    primary.set("greeting", "hello")
    assert primary.wait(1, 2000) == 1
    assert redis_set.client("redis-1").get("greeting") == "hello"


def test_close_stops_every_process_and_removes_the_data_dirs():
    redis_set = RedisSentinelSet()
    pids, root = redis_set.pids(), redis_set.root
    assert len(pids) == 5 and root.is_dir()
    redis_set.close()
    assert [name for name, pid in pids.items() if os.path.exists(f"/proc/{pid}")] == []
    assert not root.exists()
    redis_set.close()  # twice is fine


def test_missing_sentinel_binary_is_a_clear_error_before_anything_starts(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda binary, path=None: None)
    with pytest.raises(ClusterError, match="redis-server is not installed .make stateful"):
        RedisSentinelSet()


def test_killing_a_primary_that_is_down_already_is_refused(redis_set):
    redis_set.kill_primary()
    with pytest.raises(ClusterError, match="redis-0 is down already"):
        redis_set.kill_primary()  # the Sentinels still name it for about a second


CHILD = """
import json, sys, time
from clusters.sandbox.stateful.redis import RedisSentinelSet
redis_set = RedisSentinelSet()
print(json.dumps({"pids": redis_set.pids(), "root": str(redis_set.root)}), flush=True)
time.sleep(600)
"""


def test_the_set_dies_with_the_process_that_started_it():
    """A worker SIGKILLed while its set runs: the parent-death signal takes every server with it
    (its temp dir stays: removing it is the reaper's part, the next slice)."""
    child = procs.start([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True,
                        env=procs.with_project_on_path(dict(os.environ)))
    try:
        started = json.loads(child.stdout.readline())
    finally:
        procs.kill(child)
    try:
        pids = started["pids"]
        assert len(pids) == 5
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") for pid in pids.values()):
            time.sleep(0.05)
        assert [name for name, pid in pids.items() if os.path.exists(f"/proc/{pid}")] == []
    finally:
        shutil.rmtree(started["root"], ignore_errors=True)


def test_bad_failover_timings_are_refused_on_their_field():
    with pytest.raises(ClusterError, match="down_after_ms: must be >= 100"):
        RedisSentinelSet(down_after_ms=0)
    with pytest.raises(ClusterError, match="failover_timeout_ms: must be a whole number"):
        RedisSentinelSet(failover_timeout_ms=1500.5)


def test_a_server_that_will_not_start_is_a_clear_error_and_leaves_nothing(monkeypatch):
    monkeypatch.setattr(stateful_redis, "DATA_CONFIG", stateful_redis.DATA_CONFIG + "no-such-directive yes\n")
    made: list[RedisSentinelSet] = []
    real_init = RedisSentinelSet.__init__

    def recording_init(self, **options):
        made.append(self)
        real_init(self, **options)

    monkeypatch.setattr(RedisSentinelSet, "__init__", recording_init)
    with pytest.raises(ClusterError, match="redis-0 exited on start: .*no-such-directive"):
        RedisSentinelSet()
    (redis_set,) = made
    assert not redis_set.root.exists()
    assert redis_set.pids() == {}
