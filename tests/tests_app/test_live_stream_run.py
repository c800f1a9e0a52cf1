"""End to end: a real run (the sandbox, a Locust subprocess, the run service) streams its seconds
to a connected client, which ends with the finished status. Push or tail, whichever the
environment configures (REDIS_URL or not)."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.db import connections

from metrics_app.models import MetricSample
from tests.factories import ScenarioFactory, TargetFactory
from tests.tests_app.live_stream_support import (  # noqa: F401 - release_db_connections is a fixture
    asession_cookie,
    communicator,
    receive,
    receive_opening,
    release_db_connections,
)
from tests_app import services
from tests_app.models import LoadTestRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("release_db_connections"),
              pytest.mark.timeout(240)]


@database_sync_to_async
def queued_run(owner) -> LoadTestRun:
    scenario = ScenarioFactory(owner=owner, users=4, spawn_rate=4, duration_s=3)
    target = TargetFactory(owner=owner, pods=2, algorithm="round_robin", service_time_ms=0.5)
    return services.submit_run(owner=owner, request=services.RunRequest(target=target, scenario=scenario), queue=False)


def execute(run_id: int) -> LoadTestRun:
    """The run task's work, in a thread of its own as a worker would do it."""
    try:
        return services.execute_run(run_id)
    finally:
        connections.close_all()


async def test_a_real_run_streams_every_second_then_its_finished_status(alice):
    run = await queued_run(alice)
    comm = communicator(run.pk, await asession_cookie(alice))
    try:
        status, _ = await receive_opening(comm)
        assert status["status"] == "queued"
        # Not asgiref's one thread for sync code: the consumer reads the database there meanwhile.
        running = asyncio.get_running_loop().run_in_executor(None, execute, run.pk)
        messages = []
        while not (messages and messages[-1]["type"] == "status" and messages[-1]["finished"]):
            messages.append(await receive(comm))
        finished_run = await running
    finally:
        await comm.disconnect()
    assert finished_run.status in (LoadTestRun.Status.PASSED, LoadTestRun.Status.FAILED), finished_run.error
    samples = [m for m in messages if m["type"] == "sample"]
    recorded = await database_sync_to_async(
        lambda: list(MetricSample.objects.filter(run=run).order_by("t").values_list("t", "requests"))
    )()
    assert [(s["t"], s["requests"]) for s in samples] == recorded  # every second, once, in order
    assert len(samples) >= 3
    assert sum(s["requests"] for s in samples) == finished_run.summary["requests"] > 0
    assert all(len(s["pods"]) == 2 for s in samples)
    assert any(s["score"] is not None for s in samples)
    final = messages[-1]
    assert (final["status"], final["verdict_passed"], final["verdict_reasons"]) == (
        finished_run.status, finished_run.verdict_passed, finished_run.verdict_reasons)
