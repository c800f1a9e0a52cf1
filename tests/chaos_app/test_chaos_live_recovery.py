"""A pod kill's recovery figures reach the run's live viewers while the run goes on, and they are
the figures of the run's summary: one computation (metrics_app.recovery over the run's buckets).
A real run: the sandbox, a Locust subprocess, the run service; the live `events` messages are
caught where the run hands them to the channel layer."""

from __future__ import annotations

import pytest

from tests.chaos_app.test_chaos_runs import chaos_run
from tests_app import run_listeners
from tests_app.live_recovery import LIVE_FIGURES

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]


def test_a_pod_kills_recovery_is_sent_live_and_equals_the_summary(alice, sandbox_at_close, monkeypatch):
    heard = []  # the seconds the run has measured, then "stop" once the load has ended
    sent = []  # (the seconds heard when it was sent, the injection as the `events` message carried it)

    def catch(run_id, messages):
        sent.extend((list(heard), message["chaos"][0]) for message in messages
                    if message["type"] == "events" and message["chaos"])

    def listen(events):
        events.second.add_listener(lambda ctx, second: heard.append(second.t))
        events.stop.add_listener(lambda ctx: heard.append("stop"))

    monkeypatch.setattr(run_listeners, "publish_to_run", catch)
    # 40 users on 4 pods of 50 ms, no retries: the victim's requests in flight fail
    run = chaos_run(alice, retries=0, users=40, service_time_ms=50.0, chaos=["pod_kill@3s:0s::pod-1"],
                    duration_s=14, listeners=[listen])
    assert sandbox_at_close.left == [""]
    final = run.summary["chaos"][0]
    assert final["rto_s"] is not None and final["requests_failed"] > 0, final

    during = [(seconds, injection) for seconds, injection in sent if "stop" not in seconds]
    recovered = [(seconds, injection) for seconds, injection in during if injection["rto_s"] is not None]
    assert recovered, [injection for _, injection in sent]
    first_seconds, first = recovered[0]
    # sent as soon as the 3 s window after the recovery was measured, seconds before the load ended
    assert first_seconds[-1] < run.summary["duration_s"] - 1
    assert first["recovered_at_s"] + 3.0 <= first_seconds[-1] + 1.0
    # the figures viewers saw are the summary's: RTO, failed requests, availability, p95 during...
    _, last = recovered[-1]
    assert {name: last[name] for name in LIVE_FIGURES} == {name: final[name] for name in LIVE_FIGURES}
    # healing and balance recovery were known live too (the replacement took its share in time)
    assert last["healing_s"] is not None and last["balance_recovery_s"] is not None
    assert last["p95_after_ms"] is None and final["p95_after_ms"] is not None  # to the load's end: the summary's
