"""Push mode (channels_redis): the run driver publishes each second to the group `run-<id>`; the
consumer, in the group before it read the backlog, forwards what is new and drops what the
backlog already sent. A Redis that is down never fails the run."""

from __future__ import annotations

import logging
import os
import uuid

import pytest
from channels.db import database_sync_to_async

from metrics_app.models import MetricSample
from metrics_app.services import publish_to_run, record_second
from tests.conftest import free_port
from tests.factories import LoadTestRunFactory
from tests.tests_app.live_stream_support import (  # noqa: F401 - release_db_connections is a fixture
    asession_cookie,
    awrite_second,
    communicator,
    receive,
    receive_opening,
    receive_samples,
    release_db_connections,
)
from tests_app import services
from tests_app.execution import SecondsFeed
from tests_app.models import LoadTestRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("release_db_connections")]
needs_redis = pytest.mark.needs_redis  # push mode

FAIR = {"pod-0-a": 10, "pod-1-b": 10}


def redis_layer(address: str) -> dict:
    # A prefix of its own: nothing else using this Redis database sees these groups.
    return {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                        "CONFIG": {"hosts": [address], "prefix": f"lblab-test-{uuid.uuid4().hex[:12]}"}}}


@pytest.fixture
def redis_channel_layer(settings):
    settings.CHANNEL_LAYERS = redis_layer(os.environ["REDIS_URL"])


@pytest.fixture
def running_run(alice):
    return LoadTestRunFactory(owner=alice, status=LoadTestRun.Status.RUNNING, target__pods=2)  # the pods of FAIR


def line(t: float, pods: dict[str, int], unattributed: int = 0) -> dict:
    """A sample line as Locust's plugin sends it to the run driver."""
    requests = sum(pods.values()) + unattributed
    return {"type": "sample", "t": t, "users": 4, "requests": requests, "failures": 0, "rps": float(requests),
            "failures_per_s": 0.0, "p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0, "max_ms": 4.0,
            "active_connections": 4, "pods": {name: {"requests": n, "failures": 0, "p95_ms": 2.0} for name, n in pods.items()},
            "unattributed": unattributed}


def record_lines(feed: SecondsFeed, lines: list[dict]) -> None:
    """As the run driver does with each line: the second, its live messages, recorded and published."""
    for sample_line in lines:
        second = feed.next(sample_line)
        record_second(run_id=feed.run.pk, t=second.t, totals=second.totals, pods=second.pods,
                      unattributed=second.unattributed, messages=second.messages)


record = database_sync_to_async(record_lines)


def sample_message(t: float) -> dict:
    return {"type": "sample", "t": t, "users": 1, "requests": 1, "failures": 0, "rps": 1.0, "failures_per_s": 0.0,
            "p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None, "active_connections": 1,
            "pods": {"pod-0-a": {"requests": 1, "failures": 0, "p95_ms": None, "cpu": None, "memory_bytes": None,
                                 "ready": True}}, "unattributed": 0, "score": 100.0}


@needs_redis
@pytest.mark.usefixtures("redis_channel_layer")
async def test_the_run_drivers_seconds_are_pushed_while_connected(running_run, alice):
    recorder = SecondsFeed(running_run, None)
    comm = communicator(running_run.pk, await asession_cookie(alice))
    try:
        await receive_opening(comm)
        await record(recorder, [line(1.0, FAIR, unattributed=2), line(2.0, FAIR), line(3.0, {"pod-0-a": 20, "pod-1-b": 0})])
        samples = await receive_samples(comm, 3)
    finally:
        await comm.disconnect()
    assert [s["t"] for s in samples] == [1.0, 2.0, 3.0]
    assert samples[0]["unattributed"] == 2 and set(samples[0]["pods"]) == set(FAIR)
    assert samples[0]["pods"]["pod-1-b"]["requests"] == 10
    assert samples[1]["score"] == pytest.approx(100.0)
    assert samples[2]["score"] < 100.0  # pod-1-b idle in the last second of the window


