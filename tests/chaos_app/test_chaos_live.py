"""Each injection and its end reach the run's live viewers as they happen: pushed as the live
protocol's `events` message (channels_redis), and read from the database by a tailing consumer."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from chaos_app.run_listeners import InjectionRecorder
from clusters.faults import parse_step
from tests.factories import LoadTestRunFactory
from tests.tests_app.live_stream_support import (  # noqa: F401 - release_db_connections is a fixture
    asession_cookie,
    communicator,
    receive,
    receive_opening,
    release_db_connections,
)
from tests.tests_app.test_live_stream_push import redis_channel_layer  # noqa: F401 - a fixture
from tests_app.models import LoadTestRun
from tests_app.run_listeners import publish_events

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("release_db_connections")]

STEP = parse_step("latency@3s:2s:high:pod-1")


@pytest.fixture
def running_run(alice):
    return LoadTestRunFactory(owner=alice, status=LoadTestRun.Status.RUNNING, target__pods=2,
                              chaos=[STEP.to_spec()])


async def next_events(comm) -> dict:
    while True:
        message = await receive(comm)
        if message["type"] == "events":
            return message


@pytest.mark.needs_redis
@pytest.mark.usefixtures("redis_channel_layer")
async def test_an_injection_and_its_end_are_pushed_as_they_happen(running_run, alice):
    recorder = InjectionRecorder(running_run.pk, publish_events)
    comm = communicator(running_run.pk, await asession_cookie(alice))
    try:
        await receive_opening(comm)
        await database_sync_to_async(recorder.injected)(0, STEP, ["pod-1-ab12c"], 3.012)
        started = await next_events(comm)
        await database_sync_to_async(recorder.ended)(0, 5.013, rolled_back=True)
        ended = await next_events(comm)
    finally:
        await comm.disconnect()
    (injection,) = started["chaos"]
    assert (injection["kind"], injection["target"], injection["started_at_s"], injection["ended_at_s"]) == (
        "latency", "pod-1-ab12c", 3.012, None)
    assert ended["chaos"][0]["ended_at_s"] == 5.013 and ended["chaos"][0]["rolled_back"] is True


async def test_a_tailing_viewer_reads_the_injection_from_the_database(running_run, alice, settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    recorder = InjectionRecorder(running_run.pk, lambda run_id: None)  # nothing pushed: the in-memory layer
    comm = communicator(running_run.pk, await asession_cookie(alice))
    try:
        await receive_opening(comm)
        await database_sync_to_async(recorder.injected)(0, STEP, ["pod-1-ab12c"], 3.012)
        started = await next_events(comm)
    finally:
        await comm.disconnect()
    assert started["chaos"][0]["started_at_s"] == 3.012
