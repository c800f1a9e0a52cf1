"""The live recovery listener (tests_app.live_recovery) fed a run's seconds by hand: it stores and
publishes an injection's figures when its RTO becomes known, takes them back when a later 100 ms
outside the steady state moves the RTO, computes only what is still open and only from the
buckets since the injection, and ends with the summary's figures."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from chaos_app.models import ChaosInjection
from clusters.balance import ExpectedPods
from tests.factories import ChaosInjectionFactory, LoadTestRunFactory
from tests.metrics_app.test_recovery_figures import bucket
from tests_app import live_recovery
from tests_app.live_recovery import LIVE_FIGURES, LiveRecovery, RecoveryTerms
from tests_app.run_events import RunContext, Second

pytestmark = pytest.mark.django_db

PODS = ["pod-0", "pod-1", "pod-2", "pod-3"]


KILL = {"step": 0, "kind": "pod_kill", "target": "pod-1", "started_at_s": 2.0, "ended_at_s": 2.0}
LATENCY = {"step": 1, "kind": "latency", "target": "pod-2", "started_at_s": 7.0, "ended_at_s": 7.0}


def killed(t: float) -> dict:
    """pod-1 killed at 2.0: its share fails for 200 ms; one more 100 ms of failures at 7.5."""
    return {"failures": 10} if 2.0 <= t < 2.2 or t == 7.5 else {}


class NoEvents:
    def events(self, since):
        return []


SANDBOX = NoEvents()  # a cluster that logged nothing


def feed(monkeypatch, injections=(KILL,), shape=killed, seconds=14, cluster=SANDBOX) -> SimpleNamespace:
    """The listener fed `seconds` seconds of 4 pods' buckets, each injection recorded as it starts."""
    run = LoadTestRunFactory(chaos=["pod_kill@2s:0s::pod-1"])
    computed = []  # (end_s, the first bucket's t) of each computation
    figures = live_recovery.injection_figures

    def counted(injection, buckets, **kwargs):
        computed.append((kwargs["end_s"], float(buckets[0]["t"])))
        return figures(injection, buckets, **kwargs)

    monkeypatch.setattr(live_recovery, "injection_figures", counted)
    published, rows = [], {}
    ctx = RunContext(run_id=run.pk, scenario=run.scenario_spec, cluster=cluster,
                     live=SimpleNamespace(expected=ExpectedPods(named=tuple(PODS), count=4)),
                     chaos=SimpleNamespace(steps=["pod_kill@2s:0s::pod-1"]), load_t0_unix=1000.0)
    listener = LiveRecovery(lambda run_id: published.append(run_id))
    listener.start(ctx)
    for t in range(1, seconds + 1):
        for injection in injections:  # recorded at its start, before the second holding it was measured
            if t - 1 <= injection["started_at_s"] < t:
                ChaosInjectionFactory(run=run, **injection, rollback=ChaosInjection.Rollback.ROLLED_BACK)
        ctx.buckets.extend(bucket(i / 10, pods=PODS, **shape(round(i / 10, 1))) for i in range((t - 1) * 10, t * 10))
        listener.second(ctx, Second(t=float(t), totals={}, pods={}, unattributed=0))
        rows[t] = {row["step"]: row for row in ChaosInjection.objects.filter(run=run).values("step", *LIVE_FIGURES)}
    return SimpleNamespace(run=run, ctx=ctx, published=published, rows=rows, computed=computed)


def summary_of(fed, end_s: float) -> dict[int, dict]:
    terms = RecoveryTerms.of_run(fed.run.chaos_settings, threshold_balance=fed.ctx.scenario.threshold_balance,
                                 expected=fed.ctx.live.expected)
    applied = [{key: getattr(row, key) for key in ("step", "kind", "target", "started_at_s", "ended_at_s")}
               for row in ChaosInjection.objects.filter(run=fed.run)]
    section = terms.section(applied, fed.ctx.buckets, events=[], end_s=end_s)
    return {item["step"]: {name: item[name] if name != "reason" else item[name] or "" for name in LIVE_FIGURES}
            for item in section}


@pytest.fixture
def fed(monkeypatch):
    fed = feed(monkeypatch)
    fed.rows = {t: rows.get(0) for t, rows in fed.rows.items()}
    return fed


def test_the_rto_is_stored_and_published_once_known_then_taken_back_when_it_moves(fed):
    rtos = [fed.rows[t]["rto_s"] if fed.rows[t] else None for t in range(3, 15)]
    assert rtos == [None] * 3 + [0.2, 0.2] + [None] * 3 + [5.6] * 4
    # recovered at 2.2 (window 2.2-5.2, measured with the sample of t=6); 7.5 failed (t=8): at 7.6
    assert fed.rows[6]["requests_failed"] == 20 and fed.rows[6]["availability"] == 0.75  # 2.0 to 2.2: 20 of 80
    assert fed.rows[11]["requests_failed"] == 30  # 2.0 to 7.6: 56 buckets of 40 requests
    assert fed.rows[11]["availability"] == round(1 - 30 / (56 * 40), 6)
    assert len(fed.published) == 3  # recovered, taken back, recovered again


def test_only_open_injections_are_computed_and_only_from_their_buckets(fed):
    seconds = [end_s for end_s, _ in fed.computed]
    # not at t=7 (recovered at t=6, nothing new outside the steady state), nor after t=11
    assert seconds == [3.0, 4.0, 5.0, 6.0, 8.0, 9.0, 10.0, 11.0]
    assert {first for _, first in fed.computed} == {2.0}


def test_the_live_figures_are_the_summarys(fed):
    final = summary_of(fed, 14.0)[0]
    assert {name: value for name, value in fed.rows[14].items() if name != "step"} == final
    assert final["rto_s"] == 5.6


def test_failures_after_the_next_injection_are_its_own(monkeypatch):
    fed = feed(monkeypatch, injections=(KILL, LATENCY))
    # the 100 ms at 7.5 failed after the latency step began: the kill's recovery at 2.2 stands
    assert [fed.rows[t][0]["rto_s"] for t in (6, 8, 14)] == [0.2, 0.2, 0.2]
    assert fed.rows[14][1]["rto_s"] == 0.6  # 7.0 to 7.6
    final = summary_of(fed, 14.0)
    assert {step: {name: value for name, value in row.items() if name != "step"}
            for step, row in fed.rows[14].items()} == final


def test_a_run_without_a_cluster_gets_its_figures_from_the_load_alone(monkeypatch):
    # a URL target's step that injects nothing: no cluster, so no healing, the rest as ever
    fed = feed(monkeypatch, cluster=None, seconds=7)
    assert fed.rows[6][0]["rto_s"] == 0.2 and fed.rows[6][0]["healing_s"] is None
    assert fed.published == [fed.run.pk]
