"""`GET /api/runs/<id>/export/?format=csv|json`: every recorded second of the user's run as a file."""

import csv
import io
import json

import pytest
from django.urls import reverse

from tests.factories import LoadTestRunFactory, MetricSampleFactory, PodSampleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(alice):
    run = LoadTestRunFactory(owner=alice)
    for t in (0.0, 1.0):
        MetricSampleFactory(run=run, t=t, requests=10)
        PodSampleFactory(run=run, t=t, pod="pod-0", requests=6)
        PodSampleFactory(run=run, t=t, pod="pod-1", requests=4)
    return run


def body(response) -> str:
    return b"".join(response.streaming_content).decode()


def test_csv(run, alice, api_for):
    response = api_for(alice).get(reverse("api:run-export", args=[run.pk]), {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="lblab-run-{run.pk}-samples.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(body(response))))
    assert [(row["t"], row["pod"], row["requests"]) for row in rows] == [
        ("0.0", "(total)", "10"), ("0.0", "pod-0", "6"), ("0.0", "pod-1", "4"),
        ("1.0", "(total)", "10"), ("1.0", "pod-0", "6"), ("1.0", "pod-1", "4"),
    ]


@pytest.mark.parametrize("query", [{"format": "json"}, {}])
def test_json_is_the_samples_endpoint_for_the_whole_run(query, run, alice, api_for):
    api = api_for(alice)
    response = api.get(reverse("api:run-export", args=[run.pk]), query)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    document = json.loads(body(response))
    assert document == {"run": run.pk, "samples": api.get(reverse("api:run-samples", args=[run.pk])).json()["samples"]}


def test_others_get_404_in_any_format(run, bob, api_for):
    for query in ({"format": "csv"}, {"format": "json"}):
        assert api_for(bob).get(reverse("api:run-export", args=[run.pk]), query).status_code == 404


def test_unknown_format_is_not_served(run, alice, api_for):
    assert api_for(alice).get(reverse("api:run-export", args=[run.pk]), {"format": "xlsx"}).status_code == 404


@pytest.mark.parametrize(
    ("method", "route", "with_pk", "data"),
    [
        ("get", "api:run-samples", True, {}),
        ("get", "api:run-export", True, {}),
        ("get", "api:run-detail", True, {}),
        ("post", "api:run-stop", True, {}),
        ("get", "api:run-list", False, {}),
        ("get", "api:run-compare", False, None),
        ("post", "api:run-list", False, {"target": {"kind": "sandbox", "pods": 2},
                                         "scenario": {"shape": "steady", "users": 1, "duration_s": 5}}),
    ],
)
def test_format_suffix_urls_answer(method, route, with_pk, data, run, alice, api_for):
    """DRF's router also serves every route with a `.json` suffix; each handler must accept it."""
    if data is None:
        data = {"ids": f"{run.pk},{LoadTestRunFactory(owner=alice).pk}"}
    url = reverse(route, args=[run.pk] if with_pk else []).rstrip("/") + ".json"
    response = getattr(api_for(alice), method)(url, data, format="json" if method == "post" else None)
    assert response.status_code in (200, 201), response.content
