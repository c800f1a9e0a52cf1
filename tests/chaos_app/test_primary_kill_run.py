"""A whole run on a stateful sandbox (`stateful=redis`, sync durability) whose primary is killed
under write load: the load's own writes (`POST /kv`) fail over the failover and the RTO is measured
from them; the failover (the kill, Sentinel's promotion, the old primary's return) is on the run's
timeline on the load clock; the durability probe's counts add up against what was read back; and
no process or data dir of the store is left once the run ended."""

from __future__ import annotations

import os

import pytest

from tests.chaos_app.stateful_support import primary_kill_run
from tests.clusters.test_sandbox_stateful import alive
from tests_app.selectors import report_figures, run_events

# solo: the Sentinels' failover and the old primary's return must fit in the run; beside another
# test on 2 cores they took longer than the load lasted once (no RTO within the run)
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300), pytest.mark.solo]


def test_primary_kill_under_sync_writes_is_measured_and_leaves_nothing(alice):
    run, seen = primary_kill_run(alice, "redis")
    summary = run.summary

    [injection] = summary["chaos"]
    assert injection["kind"] == "primary_kill" and injection["target"] == "redis-0"
    assert injection["rto_s"] is not None and injection["rto_s"] > 0  # the writes failed, then came back
    assert injection["requests_failed"] > 0

    timeline = summary["stateful"]["timeline"]
    kinds = [(event["type"], event["server"]) for event in timeline]
    kill = timeline[kinds.index(("primary_killed", "redis-0"))]
    failover = timeline[kinds.index(("failover", "redis-1"))]
    assert kill["t"] == pytest.approx(injection["started_at_s"], abs=0.5)  # both on the load clock
    assert kill["t"] < failover["t"] < summary["duration_s"]
    # and marked on the charts as it happened, as the live page drew it: the run's own timeline
    [marked] = [entry for entry in run_events(run.pk)["timeline"] if entry["type"] == "failover"]
    assert marked["server"] == "redis-1" and marked["t"] == pytest.approx(failover["t"], abs=0.01)
    throughput = report_figures(run)["throughput"]
    assert "failover to redis-1" in [note["text"] for note in throughput["layout"]["annotations"]]

    durability = summary["durability"]
    assert durability["mode"] == "sync" and "best effort" in durability["promise"]
    assert durability["acked"] > 0 and durability["failed"] > 0  # writes went on across the failover
    assert durability["lost"] == len(durability["lost_ids"])
    assert durability["unexpected"] == 0
    assert durability["recovered"] <= durability["failed"]
    lost_reason = [reason for reason in run.verdict_reasons if reason.startswith("durability:")]
    assert bool(lost_reason) == (durability["lost"] > 0)  # sync promises no loss: any loss fails the run
    print(f"\nprimary_kill sync: RTO {injection['rto_s']} s, failover at {failover['t'] - kill['t']:.2f} s after "
          f"the kill; durability {durability}")

    assert seen["pids"] and [name for name, pid in seen["pids"].items() if alive(pid)] == []
    assert not os.path.exists(seen["root"])
