"""The runs list: the API's filters and sort on a page, compare checkboxes, pagination that
keeps the filters, and nobody else's runs."""

import pytest
from django.urls import reverse

from tests.factories import LoadTestRunFactory, TargetFactory

pytestmark = pytest.mark.django_db


def summary(score, grade):
    return {"balance": {"score": score, "grade": grade}}


@pytest.fixture
def logged_in(client, alice):
    client.force_login(alice)
    return client


def shown(response) -> list[int]:
    return [run.pk for run in response.context["runs"]]


def test_filters_by_status_and_target_and_hides_others(logged_in, alice, bob):
    lab = TargetFactory(owner=alice, name="lab")
    passed = LoadTestRunFactory(owner=alice, target=lab, status="passed", summary=summary(99.0, "A"))
    LoadTestRunFactory(owner=alice, status="passed")
    LoadTestRunFactory(owner=alice, target=lab, status="failed")
    LoadTestRunFactory(owner=bob, status="passed")
    response = logged_in.get(reverse("runs"), {"status": "passed", "target": lab.pk})
    assert shown(response) == [passed.pk]
    page = response.content.decode()
    assert "99.0 % · A" in page and f'name="ids" value="{passed.pk}"' in page


def test_sorts_by_balance_score_both_ways_missing_last(logged_in, alice):
    low = LoadTestRunFactory(owner=alice, summary=summary(40.0, "F"))
    high = LoadTestRunFactory(owner=alice, summary=summary(98.0, "A"))
    none = LoadTestRunFactory(owner=alice, summary={})
    assert shown(logged_in.get(reverse("runs"), {"ordering": "balance_score"})) == [low.pk, high.pk, none.pk]
    assert shown(logged_in.get(reverse("runs"), {"ordering": "-balance_score"})) == [high.pk, low.pk, none.pk]


def test_bad_filter_shows_the_field_error_and_no_runs(logged_in, alice):
    LoadTestRunFactory(owner=alice)
    response = logged_in.get(reverse("runs"), {"created_after": "yesterday-ish"})
    assert shown(response) == []
    assert "created_after" in response.context["filter"].form.errors
    assert "No run matches these filters." in response.content.decode()


def test_pagination_keeps_the_filters(logged_in, alice):
    for _ in range(27):
        LoadTestRunFactory(owner=alice, status="failed")
    LoadTestRunFactory(owner=alice, status="passed")
    response = logged_in.get(reverse("runs"), {"status": "failed"})
    assert len(shown(response)) == 25
    assert "?status=failed&amp;page=2" in response.content.decode()
    assert len(shown(logged_in.get(reverse("runs"), {"status": "failed", "page": 2}))) == 2
