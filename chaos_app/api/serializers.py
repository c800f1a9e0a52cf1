from rest_framework import serializers

from chaos_app.models import ChaosExperiment
from lbsite.api import FullCleanSerializerMixin


class ChaosExperimentSerializer(FullCleanSerializerMixin, serializers.ModelSerializer):
    is_preset = serializers.SerializerMethodField()

    class Meta:
        model = ChaosExperiment
        exclude = ["owner"]
        read_only_fields = ["created_at", "updated_at"]
        validators = []

    def get_is_preset(self, obj) -> bool:
        return obj.owner_id is None
