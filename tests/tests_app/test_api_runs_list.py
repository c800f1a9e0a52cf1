"""`GET /api/runs/`: filters, ordering and pagination; a bad value is a 400 naming the parameter.
The same RunFilterSet serves the runs page from a plain QueryDict."""

import datetime as dt

import pytest
from django.http import QueryDict
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from rest_framework.request import Request

from lbsite.pagination import PageNumberPagination
from tests.factories import LoadTestRunFactory, ScenarioFactory, TargetFactory
from tests_app.api.filters import RunFilterSet
from tests_app.models import LoadTestRun
from tests_app.selectors import runs_visible_to

pytestmark = pytest.mark.django_db

URL = reverse("api:run-list")


def at(day, hour=12):
    return timezone.make_aware(dt.datetime(2025, 3, day, hour, 0))


def made(owner, *, created, **fields):
    run = LoadTestRunFactory(owner=owner, **fields)
    LoadTestRun.objects.filter(pk=run.pk).update(created_at=created)  # auto_now_add: set after the fact
    return run


def score(value):
    return {"balance": {"score": value, "threshold": 95.0}}


@pytest.fixture
def runs(alice, bob):
    target, other_target = TargetFactory(owner=alice, name="shop"), TargetFactory(owner=alice, name="cart")
    scenario = ScenarioFactory(owner=alice)
    return {
        "old_passed": made(alice, created=at(1), target=target, scenario=scenario, status="passed",
                           verdict_passed=True, summary=score(99.5), started_at=at(1, 13)),
        "mid_failed": made(alice, created=at(10), target=target, status="failed", verdict_passed=False,
                           summary=score(40.0), started_at=at(10, 13)),
        "new_running": made(alice, created=at(20, 23), target=other_target, scenario=scenario, status="running",
                            started_at=at(20, 23)),
        "queued": made(alice, created=at(21), target=other_target, status="queued"),
        "bobs": made(bob, created=at(10), status="passed", verdict_passed=True, summary=score(100.0)),
    }


def ids(response):
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def names(runs, *keys):
    return [runs[key].pk for key in keys]


def test_default_order_is_newest_first_and_only_own(runs, alice, api_for):
    assert ids(api_for(alice).get(URL)) == names(runs, "queued", "new_running", "mid_failed", "old_passed")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "failed"}, ["mid_failed"]),
        ({"verdict": "true"}, ["old_passed"]),
        ({"verdict": "false"}, ["mid_failed"]),
        ({"created_after": "2025-03-10"}, ["queued", "new_running", "mid_failed"]),
        ({"created_before": "2025-03-10"}, ["mid_failed", "old_passed"]),  # a date includes its whole day
        ({"created_after": "2025-03-10T12:00:01", "created_before": "2025-03-20"}, ["new_running"]),
        ({"created_before": "2025-03-10T11:59:59Z"}, ["old_passed"]),
        ({"created_after": "2025-03-20T23:00:00+01:00"}, ["queued", "new_running"]),  # 22:00 UTC
        ({"status": "passed", "created_after": "2025-03-02"}, []),
        ({"created_after": "2025-03-20T03:25:00-18:35"}, ["queued", "new_running"]),  # an offset PostgreSQL refuses
        ({"created_before": "0577-11-06T21:07:19-18:35"}, []),  # found by the schema fuzzer: was a 500
    ],
)
def test_filters(query, expected, runs, alice, api_for):
    assert ids(api_for(alice).get(URL, query)) == names(runs, *expected)


def test_filter_by_target_and_scenario(runs, alice, api_for):
    api = api_for(alice)
    assert ids(api.get(URL, {"target": runs["old_passed"].target_id})) == names(runs, "mid_failed", "old_passed")
    assert ids(api.get(URL, {"scenario": runs["old_passed"].scenario_id})) == names(runs, "new_running", "old_passed")


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("balance_score", ["mid_failed", "old_passed", "queued", "new_running"]),  # no score: last
        ("-balance_score", ["old_passed", "mid_failed", "queued", "new_running"]),
        ("created_at", ["old_passed", "mid_failed", "new_running", "queued"]),
        ("-started_at", ["new_running", "mid_failed", "old_passed", "queued"]),  # never started: last
        ("status,-created_at", ["mid_failed", "old_passed", "queued", "new_running"]),
        ("id", ["old_passed", "mid_failed", "new_running", "queued"]),
    ],
)
def test_ordering(ordering, expected, runs, alice, api_for):
    assert ids(api_for(alice).get(URL, {"ordering": ordering})) == names(runs, *expected)


