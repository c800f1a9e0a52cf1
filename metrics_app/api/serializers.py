from rest_framework import serializers

from metrics_app.models import TuningPolicy


class TuningPolicySerializer(serializers.ModelSerializer):
    class Meta:
        model = TuningPolicy
        fields = "__all__"
