from __future__ import annotations

import re

from django.db.models.fields.json import KeyTransform
from django.db.models.functions import JSONObject
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clusters.targets import fields_not_used_by
from lbsite.api import FullCleanSerializerMixin
from metrics_app.services import COMPARE_MAX_RUNS, COMPARE_MIN_RUNS
from tests_app.models import RUN_NAME_LENGTH, LoadTestRun, Scenario, Target
from tests_app.services import INLINE_SCENARIO_FIELDS, INLINE_TARGET_FIELDS, queue_places, validate_target_allowed


class TargetSerializer(FullCleanSerializerMixin, serializers.ModelSerializer):
    class Meta:
        model = Target
        exclude = ["owner"]
        read_only_fields = ["created_at", "updated_at"]
        validators = []  # uniqueness per owner is checked by full_clean, with the owner filled in

    def validate_instance(self, instance: Target) -> None:
        validate_target_allowed(instance)

    def to_representation(self, instance: Target) -> dict:
        """The target's own kind's fields only: a URL target has no pods or algorithm to show."""
        data = super().to_representation(instance)
        for name in fields_not_used_by(instance.kind):
            data.pop(name, None)
        return data


class ScenarioSerializer(FullCleanSerializerMixin, serializers.ModelSerializer):
    is_preset = serializers.BooleanField(read_only=True)

    class Meta:
        model = Scenario
        exclude = ["owner"]
        read_only_fields = ["created_at", "updated_at"]
        validators = []


class InlineTargetSerializer(TargetSerializer):
    """A target described inline in `POST /api/runs/` (the schema: `tests_app.services.submit_run`
    checks it); saved under the name its kind gives it, or found again by that name."""

    class Meta(TargetSerializer.Meta):
        exclude = None
        fields = sorted(INLINE_TARGET_FIELDS)
        extra_kwargs = {"name": {"required": False}}


class InlineScenarioSerializer(ScenarioSerializer):
    """A scenario described inline in `POST /api/runs/`: kept only as the run's frozen copy."""

    class Meta(ScenarioSerializer.Meta):
        exclude = None
        fields = sorted(INLINE_SCENARIO_FIELDS)
        extra_kwargs = {"name": {"required": False}}


class SavedOrInlineField(serializers.JSONField):
    """The id of a saved object, or the fields of an inline one (`inline`, a serializer class that
    gives the schema its fields)."""

    def __init__(self, *, inline: type[serializers.Serializer], **kwargs):
        self.inline = inline
        super().__init__(**kwargs)


class SavedOrInlineFieldExtension(OpenApiSerializerFieldExtension):
    """In the OpenAPI schema: `oneOf` an integer id and the inline object's own component, so a
    generated client knows the fields."""

    target_class = SavedOrInlineField

    def map_serializer_field(self, auto_schema, direction):
        component = auto_schema.resolve_serializer(self.target.inline, direction)
        return {"oneOf": [{"type": "integer", "description": "The id of a saved one."}, component.ref],
                "description": self.target.help_text or ""}


class VerdictSerializer(serializers.Serializer):
    passed = serializers.BooleanField(source="verdict_passed", allow_null=True)
    reasons = serializers.ListField(child=serializers.CharField(), source="verdict_reasons")


class QueuePlaceSerializer(serializers.Serializer):
    position = serializers.IntegerField(help_text="1: the next run to start.")
    reason = serializers.CharField(help_text="What it waits for.")
    text = serializers.CharField(help_text="Both in words, as the run page and `loadtest` say it.")


class LoadTestRunSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.get_username", read_only=True, help_text="Who started the run.")
    target_name = serializers.CharField(source="target.name", read_only=True)
    verdict = VerdictSerializer(source="*", read_only=True)
    queue = serializers.SerializerMethodField(
        help_text="Where a run waiting for its turn is in the run queue; null once it has its turn.")

    @extend_schema_field(QueuePlaceSerializer(allow_null=True))
    def get_queue(self, run: LoadTestRun) -> dict | None:
        if run.status != LoadTestRun.Status.QUEUED or run.dispatched_at is not None:
            return None
        if "queue_places" not in self.context:  # computed once for a whole list
            self.context["queue_places"] = queue_places()
        place = self.context["queue_places"].get(run.pk)
        return QueuePlaceSerializer(place).data if place else None

    class Meta:
        model = LoadTestRun
        fields = [
            "id", "name", "owner", "target", "target_name", "scenario", "scenario_config", "chaos", "chaos_experiment",
            "autotune", "workers",
            "status", "queue", "created_at", "started_at", "ended_at", "heartbeat_at", "attempt", "stop_requested",
            "summary", "verdict", "error",
        ]
        read_only_fields = fields


