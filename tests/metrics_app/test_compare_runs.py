"""compare_runs reads each run's recorded seconds from the database: the series it builds are the
live stream's, whichever way the rows are read (PostgreSQL's grouped read or row by row)."""

import numpy as np
import pytest

from metrics_app.comparison import RunSeconds
from metrics_app.models import CompareSeries, MetricSample, PodSample
from metrics_app.selectors import run_seconds_arrays, samples_since
from tests.factories import LoadTestRunFactory, TargetFactory
from tests_app.selectors import live_series_for
from tests_app.services import runs_comparison as compare_runs

pytestmark = pytest.mark.django_db


def record(run, seconds):
    """seconds: [(t, {pod: requests})]; the MetricSample totals are the pods' sums."""
    for t, pods in seconds:
        total = sum(pods.values())
        MetricSample.objects.create(run=run, t=t, requests=total, rps=float(total), p95_ms=2.0 + t)
        PodSample.objects.bulk_create(PodSample(run=run, t=t, pod=pod, requests=n) for pod, n in pods.items())


def uneven_history(pod_names=("pod-a", "pod-b", "pod-c")):
    a, b, c = pod_names
    seconds = [(float(t), {a: 40, b: 40}) for t in range(8)]
    seconds += [(float(t), {a: 40, b: 10, c: 30, "unattributed": 7}) for t in range(8, 20)]
    seconds += [(20.0, {}), (21.0, {a: 0, b: 0, c: 0})]
    return seconds


def assert_same_seconds(got: RunSeconds, want: RunSeconds):
    assert got.t.tolist() == want.t.tolist()
    assert got.rps.tolist() == want.rps.tolist()
    assert set(got.pods) == set(want.pods)
    order = [got.pods.index(pod) for pod in want.pods]
    assert np.array_equal(got.counts[:, order], want.counts)
    assert got.first_seen[order].tolist() == want.first_seen.tolist()


def test_read_seconds_are_those_samples_since_gives():
    run = LoadTestRunFactory()
    record(run, uneven_history())
    PodSample.objects.create(run=run, t=99.0, pod="pod-a", requests=5)  # a pod row without its second: left out
    got = run_seconds_arrays(run.pk)
    assert_same_seconds(got, RunSeconds.from_seconds(samples_since(run.pk, -1.0)))
    assert "unattributed" not in got.pods and got.t.size == 22


def test_pod_names_with_any_character_read_the_same():
    run = LoadTestRunFactory()
    names = ("web\x1f1", "web,2", "wéb 3")  # \x1f is what the PostgreSQL read joins names with
    record(run, uneven_history(names))
    assert_same_seconds(run_seconds_arrays(run.pk), RunSeconds.from_seconds(samples_since(run.pk, -1.0)))


def test_series_score_is_what_the_live_stream_sent():
    # sandboxes of as many pods as their seconds show (a sandbox reports every pod it runs)
    first, second = LoadTestRunFactory(target__pods=3), LoadTestRunFactory(target__pods=2)
    record(first, uneven_history())
    record(second, [(float(t), {"pod-a": 30, "pod-b": 30}) for t in range(5)])
    compared = compare_runs([first, second])
    live = live_series_for(first)
    sent = [live.feed(s)[0]["score"] for s in samples_since(first.pk, -1.0)]
    got = compared["series"][str(first.pk)]["score"]
    assert [g is None for g in got] == [s is None for s in sent]
    assert [g for g in got if g is not None] == pytest.approx([s for s in sent if s is not None], abs=0.005)
    assert compared["series"][str(second.pk)]["score"] == [100.0] * 5


def test_weighted_target_scores_with_its_shares():
    target = TargetFactory(pods=2, weights={"pod-a": 3, "pod-b": 1})
    run = LoadTestRunFactory(owner=target.owner, target=target)
    other = LoadTestRunFactory(owner=target.owner, target__pods=2)
    record(run, [(float(t), {"pod-a": 75, "pod-b": 25}) for t in range(4)])
    record(other, [(float(t), {"pod-a": 75, "pod-b": 25}) for t in range(4)])
    compared = compare_runs([run, other])
    assert compared["series"][str(run.pk)]["score"] == [100.0] * 4  # exactly the expected 3:1
    assert compared["series"][str(other.pk)]["score"][0] < 50  # the same counts judged as equal shares


def test_runs_in_the_order_given_with_their_summaries_and_the_first_threshold():
    first = LoadTestRunFactory(summary={"rps": 100.0, "balance": {"score": 99.0, "threshold": 90.0}})
    second = LoadTestRunFactory(owner=first.owner, summary={"rps": 150.0, "balance": {"score": 97.0, "threshold": 95.0}})
    compared = compare_runs([second, first])
    assert [run["id"] for run in compared["runs"]] == [second.pk, first.pk]
    assert compared["threshold"] == 95.0
    assert compared["runs"][0]["target"]["name"] == second.target.name
    assert compared["runs"][0]["label"].startswith(f"#{second.pk} ")
    rps = next(f for f in compared["figures"] if f["key"] == "rps")
    assert rps["values"] == [150.0, 100.0] and rps["verdicts"] == [None, "worse"]
    assert compared["series"][str(first.pk)] == {"t": [], "rps": [], "p95_ms": [], "score": [], "pod_spread": []}


def test_threshold_falls_back_to_the_scenario():
    first = LoadTestRunFactory(summary={}, scenario__threshold_balance=80.0)
    assert compare_runs([first, LoadTestRunFactory(owner=first.owner)])["threshold"] == 80.0


def test_compare_needs_two_to_six_runs():
    with pytest.raises(ValueError, match="2 to 6"):
        compare_runs([LoadTestRunFactory()])


def test_a_finished_runs_series_are_stored_a_running_runs_are_read_each_time():
    from django.utils import timezone

    finished = LoadTestRunFactory(status="passed", ended_at=timezone.now())
    running = LoadTestRunFactory(owner=finished.owner, status="running")
    for run in (finished, running):
        record(run, [(float(t), {"pod-a": 10, "pod-b": 10}) for t in range(3)])
    compare_runs([finished, running])
    for run in (finished, running):  # a second recorded afterwards (which a finished run never gets)
        record(run, [(3.0, {"pod-a": 10, "pod-b": 10})])
    again = compare_runs([finished, running])
    assert len(again["series"][str(finished.pk)]["t"]) == 3
    assert len(again["series"][str(running.pk)]["t"]) == 4
    assert CompareSeries.objects.get(run=finished).series == again["series"][str(finished.pk)]
    assert not CompareSeries.objects.filter(run=running).exists()
