from rest_framework import viewsets

from metrics_app.api.serializers import TuningPolicySerializer
from metrics_app.models import TuningPolicy


class TuningPolicyViewSet(viewsets.ReadOnlyModelViewSet):
    """Tuning policies are shared and managed in the admin; the API lists them for `autotune`."""

    queryset = TuningPolicy.objects.filter(enabled=True)
    serializer_class = TuningPolicySerializer