@needs_redis
@pytest.mark.usefixtures("redis_channel_layer")
async def test_pushed_seconds_the_backlog_already_sent_are_dropped(running_run, alice):
    for t in (1.0, 2.0, 3.0):
        await awrite_second(running_run, t, FAIR)
    comm = communicator(running_run.pk, await asession_cookie(alice))
    try:
        await receive_opening(comm)
        backlog = await receive_samples(comm, 3)
        # Published only, never written: only a push can deliver them.
        assert await database_sync_to_async(publish_to_run)(running_run.pk, [sample_message(2.0)])
        assert await database_sync_to_async(publish_to_run)(running_run.pk, [sample_message(4.0)])
        (pushed,) = await receive_samples(comm, 1)
    finally:
        await comm.disconnect()
    assert [s["t"] for s in backlog] == [1.0, 2.0, 3.0]
    assert pushed == sample_message(4.0)
    assert not await database_sync_to_async(MetricSample.objects.filter(run=running_run, t=4.0).exists)()


@needs_redis
@pytest.mark.usefixtures("redis_channel_layer")
async def test_the_finished_status_is_pushed(running_run, alice):
    comm = communicator(running_run.pk, await asession_cookie(alice))
    try:
        status, _ = await receive_opening(comm)
        assert status["status"] == "running"
        await database_sync_to_async(services.finish_run)(running_run, status=LoadTestRun.Status.PASSED, passed=True)
        finished = await receive(comm)
    finally:
        await comm.disconnect()
    assert finished["type"] == "status"
    assert (finished["status"], finished["finished"], finished["verdict_passed"]) == ("passed", True, True)


def test_a_redis_that_is_down_never_fails_the_run(running_run, settings, caplog):
    settings.CHANNEL_LAYERS = redis_layer(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    recorder = SecondsFeed(running_run, None)
    with caplog.at_level(logging.WARNING, logger="metrics_app.services"):
        record_lines(recorder, [line(1.0, FAIR)])
        assert publish_to_run(running_run.pk, [sample_message(2.0)]) is False
    assert MetricSample.objects.filter(run=running_run, t=1.0).exists()
    assert any("could not publish" in record.message for record in caplog.records)


@needs_redis
@pytest.mark.usefixtures("redis_channel_layer")
async def test_an_alert_is_pushed_after_the_sample_that_opened_it(running_run, alice):
    recorder = SecondsFeed(running_run, None)
    comm = communicator(running_run.pk, await asession_cookie(alice))
    try:
        await receive_opening(comm)
        await record(recorder, [line(float(t), {"pod-0-a": 30, "pod-1-b": 10, "pod-2-c": 10}) for t in range(1, 11)])
        samples = await receive_samples(comm, 10)
        alert = await receive(comm)
    finally:
        await comm.disconnect()
    assert samples[-1]["t"] == 10.0  # the first full window
    assert alert["type"] == "alert"
    assert (alert["start_t"], alert["end_t"], alert["worst_pod"]) == (10.0, None, "pod-0-a")
    assert alert["score"] == pytest.approx(samples[-1]["score"])
    assert alert["score"] < 95.0



class ScalingCluster:
    """A cluster that has scaled its Deployment once: all the run driver asks of it here."""

    usage_missing = ""

    def pod_metrics(self) -> dict:
        return {}

    def events(self, since: int = 0) -> list:
        from clusters.base import ClusterEvent, EventType

        scaled = ClusterEvent(seq=1, t=1000.5, type=str(EventType.SCALED),
                              details={"replicas": 3, "previous": 2, "by": "hpa"})
        return [scaled][since:]


@needs_redis
@pytest.mark.usefixtures("redis_channel_layer")
async def test_a_scale_change_is_pushed_with_the_whole_timeline(running_run, alice):
    feed = SecondsFeed(running_run, ScalingCluster())
    comm = communicator(running_run.pk, await asession_cookie(alice))

    def record_one():
        second = feed.next(line(1.0, FAIR), load_t0_unix=1000.0)
        record_second(run_id=running_run.pk, t=second.t, totals=second.totals, pods=second.pods,
                      unattributed=second.unattributed, messages=second.messages)

    try:
        await receive_opening(comm)
        await database_sync_to_async(record_one)()
        pushed = await receive(comm)
        while pushed["type"] != "events":
            pushed = await receive(comm)
    finally:
        await comm.disconnect()
    assert pushed["timeline"] == [{"t": 0.5, "type": "scaled", "replicas": 3, "previous": 2, "by": "hpa"}]
    assert pushed["chaos"] == [] and pushed["tuning"] == []
