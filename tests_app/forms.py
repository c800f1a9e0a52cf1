from django import forms
from django.core.exceptions import ValidationError

from metrics_app.models import TuningPolicy
from tests_app.models import MAX_PODS, Algorithm, Scenario, Shape, Target
from tests_app.selectors import scenarios_visible_to, targets_visible_to
from tests_app.services import check_not_in_this_build, describe_target, validate_target_allowed


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


class RangeInput(forms.NumberInput):
    """A slider; the page shows its value next to it (static/js/forms.js)."""

    input_type = "range"


class RunForm(forms.Form):
    """The new-run page: a saved target or a new sandbox, a preset or a custom scenario.

    Validation is the models' own (full_clean) and the same refusals as the API and the CLI
    (`check_not_in_this_build`), so the page can never accept what they refuse.
    """

    target = forms.ModelChoiceField(queryset=Target.objects.none(), required=False, empty_label="A new sandbox cluster")
    sandbox_pods = forms.IntegerField(label="Sandbox pods", initial=4, min_value=1, max_value=MAX_PODS)
    sandbox_algorithm = forms.ChoiceField(label="Balancing algorithm", choices=Algorithm.choices,
                                          initial=Algorithm.ROUND_ROBIN)
    scenario = forms.ModelChoiceField(queryset=Scenario.objects.none(), required=False, empty_label="Custom")
    shape = forms.ChoiceField(choices=Shape.choices, initial=Shape.STEADY)
    # Slider ranges for a browser session; the API and the CLI take larger runs.
    users = forms.IntegerField(initial=10, min_value=1, max_value=1000, widget=RangeInput)
    spawn_rate = forms.FloatField(label="Spawn rate (users/s)", initial=10, min_value=1, max_value=100, widget=RangeInput)
    duration_s = forms.IntegerField(label="Duration (s)", initial=30, min_value=5, max_value=3600,
                                    widget=RangeInput(attrs={"step": 5}))
    workers = forms.IntegerField(label="Locust workers", initial=1, min_value=1, max_value=16)
    chaos = forms.CharField(
        label="Chaos steps", required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line: KIND@START:DURATION[:SEVERITY][:POD], e.g. pod_kill@10s:0s.",
    )
    autotune = forms.ModelChoiceField(label="Auto-tune policy", queryset=TuningPolicy.objects.none(), required=False,
                                      empty_label="None")

    def __init__(self, *args, owner, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner = owner
        self.fields["target"].queryset = targets_visible_to(owner).order_by("name")
        self.fields["scenario"].queryset = scenarios_visible_to(owner).order_by("owner_id", "name")
        self.fields["autotune"].queryset = TuningPolicy.objects.filter(enabled=True).order_by("name")
        self.custom_scenario: Scenario | None = None

    def clean_chaos(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["chaos"].splitlines() if line.strip()]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if data["target"] is None:
            self._check_model(Target(owner=self.owner, **self.sandbox_fields()),
                              {"pods": "sandbox_pods", "algorithm": "sandbox_algorithm"})
        if data["scenario"] is None:
            self.custom_scenario = Scenario(
                owner=self.owner, name="custom", shape=data["shape"], users=data["users"],
                spawn_rate=data["spawn_rate"], duration_s=data["duration_s"],
            )
            self._check_model(self.custom_scenario, {}, exclude=["owner", "name"])
        try:
            check_not_in_this_build(chaos=data["chaos"], autotune=data["autotune"])
        except ValidationError as error:
            self.add_error(None, error)  # a dict of field errors: each lands on its field
        return data

    def sandbox_fields(self) -> dict:
        """The new sandbox target, named the way the CLI and the API name it (so it is reused)."""
        fields = {"kind": Target.Kind.SANDBOX, "pods": self.cleaned_data["sandbox_pods"],
                  "algorithm": self.cleaned_data["sandbox_algorithm"]}
        return {**fields, "name": describe_target(fields)}

    def chosen_scenario(self) -> Scenario:
        return self.cleaned_data["scenario"] or self.custom_scenario

    def _check_model(self, instance, field_names: dict[str, str], exclude=("owner", "name")) -> None:
        """The model's own validation, its errors shown on this form's fields."""
        try:
            instance.full_clean(exclude=list(exclude), validate_unique=False)
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                name = field_names.get(field, field)
                self.add_error(name if name in self.fields else None, messages)
