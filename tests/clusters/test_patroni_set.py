"""The stateful sandbox's Patroni set (clusters/sandbox/stateful/postgres.py) on its own: an etcd
member and two Patroni nodes on free loopback ports, pg-0 the primary and pg-1 streaming from it;
nothing left after close() or after the process that started it is SIGKILLed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import psutil
import psycopg
import pytest

from clusters import procs
from clusters.base import ClusterError
from clusters.sandbox.stateful import postgres as stateful_postgres
from clusters.sandbox.stateful.postgres import PatroniSet
from tests.procs import alive


def every_process(pids: dict[str, int]) -> set[int]:
    """The set's processes and all they started (Patroni, the postmaster its keeper adopted, every
    backend)."""
    found = set(pids.values())
    for pid in pids.values():
        try:
            found |= {child.pid for child in psutil.Process(pid).children(recursive=True)}
        except psutil.NoSuchProcess:
            pass
    return found


def still_running(pids) -> list[int]:
    return [pid for pid in pids if alive(pid)]


def test_patroni_names_pg0_primary_and_a_sync_commit_reaches_the_standby(start_patroni_set):
    pg_set = start_patroni_set(durability="sync")
    assert pg_set.primary() == pg_set.address("pg-0")
    assert pg_set.sync_standby() == "pg-1"
    assert pg_set.follows("pg-1", "pg-0")
    with pg_set.connect("pg-0") as primary:
        assert primary.execute("SHOW synchronous_standby_names").fetchone()[0] == '"pg-1"'
        primary.execute("SET synchronous_commit = remote_apply")  # visible on the standby at once
        primary.execute("CREATE TABLE greeting (word text)")
        primary.execute("INSERT INTO greeting VALUES ('hello')")
    with pg_set.connect("pg-1") as replica:
        assert replica.execute("SELECT word FROM greeting").fetchone()[0] == "hello"
    # The multi-host string reaches the primary whichever host comes first.
    with psycopg.connect(stateful_postgres.conninfo(pg_set.addresses[::-1])) as conn:
        assert conn.info.port == pg_set.address("pg-0")[1]


def test_close_stops_every_process_and_removes_the_data_dirs():
    pg_set = PatroniSet(durability="async")
    pids, root = pg_set.pids(), pg_set.root
    assert set(pids) == {"etcd-0", "pg-0", "pg-0/postgres", "pg-1", "pg-1/postgres"} and root.is_dir()
    processes = every_process(pids)
    assert len(processes) > 10  # the keepers, Patroni, each server's backends
    pg_set.close()
    assert still_running(processes) == []
    assert not root.exists()
    pg_set.close()  # twice is fine


def test_missing_patroni_is_a_clear_error_before_anything_starts(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda binary, path=None: None)
    with pytest.raises(ClusterError, match="etcd is not installed .make stateful"):
        PatroniSet()


def test_unknown_durability_mode_is_refused_on_its_field():
    with pytest.raises(ClusterError, match="unknown durability mode 'eventually'") as refused:
        PatroniSet(durability="eventually")
    assert refused.value.field == "durability"


def test_a_bad_maximum_lag_is_refused_on_its_field():
    with pytest.raises(ClusterError, match="maximum_lag_on_failover: must be >= 0"):
        PatroniSet(maximum_lag_on_failover=-1)


def test_killing_a_primary_that_is_down_already_is_refused(start_patroni_set):
    pg_set = start_patroni_set(durability="async")
    pg_set.kill_primary()
    with pytest.raises(ClusterError, match="pg-0 runs no PostgreSQL now"):
        pg_set.kill_primary()  # Patroni still names it until the replica's promotion


CHILD = """
import json, time
from clusters.sandbox.stateful.postgres import PatroniSet
pg_set = PatroniSet(durability="sync")
print(json.dumps({"pids": pg_set.pids(), "root": str(pg_set.root)}), flush=True)
time.sleep(600)
"""


def test_the_set_dies_with_the_process_that_started_it():
    """A worker SIGKILLed while its set runs: etcd gets its parent-death signal, each keeper its
    own, and the keeper takes Patroni and the PostgreSQL server it adopted along (its temp dir
    stays: removing it is the reaper's part)."""
    child = procs.start([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True,
                        env=procs.with_project_on_path(dict(os.environ)))
    try:
        started = json.loads(child.stdout.readline())
        processes = every_process(started["pids"])
    finally:
        procs.kill(child)
    try:
        assert len(started["pids"]) == 5
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and still_running(processes):
            time.sleep(0.05)
        assert still_running(processes) == []
    finally:
        shutil.rmtree(started["root"], ignore_errors=True)
