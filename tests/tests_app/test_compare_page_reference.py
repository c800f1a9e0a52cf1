"""Which run is the reference of the compare page: the one named first (`?ids=12,15`, as the API
takes it), or the oldest of the runs ticked in the runs list (which lists newest first), never
the list's order; a difference within noise reads "unchanged"."""

import pytest
from django.urls import reverse

from tests.factories import LoadTestRunFactory

pytestmark = pytest.mark.django_db


def summary(cv: float) -> dict:
    return {"requests": 300, "failures": 0, "rps": 100.0, "latency_ms": {"p95": 3.0},
            "balance": {"score": 99.0, "cv": cv, "jain": 0.999, "max_over_mean": 1.01, "p_value": 0.5}}


def test_ticked_runs_compare_against_the_oldest(client, alice):
    older = LoadTestRunFactory(owner=alice, status="passed", summary=summary(0.0))
    newer = LoadTestRunFactory(owner=alice, status="passed", summary=summary(0.004))
    client.force_login(alice)
    response = client.get(reverse("run-compare") + f"?ids={newer.pk}&ids={older.pk}")  # the list's order
    assert [run["id"] for run in response.context["comparison"]["runs"]] == [older.pk, newer.pk]
    named = client.get(reverse("run-compare") + f"?ids={newer.pk},{older.pk}")  # named first: the reference
    assert [run["id"] for run in named.context["comparison"]["runs"]] == [newer.pk, older.pk]


def test_noise_reads_unchanged_not_worse(client, alice):
    first = LoadTestRunFactory(owner=alice, status="passed", summary=summary(0.0))
    second = LoadTestRunFactory(owner=alice, status="passed", summary=summary(0.004))
    client.force_login(alice)
    page = client.get(reverse("run-compare") + f"?ids={first.pk},{second.pk}").content.decode()
    cv_row = page.split("Coefficient of variation")[1].split("</tr>")[0]
    assert "unchanged" in cv_row and "worse" not in cv_row and "better" not in cv_row
