from django import forms
from django.core.exceptions import ValidationError

from tests_app.models import Target
from tests_app.services import validate_target_allowed


class TargetForm(forms.ModelForm):
    class Meta:
        model = Target
        fields = [
            "name", "kind", "pods", "nodes", "algorithm", "service_time_ms", "base_url", "context", "namespace",
            "service", "label_selector", "attribution", "pod_header", "pod_json_field", "prometheus_url",
            "prometheus_query", "expected_pods", "expected_pod_count", "weights",
        ]

    def __init__(self, *args, owner, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.owner = owner

    def _post_clean(self):
        super()._post_clean()  # the model's full_clean, field errors attached to fields
        if not self.errors:
            try:
                validate_target_allowed(self.instance)
            except ValidationError as error:
                self._update_errors(error)
