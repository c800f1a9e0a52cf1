"""Load tests: what is tested (Target), how (Scenario), and each run (LoadTestRun).

Field bounds live on the fields (validators) and again as database constraints, so
a bad value is a field error in a form or the API and can never reach a table.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Cast
from django.urls import reverse

from clusters.algorithms import ALGORITHMS
from clusters.balance import MAX_DISTINCT_PODS, POD_NAME_MAX, ExpectedPods, clean_pod_name
from clusters.base import ClusterError
from clusters.kubernetes.balancers import (
    DEFAULT_KUBERNETES_BALANCER,
    KUBERNETES_BALANCERS,
    MAX_SLOW_START_S,
    TRAFFIC_DISTRIBUTION_ALIASES,
    TRAFFIC_DISTRIBUTIONS,
)
from clusters.sandbox.backends import BALANCER_BACKENDS, DEFAULT_BACKEND
from clusters.sandbox.config import DEFAULT_RETRIES, MAX_RETRIES
from clusters.sandbox.stateful import DEFAULT_DURABILITY, DURABILITY_MODES, STORES
from clusters.targets import TARGET_KINDS, TargetSpec, target_kind
from lbsite.db import NullsOrderedIndex
from tests_app.choices import (
    Attribution,
    RunStatus,
    Shape,
    algorithm_choices,
    balancer_choices,
    durability_choices,
    kubernetes_balancer_choices,
    stateful_choices,
    target_kind_choices,
    traffic_distribution_choices,
)
from tests_app.engine.config import is_header_name
from tests_app.scenario_spec import DEFAULTS, ScenarioSpec

MAX_PODS = 64
PODS_RANGE = f"must be from 1 to {MAX_PODS}"
MAX_USERS = 100_000
RUN_NAME_LENGTH = 200
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")


class Target(models.Model):
    Attribution = Attribution

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="targets")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=target_kind_choices, default="sandbox")

    # sandbox
    pods = models.PositiveSmallIntegerField(
        default=4, validators=[MinValueValidator(1, PODS_RANGE), MaxValueValidator(MAX_PODS, PODS_RANGE)],
        help_text="Sandbox pods (replicas).",
    )
    nodes = models.PositiveSmallIntegerField(default=2, validators=[MinValueValidator(1), MaxValueValidator(16)])
    balancer = models.CharField(
        max_length=16, choices=balancer_choices, default=DEFAULT_BACKEND,
        error_messages={"invalid_choice": f"unknown balancer %(value)r; one of {', '.join(BALANCER_BACKENDS)}"},
        help_text="What serves the sandbox in front of its pods: LB Lab's balancer, or real nginx or HAProxy.",
    )
    algorithm = models.CharField(
        max_length=32, choices=algorithm_choices, default="round_robin",
        error_messages={"invalid_choice": f"unknown algorithm %(value)r; one of {', '.join(ALGORITHMS)}"},
    )
    service_time_ms = models.FloatField(
        default=1.0, validators=[MinValueValidator(0.0)], help_text="Mean service time of a sandbox pod."
    )
    retries = models.PositiveSmallIntegerField(
        default=DEFAULT_RETRIES, validators=[MaxValueValidator(MAX_RETRIES)],
        help_text="Sandbox balancer: retries of a failed idempotent request on another pod (0: off), "
                  "as nginx's proxy_next_upstream.",
    )

    stateful = models.CharField(
        max_length=16, blank=True, default="", choices=stateful_choices,
        error_messages={"invalid_choice": f"unknown stateful store %(value)r; one of {', '.join(STORES)}"},
        help_text="Sandbox: a store started beside the pods, which their /kv endpoints write to (primary_kill and "
                  "primary_stop act on it). Empty: none.",
    )
    durability = models.CharField(
        max_length=8, default=DEFAULT_DURABILITY, choices=durability_choices,
        error_messages={"invalid_choice": f"unknown durability mode %(value)r; one of {', '.join(DURABILITY_MODES)}"},
        help_text="When a write to the stateful store counts as confirmed: sync (a replica has it: Redis WAIT 1, best "
                  "effort, so LB Lab measures what is lost) or async (the primary's reply).",
    )

    # url
    base_url = models.URLField(blank=True, help_text="Base URL load is sent to, e.g. http://127.0.0.1:8080")
    follow_redirects = models.BooleanField(
        default=False, help_text="Follow 3xx answers, each only to the same origin or an allow-listed address. "
                                 "Off: a 3xx counts as the response.",
    )

    # kubernetes
    context = models.CharField(max_length=200, blank=True, help_text="kubeconfig context; empty: current.")
    namespace = models.CharField(max_length=63, blank=True)
    service = models.CharField(max_length=253, blank=True, help_text="Service or ingress name.")
    label_selector = models.CharField(max_length=500, blank=True)
    kubernetes_balancer = models.CharField(
        max_length=16, choices=kubernetes_balancer_choices, default=DEFAULT_KUBERNETES_BALANCER,
        help_text="What balances the pods, whose settings LB Lab (the tuner) may change: Envoy Gateway, Istio, "
                  "ingress-nginx, or none (kube-proxy alone).",
    )
    route = models.CharField(
        max_length=253, blank=True,
        help_text="The HTTPRoute (Envoy Gateway) or Ingress (ingress-nginx) the balancer settings attach to; "
                  "empty: named as the service.",
    )

    traffic_distribution = models.CharField(
        max_length=16, blank=True, default="", choices=traffic_distribution_choices,
        help_text="Balancer none (kube-proxy): the Service's trafficDistribution for the run, PreferSameZone or "
                  "PreferSameNode (Kubernetes 1.35; PreferClose is PreferSameZone's older name). Empty: as it is.",
    )

    slow_start_s = models.FloatField(
        default=0.0, validators=[MinValueValidator(0.0), MaxValueValidator(MAX_SLOW_START_S)],
        help_text="Envoy Gateway or Istio, with round robin or least request: new pods' share of requests ramped "
                  "up over this many seconds (slowStart.window, warmupDurationSecs), for the run. 0: off.",
    )

    # pod attribution
    attribution = models.CharField(max_length=16, choices=Attribution.choices, default=Attribution.HEADER)
    pod_header = models.CharField(max_length=100, default="X-Pod", help_text="Matched case-insensitively.")
    pod_json_field = models.CharField(max_length=100, blank=True, help_text="e.g. podinfo's `hostname`.")
    prometheus_url = models.URLField(blank=True)
    prometheus_query = models.CharField(max_length=1000, blank=True)
    expected_pods = models.JSONField(
        default=list, blank=True,
        help_text="Pod names expected to receive traffic, so a pod that gets nothing counts as zero.",
    )
    expected_pod_count = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text="How many pods should get traffic when their names are not known; missing ones count as zero.",
    )
    weights = models.JSONField(
        default=dict, blank=True, help_text="Expected share per pod, e.g. {\"pod-0\": 2, \"pod-1\": 1}."
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="target_unique_name_per_owner"),
            models.CheckConstraint(condition=Q(pods__gte=1, pods__lte=MAX_PODS), name="target_pods_range"),
            models.CheckConstraint(condition=Q(nodes__gte=1), name="target_nodes_min"),
            models.CheckConstraint(condition=Q(service_time_ms__gte=0), name="target_service_time_nonnegative"),
            models.CheckConstraint(condition=Q(kind__in=list(TARGET_KINDS)), name="target_kind_valid"),
            models.CheckConstraint(condition=Q(algorithm__in=list(ALGORITHMS)), name="target_algorithm_valid"),
            models.CheckConstraint(condition=Q(balancer__in=list(BALANCER_BACKENDS)), name="target_balancer_valid"),
            models.CheckConstraint(condition=Q(kubernetes_balancer__in=list(KUBERNETES_BALANCERS)),
                                   name="target_kubernetes_balancer_valid"),
            models.CheckConstraint(condition=Q(stateful__in=["", *STORES]), name="target_stateful_valid"),
            models.CheckConstraint(condition=Q(traffic_distribution__in=["", *TRAFFIC_DISTRIBUTIONS]),
                                   name="target_traffic_distribution_valid"),
            models.CheckConstraint(condition=Q(slow_start_s__gte=0, slow_start_s__lte=MAX_SLOW_START_S),
                                   name="target_slow_start_range"),
            models.CheckConstraint(condition=Q(durability__in=list(DURABILITY_MODES)), name="target_durability_valid"),
            models.CheckConstraint(condition=~Q(kind="url") | ~Q(base_url=""), name="target_url_needs_base_url"),
            models.CheckConstraint(
                condition=~Q(kind="kubernetes") | (~Q(namespace="") & ~Q(service="")),
                name="target_kubernetes_needs_namespace_and_service",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        # Locust doubles the slash of every path after a trailing one (ARCHITECTURE.md s9).
        self.base_url = self.base_url.rstrip("/")
        self.traffic_distribution = TRAFFIC_DISTRIBUTION_ALIASES.get(self.traffic_distribution,
                                                                     self.traffic_distribution)
        if self.kind in TARGET_KINDS:  # an unknown kind is the field's own error
            for name, message in TARGET_KINDS[self.kind].required.items():
                if not getattr(self, name):
                    errors[name] = message
            for name in ("traffic_distribution", "slow_start_s"):
                if getattr(self, name) and name not in TARGET_KINDS[self.kind].fields:
                    errors[name] = "A setting of the balancer in front of Kubernetes pods: a kubernetes target only."
            if self.stateful and "stateful" not in TARGET_KINDS[self.kind].fields:
                errors["stateful"] = "A stateful store runs beside the sandbox's pods only: use a sandbox target."
            elif (self.balancer in BALANCER_BACKENDS and self.algorithm in ALGORITHMS  # else their own errors
                  and self.stateful in ("", *STORES) and self.durability in DURABILITY_MODES):
                try:  # the kind's check of what it starts (the sandbox: the balancer runs the algorithm)
                    target_kind(self.kind).check_spec(self.spec())
                except ClusterError as error:
                    errors[error.field or "kind"] = error.args[0]
        if self.attribution == self.Attribution.HEADER and not self.pod_header.strip():
            errors["pod_header"] = "Name the response header that carries the pod."
        elif self.attribution == self.Attribution.HEADER and not is_header_name(self.pod_header):
            errors["pod_header"] = "Not a header name: letters, digits and !#$%&'*+-.^_`|~ only, no spaces."
        if self.attribution == self.Attribution.JSON_FIELD and not self.pod_json_field:
            errors["pod_json_field"] = "Name the JSON field that carries the pod."
        if self.attribution == self.Attribution.PROMETHEUS and not self.prometheus_url:
            errors["prometheus_url"] = "Prometheus attribution needs the Prometheus URL."
        elif self.attribution == self.Attribution.PROMETHEUS and self.kind in TARGET_KINDS:
            try:  # none given: the balancer's own per-pod metric, where its kind has one
                self.attribution_query()
            except ClusterError as error:
                errors["prometheus_query"] = error.args[0]
        if not isinstance(self.expected_pods, list) or not all(
            isinstance(p, str) and p for p in self.expected_pods
        ):
            errors["expected_pods"] = "A list of pod names."
        elif len(self.expected_pods) > MAX_DISTINCT_PODS:
            errors["expected_pods"] = f"At most {MAX_DISTINCT_PODS} pods (the pods a run keeps apart)."
        elif bad := [name for name in self.expected_pods if clean_pod_name(name) != name]:
            errors["expected_pods"] = (f"Not a pod name: {bad[0][:60]!r} (control characters, longer than "
                                       f"{POD_NAME_MAX}, or a name LB Lab gives rows itself).")
        if not isinstance(self.weights, dict) or not all(
            isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool) and v > 0
            for k, v in self.weights.items()
        ):
            errors["weights"] = "A mapping of pod name to a positive number."
        if errors:
            raise ValidationError(errors)
        # Allow-listing is checked by the service that starts load (tests_app.services),
        # because it depends on settings, not on the row alone.

    @property
    def where(self) -> str:
        """Where the load goes, as the target's kind says it (`sandbox 4 pods round_robin`, a URL...)."""
        return target_kind(self.kind).describe(self.spec())

    def attribution_query(self) -> str:
        """The PromQL of Prometheus attribution: the target's own, else its kind's (a Kubernetes
        balancer's per-pod metric); ClusterError when there is neither."""
        return self.prometheus_query or target_kind(self.kind).prometheus_query(self.spec())

    def spec(self) -> TargetSpec:
        """The target as its kind's adapter (clusters.targets) reads it."""
        values = {name: getattr(self, name) for name in TargetSpec.field_names()}
        values["expected_pods"] = tuple(self.expected_pods or ())
        values["weights"] = dict(self.weights or {})
        return TargetSpec(**values)

    def expected_pod_set(self) -> ExpectedPods:
        """The pods a run on this target is judged over and their expected shares (from the
        weights, mapped to pods as the target's kind maps them), from the target alone: the run
        driver, the live stream, the report and the comparison all judge with it."""
        return target_kind(self.kind).expected_pod_set(self.spec())


