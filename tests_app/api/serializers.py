from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from lbsite.api import FullCleanSerializerMixin
from tests_app.models import LoadTestRun, Scenario, Target
from tests_app.selectors import scenarios_visible_to, targets_visible_to
from tests_app.services import check_not_in_this_build, describe_target, validate_target_allowed


class TargetSerializer(FullCleanSerializerMixin, serializers.ModelSerializer):
    class Meta:
        model = Target
        exclude = ["owner"]
        read_only_fields = ["created_at", "updated_at"]
        validators = []  # uniqueness per owner is checked by full_clean, with the owner filled in

    def validate_instance(self, instance: Target) -> None:
        validate_target_allowed(instance)


class ScenarioSerializer(FullCleanSerializerMixin, serializers.ModelSerializer):
    is_preset = serializers.BooleanField(read_only=True)

    class Meta:
        model = Scenario
        exclude = ["owner"]
        read_only_fields = ["created_at", "updated_at"]
        validators = []


class VerdictSerializer(serializers.Serializer):
    passed = serializers.BooleanField(source="verdict_passed", allow_null=True)
    reasons = serializers.ListField(child=serializers.CharField(), source="verdict_reasons")


class LoadTestRunSerializer(serializers.ModelSerializer):
    target_name = serializers.CharField(source="target.name", read_only=True)
    verdict = VerdictSerializer(source="*", read_only=True)

    class Meta:
        model = LoadTestRun
        fields = [
            "id", "target", "target_name", "scenario", "scenario_config", "chaos", "autotune", "workers",
            "status", "created_at", "started_at", "ended_at", "heartbeat_at", "attempt", "stop_requested",
            "summary", "verdict", "error",
        ]
        read_only_fields = fields


class RunCreateSerializer(serializers.Serializer):
    """`POST /api/runs/`: target and scenario as ids of saved objects or inline objects (ARCHITECTURE.md s6)."""

    target = serializers.JSONField(help_text='A target id, or an object like {"kind": "sandbox", "pods": 4}.')
    scenario = serializers.JSONField(help_text='A scenario id, or an object like {"shape": "steady", "users": 10}.')
    chaos = serializers.ListField(child=serializers.CharField(), required=False, default=list,
                                  help_text="Steps KIND@START:DURATION[:SEVERITY][:POD].")
    autotune = serializers.IntegerField(required=False, allow_null=True, default=None)
    workers = serializers.IntegerField(required=False, default=1, min_value=1, max_value=16)

    def validate_target(self, value):
        user = self.context["request"].user
        if isinstance(value, int) and not isinstance(value, bool):
            target = targets_visible_to(user).filter(pk=value).first()
            if target is None:
                raise serializers.ValidationError("No such target.")
            return target
        if not isinstance(value, dict):
            raise serializers.ValidationError("A target id or a target object.")
        name = value.get("name") or describe_target(value)
        existing = targets_visible_to(user).filter(name=name).first()  # target_for reuses it: validate as such
        inline = TargetSerializer(existing, data={**value, "name": name}, context=self.context)
        if not inline.is_valid():
            raise serializers.ValidationError(inline.errors)
        # Validated fields only; saved (or reused by name) when the run is created.
        return dict(inline.validated_data)

    def validate_scenario(self, value):
        user = self.context["request"].user
        if isinstance(value, int) and not isinstance(value, bool):
            scenario = scenarios_visible_to(user).filter(pk=value).first()
            if scenario is None:
                raise serializers.ValidationError("No such scenario.")
            return scenario
        if not isinstance(value, dict):
            raise serializers.ValidationError("A scenario id or a scenario object.")
        inline = ScenarioSerializer(data={"name": "api", **value}, context=self.context)
        if not inline.is_valid():
            raise serializers.ValidationError(inline.errors)
        return Scenario(owner=user, **inline.validated_data)  # kept only as the run's frozen copy

    def validate(self, attrs):
        try:
            check_not_in_this_build(chaos=attrs.get("chaos", []), autotune=attrs.get("autotune"))
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from error
        return attrs


class SamplesQuerySerializer(serializers.Serializer):
    since = serializers.FloatField(required=False, default=-1.0, help_text="Only seconds after this t.")
