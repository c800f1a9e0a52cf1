"""What a client gets on connect: status, events, then every recorded second after `since`,
oldest first, scored as if it had watched from the start, alerts included."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from chaos_app.models import ChaosInjection
from clusters.balance import analyse
from metrics_app.live import LiveSeries
from metrics_app.selectors import samples_since
from metrics_app.summary import WINDOW_S
from tests.factories import ChaosInjectionFactory, LoadTestRunFactory, TuningDecisionFactory
from tests.tests_app.live_stream_support import (  # noqa: F401 - release_db_connections is a fixture
    asession_cookie,
    communicator,
    receive,
    receive_opening,
    receive_samples,
    release_db_connections,
    write_second,
)
from tests_app.models import LoadTestRun
from tests_app.selectors import started_at_text

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("release_db_connections")]

FAIR = {"pod-0-a": 10, "pod-1-b": 10, "pod-2-c": 10}
SKEWED = {"pod-0-a": 30, "pod-1-b": 0, "pod-2-c": 0}


@database_sync_to_async
def finished_run(owner, rows: list[dict]) -> LoadTestRun:
    """A passed run whose seconds 1..len(rows) are recorded: nothing more will come."""
    run = LoadTestRunFactory(owner=owner, status=LoadTestRun.Status.PASSED, verdict_passed=True,
                             scenario_config__threshold_balance=95.0, target__pods=3)  # the 3 pods of FAIR
    for index, counts in enumerate(rows):
        write_second(run, float(index + 1), counts, unattributed=index % 3)
    return run


async def read_to_end(comm, count: int) -> list[dict]:
    """`count` messages, then check the stream says nothing more (the run is finished)."""
    messages = [await receive(comm) for _ in range(count)]
    assert await comm.receive_nothing(timeout=1.0)
    return messages


async def test_connect_sends_status_events_then_every_second_oldest_first(alice):
    run = await finished_run(alice, [FAIR] * 5)
    comm = communicator(run.pk, await asession_cookie(alice))
    try:
        status, events = await receive_opening(comm)
        samples = await receive_samples(comm, 5)
        assert await comm.receive_nothing(timeout=1.0)
    finally:
        await comm.disconnect()
    assert status == {"type": "status", "run": run.pk, "status": "passed", "started_at": started_at_text(run),
                      "threshold": 95.0, "window_s": WINDOW_S,
                      "duration_s": float(run.scenario_config["duration_s"]), "verdict_passed": True,
                      "verdict_reasons": [], "finished": True}
    assert events == {"type": "events", "chaos": [], "tuning": [], "timeline": []}
    assert [s["t"] for s in samples] == [1.0, 2.0, 3.0, 4.0, 5.0]
    first = samples[0]
    assert set(first["pods"]) == set(FAIR)  # the unattributed row is a count apart
    assert [s["unattributed"] for s in samples] == [0, 1, 2, 0, 1]
    assert first["pods"]["pod-1-b"] == {"requests": 10, "failures": 0, "p95_ms": 3.0, "cpu": 0.1,
                                        "memory_bytes": 1 << 20, "ready": True}
    assert (first["requests"], first["users"], first["p95_ms"]) == (30, 10, 3.0)
    assert all(s["score"] == pytest.approx(100.0) for s in samples)


async def test_since_sends_only_later_seconds_with_their_full_window(alice):
    rows = [{"pod-0-a": 10 + i % 5, "pod-1-b": 10, "pod-2-c": 8 + i % 3} for i in range(30)]
    run = await finished_run(alice, rows)
    comm = communicator(run.pk, await asession_cookie(alice), since=20.0)
    try:
        await receive_opening(comm)
        samples = await receive_samples(comm, 10)
        assert await comm.receive_nothing(timeout=1.0)
    finally:
        await comm.disconnect()
    assert [s["t"] for s in samples] == [float(t) for t in range(21, 31)]
    for sample in samples:  # scored over the 10 s before it, read back from before `since`
        index = int(sample["t"]) - 1
        window = rows[index - WINDOW_S + 1: index + 1]
        sums = {pod: sum(row[pod] for row in window) for pod in FAIR}
        assert sample["score"] == pytest.approx(analyse(sums).score, abs=1e-9)


async def test_events_list_the_runs_chaos_and_tuning(alice):
    run = await finished_run(alice, [FAIR])
    injection = await database_sync_to_async(ChaosInjectionFactory)(
        run=run, step=0, kind="pod_kill", target="pod-1-b", severity="high", started_at_s=3.0, ended_at_s=3.0,
        recovered_at_s=5.5, rto_s=2.5, rollback=ChaosInjection.Rollback.ROLLED_BACK,
    )
    decision = await database_sync_to_async(TuningDecisionFactory)(
        run=run, t=12.0, score_before=41.0, score_after=98.7, outcome="improved"
    )
    comm = communicator(run.pk, await asession_cookie(alice))
    try:
        _, events = await receive_opening(comm)
    finally:
        await comm.disconnect()
    (listed,) = events["chaos"]
    assert listed.items() >= {"id": injection.pk, "kind": "pod_kill", "target": "pod-1-b", "severity": "high",
                              "started_at_s": 3.0, "ended_at_s": 3.0, "recovered_at_s": 5.5, "rto_s": 2.5,
                              "rolled_back": True}.items()
    assert {"healing_s", "availability", "passed", "reason"} <= set(listed)  # the figures, once measured
    assert events["tuning"] == [{"t": 12.0, "action": "set_algorithm", "from": decision.before, "to": decision.after,
                                 "score_before": 41.0, "score_after": 98.7, "outcome": "improved",
                                 "reason": decision.reason, "view": "requests", "predicted_score": None,
                                 "prediction_error": None, "p95_before_ms": None, "p95_after_ms": None}]


async def test_alerts_are_in_the_backlog_where_they_happened(alice):
    run = await finished_run(alice, [FAIR] * 12 + [SKEWED] * 5 + [FAIR] * 15)
    comm = communicator(run.pk, await asession_cookie(alice))
    try:
        await receive_opening(comm)
        messages = await read_to_end(comm, 32 + 2)
    finally:
        await comm.disconnect()
    assert messages == await replay(run)
    alerts = [m for m in messages if m["type"] == "alert"]
    assert [(a["start_t"], a["end_t"] is None) for a in alerts] == [(13.0, True), (13.0, False)]


async def test_a_reconnect_inside_an_alert_closes_it_with_the_start_the_client_knows(alice):
    # the imbalance lasts far longer than one window: its start lies well before since - window
    run = await finished_run(alice, [FAIR] * 12 + [SKEWED] * 40 + [FAIR] * 15)
    comm = communicator(run.pk, await asession_cookie(alice), since=40.0)
    try:
        await receive_opening(comm)
        messages = await read_to_end(comm, 27 + 1)
    finally:
        await comm.disconnect()
    (closed,) = [m for m in messages if m["type"] == "alert"]
    assert closed["start_t"] == 13.0  # as the client was told when it opened
    assert closed["end_t"] > 40.0
    assert messages == [m for m in await replay(run) if happened_at(m) > 40.0]


@database_sync_to_async
def replay(run: LoadTestRun) -> list[dict]:
    """Every message of the run as a client that watched it from the start got them."""
    series = LiveSeries(run.scenario_config["threshold_balance"], WINDOW_S)
    return [message for second in samples_since(run.pk, -1.0) for message in series.feed(second)]


def happened_at(message: dict) -> float:
    if message["type"] == "sample":
        return message["t"]
    return message["start_t"] if message["end_t"] is None else message["end_t"]
