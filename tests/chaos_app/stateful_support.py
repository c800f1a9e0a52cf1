"""A whole run on a stateful sandbox whose primary is killed under write load: what the Redis and
the PostgreSQL primary-kill run tests share."""

from __future__ import annotations

from clusters.sandbox.stateful import STORE_WRITES
from tests_app import services
from tests_app.models import LoadTestRun


def primary_kill_run(owner, store: str) -> tuple[LoadTestRun, dict]:
    """A 16 s run of 4 users writing (`POST /kv`) to 2 pods on `store` in `sync` durability, its
    primary killed at 3 s, to its end; and the store's status as the run started (pids, temp dir)."""
    seen: dict = {}

    def remember_the_store(events):
        events.start.add_listener(lambda ctx: seen.update(ctx.cluster.stateful()))

    run = services.submit_run(owner=owner, request=services.RunRequest(
        target={"kind": "sandbox", "pods": 2, "stateful": store, "durability": "sync"},
        scenario={"shape": "steady", "users": 4, "spawn_rate": 4, "duration_s": 16,
                  "request_mix": list(STORE_WRITES)},
        chaos=["primary_kill@3s:0s"]), queue=False)
    run = services.execute_run(run.pk, listeners=[remember_the_store])
    assert run.status in (LoadTestRun.Status.PASSED, LoadTestRun.Status.FAILED), run.error
    return run, seen
