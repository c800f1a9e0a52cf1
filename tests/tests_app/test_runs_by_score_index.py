"""The runs list sorted best score first reads the (owner, balance_score) index on SQLite and
PostgreSQL alike: the embedded default keeps the feature, not only the order."""

import pytest
from django.db import connection, transaction
from django.http import QueryDict

from tests.factories import LoadTestRunFactory
from tests_app.api.filters import RunFilterSet
from tests_app.models import LoadTestRun
from tests_app.selectors import runs_visible_to

pytestmark = pytest.mark.django_db


def plan_of(queryset) -> str:
    with transaction.atomic():
        if connection.vendor == "postgresql":  # a few rows: a scan and a sort would be cheaper
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL enable_seqscan = off")
                cursor.execute("SET LOCAL enable_sort = off")
        return queryset.explain()


def test_best_score_first_uses_the_index_without_a_sort(alice):
    for score in (80.0, None, 99.0):
        LoadTestRunFactory(owner=alice, summary={"balance": {"score": score}} if score is not None else {})
    ordered = RunFilterSet(QueryDict("ordering=-balance_score"), queryset=runs_visible_to(alice).select_related(None)).qs
    assert [run.balance_score for run in ordered] == [99.0, 80.0, None]  # missing last
    plan = plan_of(ordered.all()[:50])
    assert "run_owner_balance_score" in plan
    assert "TEMP B-TREE" not in plan and "Sort Key" not in plan, plan


def test_the_score_column_follows_the_summary(alice):
    run = LoadTestRunFactory(owner=alice)
    LoadTestRun.objects.filter(pk=run.pk).update(summary={"balance": {"score": 42.5}})
    run.refresh_from_db()
    assert run.balance_score == 42.5