@pytest.mark.parametrize("ordering", [",,,,,,", ","])
def test_empty_ordering_entries_order_by_nothing(ordering, runs, alice, api_for):
    """Found by schemathesis: `?ordering=,,,` answered 500."""
    api = api_for(alice)
    answer = api.get(URL, {"ordering": ordering})
    assert answer.status_code == 200, answer.content
    assert ids(answer) == ids(api.get(URL))
    assert ids(api.get(URL, {"ordering": "balance_score,,"})) == ids(api.get(URL, {"ordering": "balance_score"}))
    assert "ordering" in api.get(URL, {"ordering": ",-,"}).json()  # a sign without a field: a 400 naming it


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"status": "exploded"}, "status"),
        ({"verdict": "maybe"}, "verdict"),
        ({"created_after": "last tuesday"}, "created_after"),
        ({"created_before": "2025-02-30"}, "created_before"),
        ({"created_after": "2025-13-01T00:00:00"}, "created_after"),
        ({"target": "shop"}, "target"),
        ({"ordering": "owner"}, "ordering"),
        ({"ordering": "-password"}, "ordering"),
        ({"page_size": "lots"}, "page_size"),
        ({"page_size": "0"}, "page_size"),
    ],
)
def test_bad_value_is_400_naming_the_parameter(query, field, runs, alice, api_for):
    response = api_for(alice).get(URL, query)
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_someone_elses_target_is_not_a_choice(runs, alice, bob, api_for):
    response = api_for(bob).get(URL, {"target": runs["old_passed"].target_id})
    assert response.status_code == 400 and "target" in response.json()


def test_pages_with_a_page_size_capped_at_200(alice, api_for):
    LoadTestRunFactory.create_batch(3, owner=alice)
    api = api_for(alice)
    first = api.get(URL, {"page_size": 2}).json()
    assert first["count"] == 3 and len(first["results"]) == 2 and first["next"]
    second = api.get(URL, {"page_size": 2, "page": 2}).json()
    assert len(second["results"]) == 1 and second["next"] is None
    assert {r["id"] for r in first["results"]}.isdisjoint({r["id"] for r in second["results"]})
    assert api.get(URL, {"page": 9}).status_code == 404
    request = Request(RequestFactory().get(URL, {"page_size": 5000}))
    assert PageNumberPagination().get_page_size(request) == 200


def test_the_filterset_works_on_a_plain_querydict_for_the_runs_page(runs, alice):
    request = RequestFactory().get("/", {"status": "failed"})
    request.user = alice
    filtered = RunFilterSet(QueryDict("verdict=false&ordering=-balance_score"), queryset=runs_visible_to(alice),
                            request=request)
    assert filtered.is_valid()
    assert list(filtered.qs) == [runs["mid_failed"]]
    assert {"status", "target", "scenario", "created_after", "created_before", "verdict", "ordering"} <= set(
        filtered.form.fields)
    choices = [str(label) for _, label in filtered.form.fields["target"].choices]
    assert "shop" in choices and "cart" in choices
    bad = RunFilterSet(QueryDict("created_after=soon"), queryset=runs_visible_to(alice), request=request)
    assert not bad.is_valid() and "created_after" in bad.errors
    assert set(bad.qs) == set(runs_visible_to(alice))  # the valid part still filters: nothing here


def test_list_items_carry_the_headline_figures_and_the_run_its_whole_summary(alice, api_for):
    summary = {"duration_s": 30.0, "requests": 3000, "failures": 3, "rps": 100.0,
               "latency_ms": {"p50": 1.0, "p95": 4.5, "p99": 9.0, "max": 20.0},
               "pods": {f"pod-{i}": {"requests": 30} for i in range(100)},
               "balance": {"score": 97.5, "grade": "A", "balanced": True, "windows": [97.0] * 180}}
    run = LoadTestRunFactory(owner=alice, summary=summary)
    queued = LoadTestRunFactory(owner=alice)
    api = api_for(alice)
    items = {item["id"]: item for item in api.get(URL).json()["results"]}
    assert "summary" not in items[run.pk]
    assert items[run.pk]["headline"] == {"duration_s": 30.0, "requests": 3000, "failures": 3, "rps": 100.0,
                                         "p95_ms": 4.5, "balance_score": 97.5, "grade": "A"}
    assert set(items[queued.pk]["headline"].values()) == {None}
    assert items[run.pk]["verdict"] == {"passed": None, "reasons": []} and items[run.pk]["target_name"]
    assert api.get(reverse("api:run-detail", args=[run.pk])).json()["summary"] == summary
