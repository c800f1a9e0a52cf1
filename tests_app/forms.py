from django import forms
from django.core.exceptions import ValidationError

from clusters.faults import FAULT_KINDS
from metrics_app.models import TuningPolicy
from tests_app.choices import algorithm_choices, target_kind_choices
from tests_app.models import MAX_PODS, Scenario, Shape, Target
from tests_app.selectors import scenarios_visible_to, targets_visible_to
from tests_app.services import MAX_WORKERS, RunRejected, RunRequest, validate_target_allowed


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
        # the registries as they are now (a ModelForm's choices are read once, when its class is made)
        self.fields["kind"].choices = target_kind_choices()
        self.fields["algorithm"].choices = algorithm_choices()

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

    The fields check their own shape; what the run asks for is checked by
    `tests_app.services.submit_run` (the API's and the CLI's rules too), whose errors
    `add_rejection` puts on these fields, all in one round.
    """

    target = forms.ModelChoiceField(queryset=Target.objects.none(), required=False, empty_label="A new sandbox cluster")
    sandbox_pods = forms.IntegerField(label="Sandbox pods", initial=4, min_value=1, max_value=MAX_PODS)
    sandbox_algorithm = forms.ChoiceField(label="Balancing algorithm", initial="round_robin")
    scenario = forms.ModelChoiceField(queryset=Scenario.objects.none(), required=False, empty_label="Custom")
    shape = forms.ChoiceField(choices=Shape.choices, initial=Shape.STEADY)
    # Slider ranges for a browser session; the API and the CLI take larger runs.
    users = forms.IntegerField(initial=10, min_value=1, max_value=1000, widget=RangeInput)
    spawn_rate = forms.FloatField(label="Spawn rate (users/s)", initial=10, min_value=1, max_value=100, widget=RangeInput)
    duration_s = forms.IntegerField(label="Duration (s)", initial=30, min_value=5, max_value=3600,
                                    widget=RangeInput(attrs={"step": 5}))
    workers = forms.IntegerField(label="Locust workers", initial=1, min_value=1, max_value=MAX_WORKERS)
    chaos = forms.CharField(
        label="Chaos steps", required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line: KIND@START:DURATION[:SEVERITY][:POD], e.g. pod_kill@10s:0s.",
    )
    autotune = forms.ModelChoiceField(label="Auto-tune policy", queryset=TuningPolicy.objects.none(), required=False,
                                      empty_label="None")

    # Where an error of the run request's target or scenario is shown on this form.
    TARGET_FIELDS = {"pods": "sandbox_pods", "algorithm": "sandbox_algorithm"}

    def __init__(self, *args, owner, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner = owner
        self.fields["target"].queryset = targets_visible_to(owner).order_by("name")
        self.fields["scenario"].queryset = scenarios_visible_to(owner).order_by("owner_id", "name")
        self.fields["autotune"].queryset = TuningPolicy.objects.filter(enabled=True).order_by("name")
        self.fields["sandbox_algorithm"].choices = algorithm_choices()  # the registries as they are now
        self.fields["chaos"].help_text += f" Kinds: {', '.join(FAULT_KINDS)}."

    def clean_chaos(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["chaos"].splitlines() if line.strip()]

    def run_request(self) -> RunRequest:
        data = self.cleaned_data
        target = data["target"] or {"kind": "sandbox", "pods": data["sandbox_pods"],
                                    "algorithm": data["sandbox_algorithm"]}
        scenario = data["scenario"] or {"name": "custom", "shape": data["shape"], "users": data["users"],
                                        "spawn_rate": data["spawn_rate"], "duration_s": data["duration_s"]}
        return RunRequest(target=target, scenario=scenario, chaos=data["chaos"],
                          autotune=data["autotune"].pk if data["autotune"] else None, workers=data["workers"])

    def add_rejection(self, rejected: RunRejected) -> None:
        """Every error of a rejected run request on the field it belongs to."""
        for name, problems in rejected.errors.items():
            if not isinstance(problems, dict):
                self.add_error(name if name in self.fields else None, problems)
                continue
            for inner, messages in problems.items():
                shown = self.TARGET_FIELDS.get(inner, inner) if name == "target" else inner
                self.add_error(shown if shown in self.fields else None, messages)
