from __future__ import annotations

from rest_framework import serializers

from lbsite.api import FullCleanSerializerMixin
from tests_app.models import LoadTestRun, Scenario, Target
from tests_app.services import validate_target_allowed


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
