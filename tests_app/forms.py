from __future__ import annotations

import math

from django import forms
from django.core.exceptions import ValidationError

from chaos_app.models import ChaosExperiment
from chaos_app.services import experiments_visible_to
from clusters.algorithms import ALGORITHMS
from clusters.durations import SpecError, parse_duration
from clusters.faults import FAULT_KINDS
from clusters.kubernetes.balancers import DEFAULT_KUBERNETES_BALANCER
from clusters.sandbox.backends import BALANCER_BACKENDS, DEFAULT_BACKEND
from clusters.sandbox.config import DEFAULT_RETRIES, MAX_RETRIES
from clusters.sandbox.stateful import DEFAULT_DURABILITY
from clusters.targets import TARGET_KINDS, kinds_using
from metrics_app.models import TuningPolicy
from tests_app.choices import (
    Attribution,
    algorithm_choices,
    balancer_choices,
    durability_choices,
    kubernetes_balancer_choices,
    stateful_choices,
    target_kind_choices,
)
from tests_app.models import HTTP_METHODS, MAX_PODS, LoadTestRun, Scenario, Shape, Target
from tests_app.scenario_spec import DEFAULTS
from tests_app.selectors import scenarios_visible_to, targets_visible_to
from tests_app.services import (
    MAX_WORKERS,
    NOT_IN_THIS_BUILD,
    RunRejected,
    RunRequest,
    check_run,
    registered_locustfiles,
    submit_run,
    validate_target_allowed,
)


class OptionHelpSelect(forms.Select):
    """A select whose options each carry one line of help (`data-help`, from `help_for(value)`);
    static/js/forms.js shows the chosen option's under the select."""

    option_help = True  # templates/tests_app/_field.html leaves a place for it

    def __init__(self, attrs=None, choices=(), *, help_for=None):
        super().__init__(attrs, choices)
        self.help_for = help_for or (lambda value: "")

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        text = self.help_for(value)
        if text:
            option["attrs"]["data-help"] = text
        return option


def balancer_help(value) -> str:
    backend = BALANCER_BACKENDS.get(str(value))
    return backend.help if backend else ""


def algorithm_help(value) -> str:
    algorithm = ALGORITHMS.get(str(value))  # the registry as it is now
    return algorithm.help if algorithm else ""


def target_kind_help(value) -> str:
    kind = TARGET_KINDS.get(str(value))  # the registry as it is now
    return kind.help if kind else ""


class SliderNumberInput(forms.NumberInput):
    """A number input with a slider beside it over the usual range (`low`..`high`): the slider is
    drawn by templates/tests_app/_field.html and kept in step by static/js/forms.js; the number
    takes any value, and submit_run says what is too much."""

    def __init__(self, *, low, high, step=1, attrs=None):
        super().__init__({"step": "any", "min": low, **(attrs or {})})
        self.slider = {"min": low, "max": high, "step": step}


