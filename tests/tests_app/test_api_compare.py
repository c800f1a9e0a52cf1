"""`GET /api/runs/compare/?ids=`: 2 to 6 of the user's runs side by side; someone else's run is a
404, a bad `ids` a 400 on `ids`."""

import pytest
from django.urls import reverse

from metrics_app.comparison import FIGURES
from metrics_app.models import MetricSample, PodSample
from tests.factories import LoadTestRunFactory

pytestmark = pytest.mark.django_db

URL = reverse("api:run-compare")


def recorded(owner, *, rps, per_pod, seconds=12, score=99.0):
    run = LoadTestRunFactory(owner=owner, status="passed", target__pods=len(per_pod), summary={
        "duration_s": float(seconds), "requests": int(rps * seconds), "failures": 0, "rps": rps,
        "latency_ms": {"p50": 1.0, "p95": 3.0, "p99": 5.0, "max": 9.0}, "unattributed": 0,
        "pods": {pod: {"requests": n * seconds} for pod, n in per_pod.items()},
        "balance": {"score": score, "threshold": 95.0, "windows": [score]},
    })
    for t in range(seconds):
        MetricSample.objects.create(run=run, t=float(t), requests=sum(per_pod.values()), rps=rps, p95_ms=3.0)
        PodSample.objects.bulk_create(PodSample(run=run, t=float(t), pod=pod, requests=n) for pod, n in per_pod.items())
    return run


def test_compare_two_runs(alice, api_for):
    even = recorded(alice, rps=100.0, per_pod={"pod-0": 50, "pod-1": 50})
    skewed = recorded(alice, rps=150.0, per_pod={"pod-0": 120, "pod-1": 30}, score=40.0)
    response = api_for(alice).get(URL, {"ids": f"{even.pk},{skewed.pk}"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert [run["id"] for run in body["runs"]] == [even.pk, skewed.pk]
    assert {"id", "label", "status", "created_at", "target", "scenario", "summary"} <= set(body["runs"][0])
    figures = {figure["key"]: figure for figure in body["figures"]}
    assert set(figures) <= {figure.key for figure in FIGURES}
    assert figures["rps"]["values"] == [100.0, 150.0] and figures["rps"]["verdicts"] == [None, "better"]
    assert figures["balance_score"]["verdicts"] == [None, "worse"]
    assert any("better on throughput" in note for note in body["notes"])
    assert body["threshold"] == 95.0
    series = body["series"][str(skewed.pk)]
    assert set(series) == {"t", "rps", "p95_ms", "score", "pod_spread"}
    assert len(series["t"]) == 12 and series["score"][0] < 50 and series["pod_spread"][0] == pytest.approx(1.6)
    assert body["series"][str(even.pk)]["score"] == [100.0] * 12


def test_six_runs_in_the_order_asked(alice, api_for):
    runs = [LoadTestRunFactory(owner=alice) for _ in range(6)]
    ids = [run.pk for run in reversed(runs)]
    response = api_for(alice).get(URL, {"ids": ",".join(map(str, ids))})
    assert response.status_code == 200
    assert [run["id"] for run in response.json()["runs"]] == ids


def test_someone_elses_run_is_404(alice, bob, api_for):
    mine, theirs = LoadTestRunFactory(owner=alice), LoadTestRunFactory(owner=bob)
    assert api_for(alice).get(URL, {"ids": f"{mine.pk},{theirs.pk}"}).status_code == 404
    assert api_for(alice).get(URL, {"ids": f"{mine.pk},{theirs.pk + 1000}"}).status_code == 404


@pytest.mark.parametrize("ids", ["", "1", "1,2,3,4,5,6,7", "1,x", "1;2", "1,1", "-1,2", "1.5,2", "١,٢",
                                 "99999999999999999999,1"])
def test_bad_ids_are_400_on_ids(ids, alice, api_for):
    LoadTestRunFactory.create_batch(2, owner=alice)
    response = api_for(alice).get(URL, {"ids": ids})
    assert response.status_code == 400, response.content
    assert "ids" in response.json()


def test_ids_are_required(alice, api_for):
    response = api_for(alice).get(URL)
    assert response.status_code == 400 and "ids" in response.json()


def test_needs_authentication(client, db):
    assert client.get(URL, {"ids": "1,2"}).status_code in (401, 403)
