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
