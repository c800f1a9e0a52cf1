"""Reading helpers shared by views, the API and commands. Scoping via lbsite.permissions."""

from __future__ import annotations

from django.db.models import QuerySet

from lbsite.permissions import owned_by
from tests_app.models import LoadTestRun, Scenario, Target


def runs_visible_to(user) -> QuerySet[LoadTestRun]:
    return owned_by(LoadTestRun.objects.select_related("target", "scenario"), user)


def targets_visible_to(user) -> QuerySet[Target]:
    return owned_by(Target.objects.all(), user)


def scenarios_visible_to(user) -> QuerySet[Scenario]:
    """The user's own scenarios and the shared presets."""
    return owned_by(Scenario.objects.all(), user, shared_presets=True)


def runs_in_order(user, ids: list[int]) -> list[LoadTestRun] | None:
    """The user's runs with these ids, in the order given; None when any is not theirs (or absent:
    both are the same 404)."""
    found = {run.pk: run for run in runs_visible_to(user).filter(pk__in=ids)}
    return [found[pk] for pk in ids] if len(found) == len(set(ids)) else None
