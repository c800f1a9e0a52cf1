from __future__ import annotations

from rest_framework import viewsets

from lbsite.api import OwnedModelViewSet, PresetOrOwnedModelViewSet
from lbsite.permissions import OwnedQuerysetMixin
from tests_app.api.serializers import LoadTestRunSerializer, ScenarioSerializer, TargetSerializer
from tests_app.models import LoadTestRun, Scenario, Target


class TargetViewSet(OwnedModelViewSet):
    queryset = Target.objects.all()
    serializer_class = TargetSerializer
    filterset_fields = ["kind", "algorithm"]
    ordering_fields = ["name", "created_at"]


class ScenarioViewSet(PresetOrOwnedModelViewSet):
    queryset = Scenario.objects.all()
    serializer_class = ScenarioSerializer
    filterset_fields = ["shape"]
    ordering_fields = ["name", "created_at"]


class LoadTestRunViewSet(OwnedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Runs of the user. Starting and stopping runs through the API comes with the load engine."""

    queryset = LoadTestRun.objects.select_related("target")
    serializer_class = LoadTestRunSerializer
    filterset_fields = ["status", "target"]
    ordering_fields = ["created_at", "started_at", "status"]
