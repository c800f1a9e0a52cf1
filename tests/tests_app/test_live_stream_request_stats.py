"""The per-endpoint and failures tables on the live stream: a `request_stats` message with the
run so far, after the backlog on connect (so a reload shows them at once), then each time they
change, by the database tail or pushed by the run driver."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from channels.db import database_sync_to_async

from metrics_app import run_listeners
from metrics_app.services import record_second
from tests.factories import LoadTestRunFactory
from tests.tests_app.live_stream_support import (  # noqa: F401 - release_db_connections is a fixture
    asession_cookie,
    communicator,
    receive,
    receive_opening,
    receive_samples,
    release_db_connections,
)
from tests.tests_app.test_live_stream_push import needs_redis, redis_channel_layer  # noqa: F401 - a fixture
from tests_app.execution import SecondsFeed
from tests_app.models import LoadTestRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("release_db_connections")]

TOTALS = {"users": 2, "requests": 20, "failures": 2, "rps": 20.0, "failures_per_s": 2.0, "active_connections": 2}
PODS = {"pod-0-a": {"requests": 10, "failures": 1, "p95_ms": 2.0}, "pod-1-b": {"requests": 10, "failures": 1, "p95_ms": 2.0}}


def tables(t: float) -> tuple[list, list]:
    n = int(t)
    # /broken first: the mix's order must survive the database (PostgreSQL's jsonb sorts object keys)
    endpoints = [{"endpoint": "GET /broken", "requests": 2 * n, "failures": 2 * n, "rps": 2.0, "failures_per_s": 2.0,
                  "p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0, "max_ms": 4.0},
                 {"endpoint": "GET /api/items", "requests": 18 * n, "failures": 0, "rps": 18.0, "failures_per_s": 0.0,
                  "p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0, "max_ms": 4.0}]
    errors = [{"endpoint": "GET /broken", "type": "HTTPError", "status": 503, "message": "<b>Service</b> Unavailable",
               "count": 2 * n, "first_s": 0.1, "last_s": t - 0.1}]
    return endpoints, errors


@database_sync_to_async
def record(run, t: float) -> None:
    endpoints, errors = tables(t)
    record_second(run_id=run.pk, t=t, totals=TOTALS, pods=PODS, unattributed=0, endpoints=endpoints, errors=errors)


def expected(t: float) -> dict:
    endpoints, errors = tables(t)
    return {"type": "request_stats", "t": t, "endpoints": endpoints, "errors": errors}


@pytest.fixture
def in_memory_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


async def test_a_reload_gets_the_tables_after_the_backlog(alice):
    run = await database_sync_to_async(LoadTestRunFactory)(owner=alice, status=LoadTestRun.Status.PASSED)
    for t in (1.0, 2.0, 3.0):
        await record(run, t)
    comm = communicator(run.pk, await asession_cookie(alice))
    try:
        await receive_opening(comm)
        await receive_samples(comm, 3)
        assert await receive(comm) == expected(3.0)
        assert await comm.receive_nothing(timeout=1.0)
    finally:
        await comm.disconnect()


@pytest.mark.usefixtures("in_memory_layer")
async def test_the_database_tail_sends_the_tables_each_time_they_change(alice):
    run = await database_sync_to_async(LoadTestRunFactory)(owner=alice, status=LoadTestRun.Status.RUNNING)
    await record(run, 1.0)
    comm = communicator(run.pk, await asession_cookie(alice))
    try:
        await receive_opening(comm)
        await receive_samples(comm, 1)
        assert await receive(comm) == expected(1.0)
        await record(run, 2.0)
        await receive_samples(comm, 1)
        assert await receive(comm) == expected(2.0)
        assert await comm.receive_nothing(timeout=1.0)  # unchanged tables are not sent again
    finally:
        await comm.disconnect()


@needs_redis
@pytest.mark.usefixtures("redis_channel_layer")
async def test_the_run_driver_pushes_the_tables_with_each_second(alice):
    run = await database_sync_to_async(LoadTestRunFactory)(owner=alice, status=LoadTestRun.Status.RUNNING)
    feed = SecondsFeed(run, None)

    @database_sync_to_async
    def drive_one(t: float) -> None:
        endpoints, errors = tables(t)
        line = {"type": "sample", "t": t, **TOTALS, "p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0, "max_ms": 4.0,
                "pods": PODS, "unattributed": 0, "endpoints": endpoints, "errors": errors}
        run_listeners.record(SimpleNamespace(run_id=run.pk), feed.next(line))  # as every run records a second

    comm = communicator(run.pk, await asession_cookie(alice))
    try:
        await receive_opening(comm)
        await drive_one(1.0)
        # Pushed as [sample, request_stats]; a consumer still reading its backlog may have read
        # these tables from the database first (then the pushed copy is dropped): either order.
        messages = {message["type"]: message for message in [await receive(comm), await receive(comm)]}
        assert messages["sample"]["t"] == 1.0
        assert messages["request_stats"] == expected(1.0)
        assert await comm.receive_nothing(timeout=1.0)
    finally:
        await comm.disconnect()
