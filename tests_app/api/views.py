from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from lbsite.api import Conflict, CSVRenderer, OwnedModelViewSet, PresetOrOwnedModelViewSet, TooManyRequests
from lbsite.permissions import OwnedQuerysetMixin
from metrics_app.selectors import samples_since
from tests_app import services
from tests_app.api.filters import RunFilterSet
from tests_app.api.serializers import (
    RUN_HEADLINE,
    CompareQuerySerializer,
    CompareSerializer,
    LoadTestRunListSerializer,
    LoadTestRunSerializer,
    RegisteredLocustfileSerializer,
    RunCreateSerializer,
    SamplesQuerySerializer,
    SamplesSerializer,
    ScenarioSerializer,
    TargetSerializer,
)
from tests_app.models import LoadTestRun, Scenario, Target
from tests_app.selectors import runs_in_order
from tests_app.views import samples_download


class TargetViewSet(OwnedModelViewSet):
    """The user's targets. One that runs refer to is kept as it is: changing or deleting it is a 409
    (create a new target instead), so every run's history stays whole."""

    queryset = Target.objects.all()
    serializer_class = TargetSerializer
    filterset_fields = ["kind", "algorithm"]
    ordering_fields = ["name", "created_at"]

    def perform_update(self, serializer):
        if services.runs_on(serializer.instance):
            raise Conflict("Runs refer to this target: it is kept as it is, so their history stays whole. "
                           "Create a new target (a new version) instead.")
        super().perform_update(serializer)

    def perform_destroy(self, instance):
        try:
            services.delete_target(target=instance)
        except services.TargetInUse as error:
            raise Conflict(error.messages[0]) from error


class ScenarioViewSet(PresetOrOwnedModelViewSet):
    queryset = Scenario.objects.all()
    serializer_class = ScenarioSerializer
    filterset_fields = ["shape"]
    ordering_fields = ["name", "created_at"]


class LocustfileViewSet(viewsets.ViewSet):
    """The locustfiles the operator registered (LBLAB_LOCUSTFILES_DIR), with their user classes: what
    `POST /api/runs/` may name in `locustfile`. The same for every user; empty when none are."""

    @extend_schema(responses={200: RegisteredLocustfileSerializer(many=True)})
    def list(self, request, format=None):
        return Response(RegisteredLocustfileSerializer(services.registered_locustfiles(), many=True).data)


class LoadTestRunViewSet(
    OwnedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The user's runs: start one (queued for a worker), read it, stop it, read its seconds.

    Every handler takes `format`: the router also serves each route with a suffix (`.json`).
    """

    queryset = LoadTestRun.objects.select_related("owner", "target")
    serializer_class = LoadTestRunSerializer
    # Filters and ordering both live in RunFilterSet, which the runs page uses too.
    filter_backends = [DjangoFilterBackend]
    filterset_class = RunFilterSet

    def get_queryset(self):
        runs = super().get_queryset()
        return runs.defer("summary") if self.action == "list" else runs

    def get_serializer_class(self):
        return LoadTestRunListSerializer if self.action == "list" else LoadTestRunSerializer

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        # The page's headlines in a query of their own: picked out in the filtered query, PostgreSQL
        # would build one for every matching run before sorting (by balance score, say) and paging.
        headlines = dict(LoadTestRun.objects.filter(pk__in=[run.pk for run in page])
                         .annotate(headline=RUN_HEADLINE).values_list("pk", "headline"))
        for run in page:
            run.headline = headlines.get(run.pk)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(request=RunCreateSerializer, responses={201: LoadTestRunSerializer})
    def create(self, request, *args, **kwargs):
        given = RunCreateSerializer(data=request.data, context=self.get_serializer_context())
        given.is_valid(raise_exception=True)
        try:
            run = services.submit_run(owner=request.user, request=services.RunRequest(**given.validated_data))
        except services.TooManyRuns as refused:
            raise TooManyRequests(refused.errors) from refused
        except services.RunRejected as rejected:
            raise ValidationError(rejected.errors) from rejected
        return Response(LoadTestRunSerializer(run).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: LoadTestRunSerializer})
    @action(detail=True, methods=["post"])
    def stop(self, request, pk=None, format=None):
        run = services.request_stop(run=self.get_object())
        return Response(LoadTestRunSerializer(run).data)

    @extend_schema(parameters=[OpenApiParameter("since", float, description="Only seconds after this t.")],
                   responses={200: SamplesSerializer})
    @action(detail=True, methods=["get"])
    def samples(self, request, pk=None, format=None):
        run = self.get_object()
        query = SamplesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response({"run": run.pk, "status": run.status,
                         "samples": samples_since(run.pk, query.validated_data["since"])})

    @extend_schema(
        parameters=[OpenApiParameter("ids", str, required=True,
                                     description="2 to 6 of your run ids, comma-separated; the first is the reference.")],
        responses={200: CompareSerializer},
    )
    @action(detail=False, methods=["get"])
    def compare(self, request, format=None):
        """Runs side by side: every summary figure with its difference from the first run and a
        noise-aware verdict, notes in words, and each run's per-second series."""
        query = CompareQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        runs = runs_in_order(request.user, query.validated_data["ids"])
        if runs is None:  # someone else's run is as absent as one that never was
            raise NotFound("No such run.")
        return Response(services.runs_comparison(runs))

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["csv", "json"], description="csv (default json).")],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="metrics_app.exports columns"),
                   (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, description="{run, samples}")},
    )
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, CSVRenderer])
    def export(self, request, pk=None, format=None):
        """Every recorded second of the run as a file: CSV (a row per second and per pod) or JSON."""
        run = self.get_object()
        return samples_download(run.pk, "samples.csv" if request.accepted_renderer.format == "csv" else "samples.json")
