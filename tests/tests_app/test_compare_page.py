"""The compare page: the runs overlaid and a table of deltas marked better, worse or noise."""

import json

import pytest
from django.urls import reverse

from metrics_app.models import MetricSample, PodSample
from tests.factories import LoadTestRunFactory

pytestmark = pytest.mark.django_db


def run_with(owner, *, rps, score):
    run = LoadTestRunFactory(owner=owner, status="passed", summary={
        "duration_s": 3.0, "requests": rps * 3, "failures": 0, "rps": float(rps),
        "latency_ms": {"p50": 1.0, "p95": 3.0, "p99": 5.0, "max": 9.0}, "pods": {}, "unattributed": 0,
        "balance": {"score": score, "cv": 0.01, "jain": 0.99, "max_over_mean": 1.01, "p_value": 0.5, "grade": "A",
                    "windows": []},
    })
    for t in range(3):
        MetricSample.objects.create(run=run, t=float(t), requests=rps, rps=float(rps), p95_ms=3.0)
        PodSample.objects.create(run=run, t=float(t), pod="pod-a", requests=rps // 2)
        PodSample.objects.create(run=run, t=float(t), pod="pod-b", requests=rps - rps // 2)
    return run


def test_two_runs_from_the_list_checkboxes(client, alice):
    first, second = run_with(alice, rps=100, score=99.0), run_with(alice, rps=200, score=98.0)
    client.force_login(alice)
    response = client.get(reverse("run-compare") + f"?ids={first.pk}&ids={second.pk}")
    page = response.content.decode()
    assert response.status_code == 200
    throughput = next(row for row in response.context["rows"] if row["key"] == "rps")
    assert throughput["values"] == [100.0, 200.0] and throughput["verdicts"][1] == "better"
    assert 'class="better">+100' in page
    figure = json.loads(page.split('<script id="compare-throughput" type="application/json">')[1].split("</script>")[0])
    assert [trace["y"] for trace in figure["figure"]["data"]] == [[100.0] * 3, [200.0] * 3]


def test_comma_separated_ids_as_in_the_api(client, alice):
    first, second = run_with(alice, rps=100, score=99.0), run_with(alice, rps=100, score=99.0)
    client.force_login(alice)
    assert client.get(reverse("run-compare"), {"ids": f"{first.pk},{second.pk}"}).status_code == 200


@pytest.mark.parametrize("ids", ["", "1", "1,1", "a,b", "1,2,3,4,5,6,7"])
def test_bad_ids_say_why(client, alice, ids):
    client.force_login(alice)
    response = client.get(reverse("run-compare"), {"ids": ids})
    assert response.status_code == 400 and response.context["error"]


def test_someone_elses_run_is_404(client, alice, bob):
    mine, theirs = run_with(alice, rps=100, score=99.0), run_with(bob, rps=100, score=99.0)
    client.force_login(alice)
    assert client.get(reverse("run-compare"), {"ids": f"{mine.pk},{theirs.pk}"}).status_code == 404