class Scenario(models.Model):
    """A load shape preset. Presets (owner empty) are managed in the admin."""

    Shape = Shape

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="scenarios",
        help_text="Empty for a shared preset.",
    )
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    shape = models.CharField(max_length=16, choices=Shape.choices, default=DEFAULTS.shape)
    users = models.PositiveIntegerField(
        default=DEFAULTS.users, validators=[MinValueValidator(1, "must be at least 1"), MaxValueValidator(MAX_USERS)]
    )
    spawn_rate = models.FloatField(default=DEFAULTS.spawn_rate, validators=[MinValueValidator(0.1)])
    duration_s = models.PositiveIntegerField(
        default=DEFAULTS.duration_s, validators=[MinValueValidator(1), MaxValueValidator(24 * 3600)]
    )
    spike_factor = models.FloatField(default=DEFAULTS.spike_factor, validators=[MinValueValidator(1.0)])
    spike_at_s = models.PositiveIntegerField(default=DEFAULTS.spike_at_s, help_text="Spike start, seconds into the run.")
    spike_length_s = models.PositiveIntegerField(default=DEFAULTS.spike_length_s)
    stages = models.JSONField(
        default=list, blank=True, help_text='For "stages": [{"duration_s": 10, "users": 50, "spawn_rate": 10}, ...]'
    )
    request_mix = models.JSONField(
        default=list, blank=True,
        help_text='[{"path": "/", "method": "GET", "weight": 1}]; empty means GET / only.',
    )
    think_time_min_ms = models.PositiveIntegerField(default=DEFAULTS.think_time_min_ms)
    think_time_max_ms = models.PositiveIntegerField(default=DEFAULTS.think_time_max_ms)
    keep_alive = models.BooleanField(default=DEFAULTS.keep_alive, help_text="Reuse connections (matters to L4 balancers).")
    arrival_rate = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.1)],
        help_text="Open model: requests/s arriving at a fixed Poisson rate whatever the answers, so overload shows "
                  "in latency (no coordinated omission); users then cap concurrency. Empty: closed model.",
    )
    threshold_balance = models.FloatField(
        default=DEFAULTS.threshold_balance, validators=[MinValueValidator(0.0), MaxValueValidator(100.0)],
        help_text="Minimum balance score, percent.",
    )
    threshold_p95_ms = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.0)], help_text="Maximum p95 latency; empty: none."
    )
    threshold_error_rate = models.FloatField(
        default=DEFAULTS.threshold_error_rate, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Maximum share of failed requests (0.01 = 1 %).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="scenario_unique_name_per_owner"),
            models.UniqueConstraint(
                fields=["name"], condition=Q(owner__isnull=True), name="scenario_unique_preset_name"
            ),
            models.CheckConstraint(condition=Q(shape__in=Shape.values), name="scenario_shape_valid"),
            models.CheckConstraint(condition=Q(users__gte=1, users__lte=MAX_USERS), name="scenario_users_range"),
            models.CheckConstraint(condition=Q(spawn_rate__gt=0), name="scenario_spawn_rate_positive"),
            models.CheckConstraint(condition=Q(duration_s__gte=1), name="scenario_duration_positive"),
            models.CheckConstraint(condition=Q(spike_factor__gte=1), name="scenario_spike_factor_min"),
            models.CheckConstraint(
                condition=Q(arrival_rate__isnull=True) | Q(arrival_rate__gt=0), name="scenario_arrival_rate_positive"
            ),
            models.CheckConstraint(
                condition=Q(think_time_max_ms__gte=models.F("think_time_min_ms")),
                name="scenario_think_time_ordered",
            ),
            models.CheckConstraint(
                condition=Q(threshold_balance__gte=0, threshold_balance__lte=100),
                name="scenario_threshold_balance_range",
            ),
            models.CheckConstraint(
                condition=Q(threshold_error_rate__gte=0, threshold_error_rate__lte=1),
                name="scenario_threshold_error_rate_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name if self.owner_id else f"{self.name} (preset)"

    @property
    def is_preset(self) -> bool:
        return self.owner_id is None

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.think_time_max_ms < self.think_time_min_ms:
            errors["think_time_max_ms"] = "Must be at least the minimum think time."
        if self.shape == self.Shape.SPIKE:
            if self.spike_length_s < 1:
                errors["spike_length_s"] = "A spike lasts at least one second."
            elif self.spike_at_s + self.spike_length_s > self.duration_s:
                errors["spike_length_s"] = "The spike must end within the duration."
        if self.shape == self.Shape.STAGES:
            problem = _stages_problem(self.stages)
            if problem:
                errors["stages"] = problem
            elif (staged := sum(stage["duration_s"] for stage in self.stages)) > self.duration_s:
                # the run ends at its duration: stages past it would silently never run
                errors["duration_s"] = f"The stages last {staged:g} s: make the duration at least that."
        problem = _request_mix_problem(self.request_mix)
        if problem:
            errors["request_mix"] = problem
        if errors:
            raise ValidationError(errors)

    def spec(self) -> ScenarioSpec:
        """The scenario as a run keeps it: typed and frozen, so later edits don't change history."""
        names = [name for name in ScenarioSpec.__dataclass_fields__ if name != "id"]
        return ScenarioSpec.from_dict({"id": self.pk, **{name: getattr(self, name) for name in names}})

    def frozen(self) -> dict:
        """`spec()` as stored in a run (`LoadTestRun.scenario_config`)."""
        return self.spec().to_dict()


STAGE_KEYS = ("duration_s", "users", "spawn_rate")
REQUEST_KEYS = ("path", "method", "weight", "name", "body")


def _unknown_keys(entry: dict, known: tuple[str, ...]) -> str | None:
    """The first key of an inline object that is none of `known`, said with the ones it may have."""
    unknown = sorted(set(entry) - set(known))
    return f"unknown field {unknown[0]!r} (one of {', '.join(known)})" if unknown else None


def _stages_problem(stages) -> str | None:
    if not isinstance(stages, list) or not stages:
        return "Give at least one stage: [{\"duration_s\": 10, \"users\": 50, \"spawn_rate\": 10}]."
    for index, stage in enumerate(stages, start=1):
        if not isinstance(stage, dict):
            return f"Stage {index} is not an object."
        if unknown := _unknown_keys(stage, STAGE_KEYS):
            return f"Stage {index}: {unknown}."
        duration, users = stage.get("duration_s"), stage.get("users")
        if not isinstance(duration, int | float) or isinstance(duration, bool) or duration <= 0:
            return f"Stage {index}: duration_s must be a positive number."
        if not isinstance(users, int) or isinstance(users, bool) or not 0 <= users <= MAX_USERS:
            return f"Stage {index}: users must be a whole number from 0 to {MAX_USERS}."
        rate = stage.get("spawn_rate", 1)
        if not isinstance(rate, int | float) or isinstance(rate, bool) or rate <= 0:
            return f"Stage {index}: spawn_rate must be a positive number."
    return None


def _request_mix_problem(mix) -> str | None:
    if not isinstance(mix, list):
        return "A list of requests."
    for index, entry in enumerate(mix, start=1):
        if not isinstance(entry, dict):
            return f"Request {index} is not an object."
        if unknown := _unknown_keys(entry, REQUEST_KEYS):
            return f"Request {index}: {unknown}."
        path = entry.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            return f"Request {index}: path must start with '/'."
        if str(entry.get("method", "GET")).upper() not in HTTP_METHODS:
            return f"Request {index}: method must be one of {', '.join(HTTP_METHODS)}."
        weight = entry.get("weight", 1)
        if not isinstance(weight, int | float) or isinstance(weight, bool) or weight <= 0:
            return f"Request {index}: weight must be a positive number."
        name = entry.get("name")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            return f"Request {index}: name, when given, is the text the endpoint is shown as."
        body = entry.get("body")
        if body is not None and not isinstance(body, str | dict | list):
            return f"Request {index}: body, when given, is text (sent as is) or JSON (an object or a list)."
    return None


# summary -> balance -> score as a number, on PostgreSQL (->> then a cast) and SQLite (JSON_EXTRACT) alike.
BALANCE_SCORE = Cast(KeyTextTransform("score", KeyTransform("balance", "summary")), models.FloatField())


class LoadTestRun(models.Model):
    Status = RunStatus

    FINISHED = (RunStatus.PASSED, RunStatus.FAILED, RunStatus.ERROR, RunStatus.CANCELLED)
    ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.STOPPING)  # waiting for a turn, or going
    staff_sees_all = True  # lbsite.permissions: staff review every user's runs (`loadtest`'s too)

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="runs")
    # Empty when asked for: saving names the run after its scenario and target (`default_name`).
    name = models.CharField(max_length=RUN_NAME_LENGTH, blank=True, default="", db_default="",
                            help_text="Empty: named after its scenario and target.")
    # PROTECT: a target with runs can't vanish from under their history.
    target = models.ForeignKey(Target, on_delete=models.PROTECT, related_name="runs")
    scenario = models.ForeignKey(
        Scenario, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs",
        help_text="The preset the run came from; the run keeps its own frozen copy.",
    )
    scenario_config = models.JSONField(help_text="Frozen copy of the scenario as it was at start.")
    chaos = models.JSONField(default=list, blank=True, help_text="Chaos steps of this run.")
    chaos_experiment = models.ForeignKey(
        "chaos_app.ChaosExperiment", null=True, blank=True, on_delete=models.SET_NULL, related_name="runs",
        help_text="The experiment the run's chaos steps came from; the run keeps its own frozen copy.",
    )
    chaos_settings = models.JSONField(
        default=dict, blank=True,
        help_text="Frozen at submission: the experiment's hypothesis, stop_conditions and rto_limits_s.",
    )
    autotune = models.ForeignKey(
        "metrics_app.TuningPolicy", null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    workers = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1), MaxValueValidator(64)])
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempt = models.PositiveSmallIntegerField(default=0, help_text="Times a worker has claimed this run.")
    # The run queue (tests_app.run_queue): a queued run waits for its turn; the dispatcher gives it
    # one (queueing its task, or letting the `loadtest` that waits for it start it).
    dispatched_at = models.DateTimeField(null=True, blank=True, help_text="When the queue gave the run its turn.")
    foreground = models.BooleanField(
        default=False, db_default=False,
        help_text="Run by the `loadtest` that created it, which waits for its turn, not by a worker.")
    stop_requested = models.BooleanField(default=False)
    summary = models.JSONField(default=dict, blank=True)
    # Kept as the run goes, before the second in which each replacement first appears is recorded,
    # so every replay of the run's seconds (the live page's backlog, the report, the comparison)
    # retires the same pods as the run's live scores did (`balance.ExpectedPods.replaced`).
    replaced_pods = models.JSONField(
        default=dict, blank=True,
        help_text="Pods the cluster replaced during the run under a new name: old name -> new name.")
    # What the cluster did during the run that its charts mark, as it happens (the cluster's events on
    # the load clock): scale changes (`scaled`: its autoscaler, a HorizontalPodAutoscaler, LB Lab's
    # tuner, someone else) and a stateful store's failover (`failover`), for the live page's `events`
    # message, the charts' marks and the summary's `scaling`.
    timeline = models.JSONField(
        default=list, blank=True,
        help_text="What the cluster did during the run that its charts mark: scale changes (scaled) and a stateful "
                  "store's failover (failover), each with t (s since the load started) and its details.")
    # A run of the user's own locustfile (`loadtest --locustfile`): what ran, kept with the run so its
    # history stays reproducible after the file changes. Empty for a scenario's request mix.
    locustfile = models.JSONField(
        default=dict, blank=True,
        help_text="The user's own locustfile: path, user_classes (those run), named (given by the user), "
                  "shape (its LoadTestShape, which drove the users).")
    locustfile_text = models.TextField(blank=True, default="", help_text="The locustfile's text as it ran.")
    locustfile_sha256 = models.CharField(max_length=64, blank=True, default="", db_index=True,
                                         help_text="SHA-256 of locustfile_text (hex).")
    verdict_passed = models.BooleanField(null=True, blank=True)
    verdict_reasons = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    # summary -> balance -> score, kept by the database itself: the runs list sorts by it through a
    # plain index that SQLite and PostgreSQL both use (an index on the JSON expression is matched by
    # SQLite only when a query spells it with the same literals, which Django's queries do not).
    balance_score = models.GeneratedField(expression=BALANCE_SCORE, output_field=models.FloatField(), db_persist=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="run_owner_created"),
            models.Index(fields=["status", "heartbeat_at"], name="run_status_heartbeat"),
            # the runs list sorted best score first (ORDER BY the same expression as the index)
            NullsOrderedIndex(models.F("owner"), models.F("balance_score").desc(nulls_last=True),
                              models.F("created_at").desc(), models.F("id").desc(), name="run_owner_balance_score"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=RunStatus.values), name="run_status_valid"),
            models.CheckConstraint(condition=Q(workers__gte=1), name="run_workers_min"),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(started_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="run_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"Run {self.pk} on {self.target} ({self.status})"

    def save(self, *args, **kwargs):
        if not self.name and kwargs.get("update_fields") is None:
            self.name = self.default_name()
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("run-detail", args=[self.pk])

    def default_name(self) -> str:
        """What the run ran on what: its scenario's name (or outline, for a custom one), or its locustfile's
        name, and its target's."""
        title = self.scenario_spec.title
        if self.locustfile:  # a run of the user's own locustfile is named after the file
            title = f"{self.locustfile['path'].rsplit('/', 1)[-1]} ({self.scenario_spec.outline})"
        return f"{title} on {self.target.name}"[:RUN_NAME_LENGTH]

    @property
    def page_url(self) -> str:
        """The run's live page as a full URL, for output read outside a browser (the CLI, CI logs)."""
        return settings.LBLAB_BASE_URL.rstrip("/") + self.get_absolute_url()

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def scenario_spec(self) -> ScenarioSpec:
        """The run's frozen scenario, read by attribute."""
        return ScenarioSpec.from_dict(self.scenario_config or {})

    @property
    def balance_threshold(self) -> float:
        """The balance threshold (percent) the run is judged by: its frozen scenario's."""
        return float(self.scenario_spec.threshold_balance)
