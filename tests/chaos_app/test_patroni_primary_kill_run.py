"""A whole run on a stateful sandbox on PostgreSQL (`stateful=postgres`, Patroni's synchronous_mode)
whose primary server is killed under write load: the load's own writes (`POST /kv`) fail over the
failover and the RTO is measured from them; the failover (the kill, Patroni's promotion, the old
primary's return as a replica) is on the run's timeline on the load clock; the durability probe
lost no acknowledged write; and no process or data dir of the store is left once the run ended."""

from __future__ import annotations

import os

import pytest

from tests.chaos_app.stateful_support import primary_kill_run
from tests.clusters.test_sandbox_stateful import alive
from tests_app.selectors import run_events

# solo: the failover must fit in the run and the zero-loss verdict is read under write load
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300), pytest.mark.solo]


def test_primary_kill_under_sync_writes_loses_nothing_and_leaves_nothing(alice):
    run, seen = primary_kill_run(alice, "postgres")
    summary = run.summary

    [injection] = summary["chaos"]
    assert injection["kind"] == "primary_kill" and injection["target"] == "pg-0"
    assert injection["rto_s"] is not None and 0 < injection["rto_s"] < 30  # the writes failed, then came back
    assert injection["requests_failed"] > 0

    timeline = summary["stateful"]["timeline"]
    kinds = [(event["type"], event["server"]) for event in timeline]
    kill = timeline[kinds.index(("primary_killed", "pg-0"))]
    failover = timeline[kinds.index(("failover", "pg-1"))]
    assert kill["t"] == pytest.approx(injection["started_at_s"], abs=0.5)  # both on the load clock
    assert kill["t"] < failover["t"] < summary["duration_s"]
    assert failover["detail"] == f"127.0.0.1:{seen['servers']['pg-0'][1]} → 127.0.0.1:{seen['servers']['pg-1'][1]}"
    [marked] = [entry for entry in run_events(run.pk)["timeline"] if entry["type"] == "failover"]
    assert marked["server"] == "pg-1"

    durability = summary["durability"]
    assert durability["mode"] == "sync" and "synchronous_mode" in durability["promise"]
    assert durability["acked"] > 0 and durability["failed"] > 0  # writes went on across the failover
    assert (durability["lost"], durability["unexpected"]) == (0, 0)  # Patroni's promise, checked
    assert not [reason for reason in run.verdict_reasons if reason.startswith("durability:")]
    print(f"\nprimary_kill postgres sync: RTO {injection['rto_s']} s, failover {failover['t'] - kill['t']:.2f} s "
          f"after the kill; durability {durability}; timeline {[(e['t'], e['event'], e['server']) for e in timeline]}")

    assert seen["pids"] and [name for name, pid in seen["pids"].items() if alive(pid)] == []
    assert not os.path.exists(seen["root"])