class TargetForm(forms.ModelForm):
    """A target's page: the fields of the chosen kind only (the target-kind registry says which)."""

    # Attribution fields shown only for the attribution that reads them (Target.clean requires them there).
    ATTRIBUTION_FIELDS = {"pod_header": (Attribution.HEADER,), "pod_json_field": (Attribution.JSON_FIELD,),
                          "prometheus_url": (Attribution.PROMETHEUS,), "prometheus_query": (Attribution.PROMETHEUS,)}

    class Meta:
        model = Target
        fields = [
            "name", "kind", "pods", "nodes", "balancer", "algorithm", "service_time_ms", "retries", "base_url",
            "follow_redirects", "context", "namespace",
            "service", "label_selector", "kubernetes_balancer", "route", "traffic_distribution", "slow_start_s",
            "attribution",
            "pod_header", "pod_json_field",
            "prometheus_url",
            "prometheus_query", "expected_pods", "expected_pod_count", "weights",
        ]
        widgets = {
            "kind": OptionHelpSelect(help_for=target_kind_help), "algorithm": OptionHelpSelect(help_for=algorithm_help),
            "balancer": OptionHelpSelect(help_for=balancer_help),
            "expected_pods": forms.Textarea(attrs={"rows": 2}), "weights": forms.Textarea(attrs={"rows": 2}),
        }
        labels = {"base_url": "Base URL", "service_time_ms": "Service time (ms)", "label_selector": "Label selector",
                  "prometheus_url": "Prometheus URL", "kubernetes_balancer": "Balancer",
                  "route": "HTTPRoute or Ingress", "traffic_distribution": "Traffic distribution",
                  "slow_start_s": "Slow start (s)"}

    def __init__(self, *args, owner, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.owner = owner
        # the registries as they are now (a ModelForm's choices are read once, when its class is made)
        self.fields["kind"].choices = target_kind_choices()
        self.fields["algorithm"].choices = algorithm_choices()
        self.fields["retries"].required = False
        self.fields["balancer"].choices = balancer_choices()
        self.fields["balancer"].required = False  # not sent: LB Lab's own (the model's default)
        self.fields["kubernetes_balancer"].choices = kubernetes_balancer_choices()
        self.fields["kubernetes_balancer"].required = False  # not sent: kube-proxy alone (the model's default)
        self.fields["slow_start_s"].required = False  # not sent: off

    def shown_fields(self) -> list[tuple[forms.BoundField, str]]:
        """Each field with the condition it is shown under (`id_kind=url,mirror`; empty: always):
        a kind's own fields for that kind, an attribution's for that attribution."""
        kinds = kinds_using()
        shown = []
        for field in self:
            if field.name in kinds:
                shown.append((field, f"id_kind={','.join(kinds[field.name])}"))
            elif field.name in self.ATTRIBUTION_FIELDS:
                shown.append((field, f"id_attribution={','.join(self.ATTRIBUTION_FIELDS[field.name])}"))
            else:
                shown.append((field, ""))
        return shown

    def clean_retries(self) -> int:
        """Empty (a target of another kind, or left blank): the balancer's default."""
        retries = self.cleaned_data.get("retries")
        return DEFAULT_RETRIES if retries is None else retries
    def clean_balancer(self) -> str:
        return self.cleaned_data.get("balancer") or DEFAULT_BACKEND

    def clean_slow_start_s(self) -> float:
        """Empty (a target of another kind, or left blank): no slow start."""
        seconds = self.cleaned_data.get("slow_start_s")
        return 0.0 if seconds is None else seconds

    def clean_kubernetes_balancer(self) -> str:
        return self.cleaned_data.get("kubernetes_balancer") or DEFAULT_KUBERNETES_BALANCER

    def clean_name(self) -> str:
        # (owner, name) is unique, and the owner is not a field here, so the model form skips it.
        name = self.cleaned_data["name"]
        if targets_visible_to(self.instance.owner).filter(name=name).exclude(pk=self.instance.pk).exists():
            raise ValidationError(f"You already have a target named “{name}”.")
        return name

    def _post_clean(self):
        super()._post_clean()  # the model's full_clean, field errors attached to fields
        if not self.errors:
            try:
                validate_target_allowed(self.instance)
            except ValidationError as error:
                self._update_errors(error)


class PresetChoiceField(forms.ModelChoiceField):
    """Saved scenarios, each labelled with what it does (shape, users, duration)."""

    def label_from_instance(self, scenario: Scenario) -> str:
        return f"{scenario} — {scenario.spec().outline}"


def scenario_help(value) -> str:
    scenario = getattr(value, "instance", None)
    if scenario is None:
        return "Describe the load below: its shape, users, duration, requests and thresholds."
    return scenario.description


def _model_help(name: str) -> str:
    return str(Scenario._meta.get_field(name).help_text)


class RunForm(forms.Form):
    """The new-run page: a saved target or a new sandbox, a preset or a custom scenario with every
    field the API takes.

    The fields only read their values (a number is a number); what the run asks for is checked by
    `tests_app.services.submit_run` (the API's and the CLI's rules too). `submit` shows every
    error in one round: the fields' own and submit_run's, on the fields they belong to.
    """

    name = forms.CharField(required=False, help_text="Empty: named after the scenario and the target.")
    target = forms.ModelChoiceField(queryset=Target.objects.none(), required=False, empty_label="A new sandbox cluster")
    sandbox_pods = forms.IntegerField(label="Sandbox pods", initial=4,
                                      widget=forms.NumberInput(attrs={"min": 1, "max": MAX_PODS}))
    sandbox_balancer = forms.ChoiceField(label="Balancer", initial=DEFAULT_BACKEND, required=False,
                                         widget=OptionHelpSelect(help_for=balancer_help))
    sandbox_algorithm = forms.ChoiceField(label="Balancing algorithm", initial="round_robin",
                                          widget=OptionHelpSelect(help_for=algorithm_help))
    sandbox_retries = forms.IntegerField(
        label="Balancer retries", initial=DEFAULT_RETRIES, required=False,
        widget=forms.NumberInput(attrs={"min": 0, "max": MAX_RETRIES}),
        help_text="Retries of a failed idempotent request on another pod (0: off), as nginx's proxy_next_upstream: "
                  "with them a pod kill is mostly hidden from users.")
    sandbox_stateful = forms.ChoiceField(
        label="Stateful store", required=False,
        help_text="A store started beside the pods (their /kv endpoints write to it), for primary_kill and "
                  "primary_stop and the durability probe.")
    sandbox_durability = forms.ChoiceField(
        label="Durability", initial=DEFAULT_DURABILITY, required=False,
        help_text="sync: a write counts once a replica has it (Redis WAIT 1, best effort: LB Lab measures what is "
                  "lost); async: on the primary's reply.")
    scenario = PresetChoiceField(queryset=Scenario.objects.none(), required=False,
                                 empty_label="Custom", widget=OptionHelpSelect(help_for=scenario_help))
    shape = forms.ChoiceField(choices=Shape.choices, initial=DEFAULTS.shape)
    # The sliders cover a browser session's usual range; the number beside each takes any value.
    users = forms.IntegerField(initial=DEFAULTS.users, widget=SliderNumberInput(low=1, high=1000))
    spawn_rate = forms.FloatField(label="Spawn rate (users/s)", initial=DEFAULTS.spawn_rate,
                                  widget=SliderNumberInput(low=1, high=100))
    duration_s = forms.IntegerField(label="Duration (s)", initial=DEFAULTS.duration_s,
                                    widget=SliderNumberInput(low=5, high=3600, step=5))
    spike_at_s = forms.IntegerField(required=False, label="Spike starts at (s)", initial=10,
                                    widget=forms.NumberInput(attrs={"min": 0}))
    spike_length_s = forms.IntegerField(required=False, label="Spike lasts (s)", initial=10,
                                        widget=forms.NumberInput(attrs={"min": 1}))
    spike_factor = forms.FloatField(required=False, label="Spike factor (× users)", initial=DEFAULTS.spike_factor,
                                    widget=forms.NumberInput(attrs={"min": 1, "step": "any"}))
    stages = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4, "placeholder": "30s 20\n1m 50 10\n30s 0"}),
        help_text="One per line: DURATION USERS [SPAWN_RATE], as k6's stages: users move to USERS at SPAWN_RATE "
                  "users/s (default 1) and the run lasts as long as the stages.",
    )
    request_mix = forms.CharField(
        label="Request mix", required=False, widget=forms.Textarea(attrs={"rows": 3, "placeholder": "GET / 3\nGET /api/items 1"}),
        help_text="One per line: [METHOD] PATH [WEIGHT], e.g. POST /cart 1. Empty: GET / only.",
    )
    think_time_min_ms = forms.IntegerField(required=False, label="Think time from (ms)", initial=DEFAULTS.think_time_min_ms,
                                           widget=forms.NumberInput(attrs={"min": 0}))
    think_time_max_ms = forms.IntegerField(required=False, label="Think time to (ms)", initial=DEFAULTS.think_time_max_ms,
                                           help_text="Each user waits a random time in this range between requests.",
                                           widget=forms.NumberInput(attrs={"min": 0}))
    keep_alive = forms.BooleanField(label="Keep connections alive", required=False, initial=DEFAULTS.keep_alive,
                                    help_text=_model_help("keep_alive"))
    arrival_rate = forms.FloatField(label="Arrival rate (requests/s)", required=False, help_text=_model_help("arrival_rate"),
                                    widget=forms.NumberInput(attrs={"min": 0, "step": "any"}))
    threshold_balance = forms.FloatField(required=False, label="Balance score threshold (%)", initial=DEFAULTS.threshold_balance,
                                         help_text=_model_help("threshold_balance"),
                                         widget=forms.NumberInput(attrs={"min": 0, "max": 100, "step": "any"}))
    threshold_p95_ms = forms.FloatField(label="p95 threshold (ms)", required=False, help_text=_model_help("threshold_p95_ms"),
                                        widget=forms.NumberInput(attrs={"min": 0, "step": "any"}))
    threshold_error_rate = forms.FloatField(required=False, label="Error rate threshold", initial=DEFAULTS.threshold_error_rate,
                                            help_text=_model_help("threshold_error_rate"),
                                            widget=forms.NumberInput(attrs={"min": 0, "max": 1, "step": "any"}))
    locustfile = forms.ChoiceField(
        label="Locustfile", required=False, widget=OptionHelpSelect(),
        help_text="A locustfile the operator registered: its user classes send the load instead of the request mix; "
                  "the scenario gives the users and the duration, unless the file has a LoadTestShape.")
    user_classes = forms.CharField(label="User classes", required=False,
                                   help_text="With a locustfile: run only these of its user classes, separated by "
                                             "spaces or commas. Empty: all of them.")
    workers = forms.IntegerField(label="Locust workers", initial=1, help_text=f"Locust worker processes, 1 to {MAX_WORKERS}.",
                                 widget=forms.NumberInput(attrs={"min": 1, "max": MAX_WORKERS}))
    chaos = forms.CharField(label="Chaos steps", required=False, widget=forms.Textarea(attrs={"rows": 2}),
                            help_text="One per line: KIND@START:DURATION[:SEVERITY][:TARGET], e.g. pod_kill@10s:0s, "
                                      "latency@5s:20s:high:pod-1.")
    experiment = forms.ModelChoiceField(label="Chaos experiment", queryset=ChaosExperiment.objects.none(),
                                        required=False, empty_label="None",
                                        help_text="Its steps, steady state and stop conditions, instead of the steps above.")
    autotune = forms.ModelChoiceField(label="Auto-tune policy", queryset=TuningPolicy.objects.none(), required=False,
                                      empty_label="None",
                                      help_text="Keeps the balance score at the policy's target by acting on the "
                                                "sandbox's balancer; each decision is shown on the run's page.")

    # Where an error of the run request's target is shown on this form.
    TARGET_FIELDS = {"pods": "sandbox_pods", "balancer": "sandbox_balancer", "algorithm": "sandbox_algorithm",
                     "retries": "sandbox_retries", "stateful": "sandbox_stateful",
                     "durability": "sandbox_durability"}
    SCENARIO_FIELDS = ("shape", "users", "spawn_rate", "duration_s", "request_mix", "think_time_min_ms",
                       "think_time_max_ms", "keep_alive", "arrival_rate", "threshold_balance", "threshold_p95_ms",
                       "threshold_error_rate")
    SHAPE_FIELDS = {Shape.SPIKE: ("spike_at_s", "spike_length_s", "spike_factor"), Shape.STAGES: ("stages",)}

    def __init__(self, *args, owner, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner = owner
        self.fields["target"].queryset = targets_visible_to(owner).order_by("name")
        self.fields["scenario"].queryset = scenarios_visible_to(owner).order_by("owner_id", "name")
        self.fields["autotune"].queryset = TuningPolicy.objects.filter(enabled=True).order_by("name")
        self.fields["experiment"].queryset = experiments_visible_to(owner).order_by("owner_id", "name")
        self.fields["sandbox_algorithm"].choices = algorithm_choices()  # the registries as they are now
        self.fields["sandbox_balancer"].choices = balancer_choices()
        self.fields["sandbox_stateful"].choices = [("", "None"), *stateful_choices()]
        self.fields["sandbox_durability"].choices = durability_choices()
        self.fields["chaos"].help_text += f" Kinds: {', '.join(FAULT_KINDS)}."
        self._offer_locustfiles()
        # Not offered as if they worked: shown disabled, with why (submit_run refuses them too).
        for name, reason in NOT_IN_THIS_BUILD.items():
            if name in self.fields:
                self.fields[name].widget.attrs["disabled"] = True
                self.fields[name].help_text = f"Not in this build: {reason}. " + self.fields[name].help_text

    def _offer_locustfiles(self) -> None:
        """The registered locustfiles that can run, each with its user classes (and its shape, under the
        select); those that cannot are named in the help with why."""
        registered = registered_locustfiles()
        runnable = [file for file in registered if not file.error]
        field = self.fields["locustfile"]
        field.choices = [("", "None: the scenario's request mix"), *(
            (file.name, f"{file.name} — {', '.join(file.user_classes)}") for file in runnable)]
        shapes = {file.name: f"Its LoadTestShape {file.shape} drives the users." for file in runnable if file.shape}
        field.widget.help_for = lambda value: shapes.get(str(value), "")
        if not registered:
            field.widget.attrs["disabled"] = True
            field.help_text = "None registered: the operator puts locustfiles in LBLAB_LOCUSTFILES_DIR."
        for file in registered:
            if file.error:
                field.help_text += f" Not offered: {file.error}."

    def clean_user_classes(self) -> list[str]:
        return self.cleaned_data["user_classes"].replace(",", " ").split()

    def clean_sandbox_balancer(self) -> str:
        return self.cleaned_data["sandbox_balancer"] or DEFAULT_BACKEND  # not sent: LB Lab's own

    def clean_sandbox_durability(self) -> str:
        return self.cleaned_data["sandbox_durability"] or DEFAULT_DURABILITY

    def clean_chaos(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["chaos"].splitlines() if line.strip()]

    def clean_stages(self) -> list[dict]:
        if self.cleaned_data.get("shape") != Shape.STAGES:
            return []
        stages, problems = [], []
        for number, line in _lines(self.cleaned_data["stages"]):
            words = line.split()
            try:
                if len(words) not in (2, 3):
                    raise ValueError("write DURATION USERS [SPAWN_RATE], e.g. 30s 20")
                stage = {"duration_s": _whole_if_whole(parse_duration(words[0])), "users": _integer(words[1], "users")}
                if len(words) == 3:
                    stage["spawn_rate"] = _number(words[2], "the spawn rate")
                stages.append(stage)
            except (SpecError, ValueError) as error:
                problems.append(f"Line {number}: {error}.")
        if problems:
            raise ValidationError(problems)
        return stages

    def clean_request_mix(self) -> list[dict]:
        mix, problems = [], []
        for number, line in _lines(self.cleaned_data["request_mix"]):
            words = line.split()
            method = words.pop(0).upper() if words and words[0].upper() in HTTP_METHODS else "GET"
            try:
                if len(words) not in (1, 2):
                    raise ValueError("write [METHOD] PATH [WEIGHT], e.g. GET /api/items 3")
                mix.append({"path": words[0], "method": method,
                            "weight": _number(words[1], "the weight") if len(words) == 2 else 1})
            except ValueError as error:
                problems.append(f"Line {number}: {error}.")
        if problems:
            raise ValidationError(problems)
        return mix

    def run_request(self) -> RunRequest:
        """The run the form asks for, from the fields that read well (one with an error of its own is
        left out, so submit_run judges the rest)."""
        data = self.cleaned_data
        target = data.get("target") or {"kind": "sandbox", **{
            name: data[field] for name, field in self.TARGET_FIELDS.items() if data.get(field) is not None}}
        scenario = data.get("scenario")
        if scenario is None:
            shape = data.get("shape")
            names = (*self.SCENARIO_FIELDS, *self.SHAPE_FIELDS.get(shape, ()))
            # an empty number is the scenario's default (`None` is also what "no p95 threshold" and
            # "closed model" are, and so their defaults)
            scenario = {name: data[name] for name in names if data.get(name) is not None}
            if shape == Shape.STAGES and data.get("stages"):  # the run lasts as long as its stages
                scenario["duration_s"] = math.ceil(sum(stage["duration_s"] for stage in data["stages"]))
        autotune = data.get("autotune")
        experiment = data.get("experiment")
        return RunRequest(target=target, scenario=scenario, chaos=data.get("chaos", []), workers=data.get("workers", 1),
                          experiment=experiment.pk if experiment else None,
                          autotune=autotune.pk if autotune else None, name=data.get("name", ""),
                          locustfile=data.get("locustfile") or None, user_classes=data.get("user_classes", []))

    def submit(self) -> LoadTestRun | None:
        """Start the run; None when anything is wrong, with every error on the form in one round."""
        valid = self.is_valid()
        try:
            if valid:
                return submit_run(owner=self.owner, request=self.run_request())
            check_run(owner=self.owner, request=self.run_request())
        except RunRejected as rejected:
            self.add_rejection(rejected)
        return None

    def add_rejection(self, rejected: RunRejected) -> None:
        """Every error of a rejected run request on the field it belongs to."""
        for name, problems in rejected.errors.items():
            if not isinstance(problems, dict):
                self.add_error(name if name in self.fields else None, problems)
                continue
            for inner, messages in problems.items():
                shown = self.TARGET_FIELDS.get(inner, inner) if name == "target" else inner
                self.add_error(shown if shown in self.fields else None, messages)


def _lines(text: str):
    """(line number, line) of the lines that say something."""
    return [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]


def _integer(word: str, what: str) -> int:
    try:
        return int(word)
    except ValueError:
        raise ValueError(f"{what} must be a whole number, not {word!r}") from None


def _number(word: str, what: str) -> float:
    try:
        value = float(word)
    except ValueError:
        raise ValueError(f"{what} must be a number, not {word!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a number, not {word!r}")
    return value


def _whole_if_whole(seconds: float) -> int | float:
    return int(seconds) if seconds == int(seconds) else seconds
