from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from lbsite.api import OwnedModelViewSet, PresetOrOwnedModelViewSet
from lbsite.permissions import OwnedQuerysetMixin
from metrics_app.services import samples_since
from tests_app import services
from tests_app.api.serializers import (
    LoadTestRunSerializer,
    RunCreateSerializer,
    SamplesQuerySerializer,
    ScenarioSerializer,
    TargetSerializer,
)
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


class LoadTestRunViewSet(
    OwnedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The user's runs: start one (queued for a worker), read it, stop it, read its seconds."""

    queryset = LoadTestRun.objects.select_related("target")
    serializer_class = LoadTestRunSerializer
    filterset_fields = ["status", "target"]
    ordering_fields = ["created_at", "started_at", "status"]

    @extend_schema(request=RunCreateSerializer, responses={201: LoadTestRunSerializer})
    def create(self, request):
        given = RunCreateSerializer(data=request.data, context=self.get_serializer_context())
        given.is_valid(raise_exception=True)
        data = given.validated_data
        with transaction.atomic():  # an inline target is saved only if the run is created too
            target = data["target"]
            if isinstance(target, dict):
                target = services.target_for(owner=request.user, fields=target)
            run = services.start_run(owner=request.user, target=target, scenario=data["scenario"],
                                     workers=data["workers"])
        return Response(LoadTestRunSerializer(run).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: LoadTestRunSerializer})
    @action(detail=True, methods=["post"])
    def stop(self, request, pk=None):
        run = services.request_stop(run=self.get_object())
        return Response(LoadTestRunSerializer(run).data)

    @extend_schema(parameters=[OpenApiParameter("since", float, description="Only seconds after this t.")],
                   responses={200: dict})
    @action(detail=True, methods=["get"])
    def samples(self, request, pk=None):
        run = self.get_object()
        query = SamplesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response({"run": run.pk, "status": run.status,
                         "samples": samples_since(run.pk, query.validated_data["since"])})