def _summary_at(*path: str) -> KeyTransform:
    expression = "summary"
    for key in path:
        expression = KeyTransform(key, expression)
    return expression


# The list's few figures of each run, picked out by the database: a whole summary (per pod, per
# window) is kilobytes per run, so the list leaves it to the run's own page. On PostgreSQL and SQLite.
RUN_HEADLINE = JSONObject(
    duration_s=_summary_at("duration_s"), requests=_summary_at("requests"), failures=_summary_at("failures"),
    rps=_summary_at("rps"), p95_ms=_summary_at("latency_ms", "p95"), balance_score=_summary_at("balance", "score"),
    grade=_summary_at("balance", "grade"),
)


class LoadTestRunListSerializer(LoadTestRunSerializer):
    """A run in the list: as `GET /api/runs/<id>/`, with `headline` (duration_s, requests, failures,
    rps, p95_ms, balance_score, grade: null until the run has a summary) for `summary`.
    Each run's `headline` attribute is set from RUN_HEADLINE by the list view."""

    headline = serializers.JSONField(read_only=True)

    class Meta(LoadTestRunSerializer.Meta):
        fields = [name if name != "summary" else "headline" for name in LoadTestRunSerializer.Meta.fields]
        read_only_fields = fields


class RunCreateSerializer(serializers.Serializer):
    """`POST /api/runs/`: target and scenario as ids of saved objects or inline objects (ARCHITECTURE.md s6).

    Only the shape of the request is checked here; what it asks for is checked by
    `tests_app.services.submit_run`, the one set of rules the form and `loadtest` use too."""

    target = SavedOrInlineField(inline=InlineTargetSerializer,
                                help_text='A target id, or an object like {"kind": "sandbox", "pods": 4}.')
    scenario = SavedOrInlineField(inline=InlineScenarioSerializer,
                                  help_text='A scenario id, or an object like {"shape": "steady", "users": 10}.')
    name = serializers.CharField(required=False, allow_blank=True, default="",
                                 help_text=f"Up to {RUN_NAME_LENGTH} characters; empty: named after its scenario and target.")
    chaos = serializers.ListField(child=serializers.CharField(), required=False, default=list,
                                  help_text="Steps KIND@START:DURATION[:SEVERITY][:TARGET], e.g. pod_kill@3s:0s.")
    experiment = serializers.JSONField(
        required=False, default=None,
        help_text="A chaos experiment (yours or a preset) by id or name, instead of `chaos`: its steps, steady "
                  "state and stop conditions.")
    autotune = serializers.JSONField(
        required=False, allow_null=True, default=None,
        help_text="A tuning policy (GET /api/tuning-policies/) by id or name: the tuner keeps the balance score at its "
                  "target by acting on the sandbox's balancer. Null: no tuning.")
    workers = serializers.IntegerField(required=False, default=1)
    locustfile = serializers.CharField(
        required=False, allow_null=True, default=None,
        help_text="A registered locustfile by name (GET /api/locustfiles/), e.g. checkout.py: its user classes send "
                  "the load instead of the scenario's request mix; the scenario gives users and duration, unless the "
                  "file has a LoadTestShape. Null: the scenario's request mix.")
    user_classes = serializers.ListField(
        child=serializers.CharField(), required=False, default=list,
        help_text="With `locustfile`: run only these of its user classes (default: all of them).")


class RegisteredLocustfileSerializer(serializers.Serializer):
    """A locustfile the operator registered (LBLAB_LOCUSTFILES_DIR), as `POST /api/runs/` names it."""

    name = serializers.CharField(help_text="What `locustfile` says in POST /api/runs/.")
    user_classes = serializers.ListField(child=serializers.CharField(),
                                         help_text="Its user classes (`user_classes` chooses among them).")
    shape = serializers.CharField(allow_null=True, help_text="Its LoadTestShape: it drives the users when set.")
    sha256 = serializers.CharField(help_text="SHA-256 of its text now; a run keeps the text it ran.")
    error = serializers.CharField(allow_blank=True,
                                  help_text="Why it cannot run (a run of it is refused with this); empty when it can.")


