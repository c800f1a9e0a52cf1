from chaos_app.api.serializers import ChaosExperimentSerializer
from chaos_app.models import ChaosExperiment
from lbsite.api import PresetOrOwnedModelViewSet


class ChaosExperimentViewSet(PresetOrOwnedModelViewSet):
    queryset = ChaosExperiment.objects.all()
    serializer_class = ChaosExperimentSerializer
    ordering_fields = ["name", "created_at"]
