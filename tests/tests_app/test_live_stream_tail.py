"""Tail mode (the in-memory channel layer: the worker's group messages never reach the web process):
the consumer reads new seconds, status and events from the database, and stops reading once
the run is finished."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from tests.factories import LoadTestRunFactory, TuningDecisionFactory
from tests.tests_app.live_stream_support import (  # noqa: F401 - release_db_connections is a fixture
    asession_cookie,
    awrite_second,
    communicator,
    receive,
    receive_opening,
    receive_samples,
    release_db_connections,
)
from tests_app import consumers, services
from tests_app.models import LoadTestRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("release_db_connections")]

FAIR = {"pod-0-a": 10, "pod-1-b": 10}


@pytest.fixture(autouse=True)
def in_memory_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture
def running_run(alice):
    return LoadTestRunFactory(owner=alice, status=LoadTestRun.Status.RUNNING, target__pods=2)  # the pods of FAIR


async def test_seconds_written_while_connected_arrive_in_order(running_run, alice):
    comm = communicator(running_run.pk, await asession_cookie(alice))
    try:
        status, _ = await receive_opening(comm)
        assert (status["status"], status["finished"]) == ("running", False)
        for t in (1.0, 2.0, 3.0):
            await awrite_second(running_run, t, FAIR)
        samples = await receive_samples(comm, 3)
        await awrite_second(running_run, 4.0, {"pod-0-a": 20, "pod-1-b": 0})
        (fourth,) = await receive_samples(comm, 1)
    finally:
        await comm.disconnect()
    assert [s["t"] for s in samples] == [1.0, 2.0, 3.0]
    assert samples[0]["pods"]["pod-0-a"]["requests"] == 10
    assert fourth["t"] == 4.0
    assert fourth["pods"]["pod-1-b"]["requests"] == 0
    assert fourth["score"] < samples[-1]["score"]


async def test_a_reconnect_with_since_gets_exactly_the_gap(running_run, alice):
    cookie = await asession_cookie(alice)
    for t in (1.0, 2.0):
        await awrite_second(running_run, t, FAIR)
    comm = communicator(running_run.pk, cookie)
    try:
        await receive_opening(comm)
        seen = [s["t"] for s in await receive_samples(comm, 2)]
    finally:
        await comm.disconnect()
    for t in (3.0, 4.0, 5.0):  # recorded while the client was away
        await awrite_second(running_run, t, FAIR)
    comm = communicator(running_run.pk, cookie, since=seen[-1])
    try:
        await receive_opening(comm)
        gap = [s["t"] for s in await receive_samples(comm, 3)]
        await awrite_second(running_run, 6.0, FAIR)
        (live,) = await receive_samples(comm, 1)
    finally:
        await comm.disconnect()
    assert gap == [3.0, 4.0, 5.0]
    assert live["t"] == 6.0


async def test_events_and_the_finished_status_follow_the_database_then_reading_stops(running_run, alice, monkeypatch):
    reads = []
    original = consumers.samples_since

    def counted(*args, **kwargs):
        reads.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(consumers, "samples_since", counted)
    comm = communicator(running_run.pk, await asession_cookie(alice))
    try:
        await receive_opening(comm)
        decision = await database_sync_to_async(TuningDecisionFactory)(run=running_run, t=1.0)
        events = await receive(comm)
        assert events["type"] == "events"
        assert [item["t"] for item in events["tuning"]] == [decision.t]
        await awrite_second(running_run, 1.0, FAIR)
        await database_sync_to_async(services.finish_run)(
            running_run, status=LoadTestRun.Status.FAILED, passed=False, reasons=["balance 40 % under 95 %"]
        )
        (last,) = await receive_samples(comm, 1)
        finished = await receive(comm)
        assert last["t"] == 1.0
        assert finished["type"] == "status"
        assert (finished["status"], finished["finished"], finished["verdict_passed"], finished["verdict_reasons"]) == (
            "failed", True, False, ["balance 40 % under 95 %"])
        reads_when_finished = len(reads)
        await asyncio.sleep(consumers.TAIL_INTERVAL_S * 4)  # several ticks of the tail loop, had it gone on
        assert len(reads) == reads_when_finished
        assert await comm.receive_nothing(timeout=0.5)
    finally:
        await comm.disconnect()
