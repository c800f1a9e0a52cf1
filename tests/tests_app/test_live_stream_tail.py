"""Tail mode (the in-memory channel layer: the worker's group messages never reach the web process):
the consumer reads new seconds, status and events from the database, and stops reading once
the run is finished."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from metrics_app.selectors import samples_since
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
from tests_app.selectors import live_series_for

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


@database_sync_to_async
def replace_pod(run, old: str, new: str) -> None:
    """What the run driver does when the cluster logs a replacement, before recording its second."""
    LoadTestRun.objects.filter(pk=run.pk).update(replaced_pods={old: new})


@database_sync_to_async
def replayed_scores(run) -> list[float | None]:
    """The scores a replay of the recorded seconds gives (the report, a later page load)."""
    run = LoadTestRun.objects.select_related("target").get(pk=run.pk)
    series = live_series_for(run)
    return [series.feed(second)[0]["score"] for second in samples_since(run.pk, -1.0, limit=100)]


async def test_a_pod_replaced_while_connected_is_retired_as_the_driver_retires_it(running_run, alice):
    comm = communicator(running_run.pk, await asession_cookie(alice))
    try:
        await receive_opening(comm)
        for t in (1.0, 2.0, 3.0):
            await awrite_second(running_run, t, FAIR)
        samples = await receive_samples(comm, 3)
        # pod-1-b killed; pod-1-c replaced it and serves its share from second 4
        await replace_pod(running_run, "pod-1-b", "pod-1-c")
        for t in range(4, 16):
            await awrite_second(running_run, float(t), {"pod-0-a": 10, "pod-1-c": 10})
        while len(samples) < 15:  # the kill's balance alert opens and closes among them
            message = await receive(comm)
            samples += [message] if message["type"] == "sample" else []
    finally:
        await comm.disconnect()
    scores = [sample["score"] for sample in samples]
    # the windows that hold the replacement's arrival still judge the dead name ...
    assert scores[3] < 95.0 and scores[11] < 100.0
    # ... the first window that starts with it there judges the two live pods: even
    assert scores[12:] == [pytest.approx(100.0)] * 3
    assert await replayed_scores(running_run) == scores