class SamplesQuerySerializer(serializers.Serializer):
    since = serializers.FloatField(required=False, default=-1.0, help_text="Only seconds after this t.")


class CompareQuerySerializer(serializers.Serializer):
    """`?ids=12,15`: 2 to 6 run ids, comma-separated, each once; the first is the reference."""

    ids = serializers.CharField(help_text="2 to 6 run ids, comma-separated (e.g. 12,15); the first is the reference.")

    def validate_ids(self, value: str) -> list[int]:
        parts = [part.strip() for part in value.split(",") if part.strip()]
        if not all(re.fullmatch(r"[0-9]{1,18}", part) for part in parts):
            raise serializers.ValidationError("Run ids are whole numbers separated by commas, e.g. ids=12,15.")
        ids = [int(part) for part in parts]
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError("Name each run once.")
        if not COMPARE_MIN_RUNS <= len(ids) <= COMPARE_MAX_RUNS:
            raise serializers.ValidationError(f"Compare {COMPARE_MIN_RUNS} to {COMPARE_MAX_RUNS} runs; got {len(ids)}.")
        return ids


class PodSecondSerializer(serializers.Serializer):
    requests = serializers.IntegerField()
    failures = serializers.IntegerField()
    p95_ms = serializers.FloatField(allow_null=True)
    cpu = serializers.FloatField(allow_null=True, help_text="Cores used (1.0 = one full core).")
    memory_bytes = serializers.IntegerField(allow_null=True)
    ready = serializers.BooleanField()


class SecondSerializer(serializers.Serializer):
    """One recorded second of a run (metrics_app.selectors.samples_since)."""

    t = serializers.FloatField(help_text="Seconds since the run started.")
    users = serializers.IntegerField()
    requests = serializers.IntegerField()
    failures = serializers.IntegerField()
    rps = serializers.FloatField()
    failures_per_s = serializers.FloatField()
    p50_ms = serializers.FloatField(allow_null=True)
    p95_ms = serializers.FloatField(allow_null=True)
    p99_ms = serializers.FloatField(allow_null=True)
    max_ms = serializers.FloatField(allow_null=True)
    active_connections = serializers.IntegerField()
    pods = serializers.DictField(child=PodSecondSerializer(), help_text='Per pod, "unattributed" included.')


class SamplesSerializer(serializers.Serializer):
    """The shape of `GET /api/runs/<id>/samples/` (documentation: the view returns the selector's dicts)."""

    run = serializers.IntegerField()
    status = serializers.CharField()
    samples = SecondSerializer(many=True)


class CompareRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField(allow_null=True)
    target = serializers.DictField(help_text="id, name, kind.")
    scenario = serializers.DictField(help_text="id, name, shape, users, duration_s, arrival_rate.")
    summary = serializers.DictField(help_text="The run's summary (ARCHITECTURE.md s6).")


class CompareFigureSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    unit = serializers.CharField(allow_blank=True)
    better = serializers.ChoiceField(choices=["higher", "lower"], allow_null=True)
    values = serializers.ListField(child=serializers.FloatField(allow_null=True), help_text="One per run.")
    deltas = serializers.ListField(child=serializers.FloatField(allow_null=True), help_text="Run minus the first.")
    delta_pct = serializers.ListField(child=serializers.FloatField(allow_null=True))
    verdicts = serializers.ListField(child=serializers.ChoiceField(
        choices=["same", "within noise", "not comparable", "better", "worse"], allow_null=True))


class CompareSeriesSerializer(serializers.Serializer):
    t = serializers.ListField(child=serializers.FloatField())
    rps = serializers.ListField(child=serializers.FloatField(allow_null=True))
    p95_ms = serializers.ListField(child=serializers.FloatField(allow_null=True))
    score = serializers.ListField(child=serializers.FloatField(allow_null=True))
    pod_spread = serializers.ListField(child=serializers.FloatField(allow_null=True), help_text="max / mean.")


class CompareSerializer(serializers.Serializer):
    """The shape of `GET /api/runs/compare/` (documentation: the view returns the service's dict)."""

    runs = CompareRunSerializer(many=True, help_text="In the order asked; the first is the reference.")
    figures = CompareFigureSerializer(many=True, help_text="Every summary figure, compared with the first run.")
    notes = serializers.ListField(child=serializers.CharField())
    series = serializers.DictField(child=CompareSeriesSerializer(), help_text="Per run id, a value per recorded second.")
    threshold = serializers.FloatField(help_text="Balance threshold of the first run, percent.")
