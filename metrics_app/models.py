"""Per-second history of a run, and auto-tuning policies and their decisions.

Counts are per second of the run; a run's totals are exact sums of its seconds.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from clusters.algorithms import ALGORITHMS
from clusters.base import ClusterError
from clusters.tuning.policy import Policy


class MetricSample(models.Model):
    run = models.ForeignKey("tests_app.LoadTestRun", on_delete=models.CASCADE, related_name="samples")
    t = models.FloatField(help_text="Seconds since the run started.")
    users = models.PositiveIntegerField(default=0)
    requests = models.PositiveIntegerField(default=0, help_text="Requests completed in this second.")
    failures = models.PositiveIntegerField(default=0)
    rps = models.FloatField(default=0.0)
    failures_per_s = models.FloatField(default=0.0)
    p50_ms = models.FloatField(null=True, blank=True)
    p95_ms = models.FloatField(null=True, blank=True)
    p99_ms = models.FloatField(null=True, blank=True)
    max_ms = models.FloatField(null=True, blank=True)
    active_connections = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["run", "t"]
        constraints = [
            models.UniqueConstraint(fields=["run", "t"], name="metricsample_unique_second"),
            models.CheckConstraint(condition=Q(t__gte=0), name="metricsample_t_nonnegative"),
            models.CheckConstraint(condition=Q(failures__lte=models.F("requests")), name="metricsample_failures_le_requests"),
            models.CheckConstraint(condition=Q(rps__gte=0, failures_per_s__gte=0), name="metricsample_rates_nonnegative"),
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} t={self.t:g}s"


class PodSample(models.Model):
    run = models.ForeignKey("tests_app.LoadTestRun", on_delete=models.CASCADE, related_name="pod_samples")
    t = models.FloatField()
    pod = models.CharField(max_length=253, help_text="Pod name, or 'unattributed'.")
    requests = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    p95_ms = models.FloatField(null=True, blank=True)
    cpu = models.FloatField(null=True, blank=True, help_text="CPU use, cores (1.0 = one full core).")
    memory_bytes = models.BigIntegerField(null=True, blank=True)
    ready = models.BooleanField(default=True)

    class Meta:
        ordering = ["run", "t", "pod"]
        indexes = [models.Index(fields=["run", "t"], name="podsample_run_t")]
        constraints = [
            models.UniqueConstraint(fields=["run", "t", "pod"], name="podsample_unique_pod_second"),
            models.CheckConstraint(condition=Q(t__gte=0), name="podsample_t_nonnegative"),
            models.CheckConstraint(condition=Q(failures__lte=models.F("requests")), name="podsample_failures_le_requests"),
            models.CheckConstraint(condition=Q(cpu__isnull=True) | Q(cpu__gte=0), name="podsample_cpu_nonnegative"),
            models.CheckConstraint(
                condition=Q(memory_bytes__isnull=True) | Q(memory_bytes__gte=0), name="podsample_memory_nonnegative"
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} t={self.t:g}s {self.pod}"


class RequestStats(models.Model):
    """A run's per-endpoint table and failures, as Locust's UI shows them: the run so far, as of
    second `t` (replaced each second, in the second's transaction), so a live page that loads
    or reloads mid-run shows them at once. One row per run: the percentiles of the run so far
    come from the plugin's histograms, which per-second rows could not add up to; the finished
    run's tables are in its summary (`endpoints`, `errors`)."""

    run = models.OneToOneField("tests_app.LoadTestRun", on_delete=models.CASCADE, primary_key=True,
                               related_name="request_stats")
    t = models.FloatField(help_text="The second these tables are as of (seconds since the start).")
    endpoints = models.JSONField(
        default=list, help_text='[{"endpoint": "GET /api/items", "requests", "failures", "rps", "p50_ms", ...}]')
    errors = models.JSONField(
        default=list, help_text='[{"endpoint", "type", "status", "message", "count", "first_s", "last_s"}]')

    class Meta:
        verbose_name_plural = "request stats"
        constraints = [models.CheckConstraint(condition=Q(t__gte=0), name="requeststats_t_nonnegative")]

    def __str__(self) -> str:
        return f"request stats of run {self.run_id} at t={self.t:g}s"


class CompareSeries(models.Model):
    """A finished run's per-second series for comparisons (metrics_app.comparison.run_series),
    stored once: a finished run's seconds never change, and reading them back from PodSample
    rows costs far more than reading this (kept apart from the run so its lists stay light)."""

    run = models.OneToOneField("tests_app.LoadTestRun", on_delete=models.CASCADE, primary_key=True,
                               related_name="compare_series")
    version = models.PositiveSmallIntegerField(help_text="Of the computation: older ones are computed again.")
    window_s = models.PositiveIntegerField()
    series = models.JSONField(help_text='{"t", "rps", "p95_ms", "score", "pod_spread"}: a value per second.')

    def __str__(self) -> str:
        return f"compare series of run {self.run_id}"


class TuningAction(models.TextChoices):
    # the names and labels of clusters.tuning.actions.ACTIONS (tests/metrics_app/test_model_constraints.py checks)
    SET_ALGORITHM = "set_algorithm", "Change algorithm"
    SET_WEIGHTS = "set_weights", "Change weights"
    SCALE = "scale", "Change replicas"
    ADVISE_CONNECTION_REUSE = "advise_connection_reuse", "Advise on connection reuse"


class TuningOutcome(models.TextChoices):
    APPLIED = "applied", "Applied"
    IMPROVED = "improved", "Improved the score"
    REVERTED = "reverted", "Reverted"
    FAILED = "failed", "Failed"
    RECOMMENDED = "recommended", "Recommended (dry run)"
    ADVISED = "advised", "Advice"


class TuningView(models.TextChoices):
    REQUESTS = "requests", "Requests per pod"
    UTILISATION = "utilisation", "Utilisation (in flight or CPU) per pod"


class TuningPolicy(models.Model):
    """How the auto-tuner may act to keep the balance score above target (admin-managed)."""

    Action = TuningAction

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    target_score = models.FloatField(default=95.0, validators=[MinValueValidator(0.0), MaxValueValidator(100.0)])
    window_s = models.PositiveIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(3600)],
        help_text="Seconds of samples the score is judged over.",
    )
    cooldown_s = models.PositiveIntegerField(
        default=15, validators=[MaxValueValidator(3600)], help_text="Seconds to wait after a change before the next."
    )
    allowed_actions = models.JSONField(default=list, help_text="Subset of set_algorithm, set_weights, scale.")
    algorithms = models.JSONField(default=list, blank=True, help_text="Algorithms the tuner may switch to.")
    min_replicas = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    max_replicas = models.PositiveSmallIntegerField(default=10, validators=[MinValueValidator(1)])
    max_weight = models.FloatField(
        default=10.0, validators=[MinValueValidator(1.0)], help_text="Largest weight ratio between two pods."
    )
    view = models.CharField(max_length=16, choices=TuningView.choices, default=TuningView.REQUESTS,
                            help_text="Which balance the tuner keeps at target.")
    p95_margin_pct = models.FloatField(
        default=10.0, validators=[MinValueValidator(0.0), MaxValueValidator(1000.0)],
        help_text="An action may not make p95 worse by more than this many percent.",
    )
    dry_run = models.BooleanField(default=False, help_text="Only recommend: change nothing.")

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "tuning policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(target_score__gte=0, target_score__lte=100), name="tuningpolicy_target_score_range"
            ),
            models.CheckConstraint(condition=Q(window_s__gte=1), name="tuningpolicy_window_min"),
            models.CheckConstraint(condition=Q(min_replicas__gte=1), name="tuningpolicy_min_replicas_min"),
            models.CheckConstraint(
                condition=Q(max_replicas__gte=models.F("min_replicas")), name="tuningpolicy_replicas_ordered"
            ),
            models.CheckConstraint(condition=Q(max_weight__gte=1), name="tuningpolicy_max_weight_min"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        actions = self.allowed_actions
        if not isinstance(actions, list) or not actions or not set(actions) <= set(self.Action.values):
            errors["allowed_actions"] = f"Choose one or more of: {', '.join(self.Action.values)}."
        if not isinstance(self.algorithms, list) or not set(self.algorithms) <= set(ALGORITHMS):
            errors["algorithms"] = f"Algorithms must be among: {', '.join(ALGORITHMS)}."
        elif isinstance(actions, list) and self.Action.SET_ALGORITHM in actions and not self.algorithms:
            errors["algorithms"] = "Name the algorithms the tuner may switch to."
        if self.max_replicas < self.min_replicas:
            errors["max_replicas"] = "Must be at least the minimum replicas."
        if not errors:
            try:
                self.spec(balancer=None)
            except ClusterError as error:
                errors[self.field_of(error.field)] = error.args[0]
        if errors:
            raise ValidationError(errors)

    def spec(self, *, balancer: str | None, balancer_options: Mapping | None = None) -> Policy:
        """The policy as the controller reads it, checked against `balancer` (the target's balancer,
        `TargetKind.balancer`, with its `balancer_options`; None: the registry's algorithms alone);
        ClusterError(field=...) when it is bad."""
        return Policy(target_score=self.target_score, view=self.view, window_s=self.window_s,
                      cooldown_s=self.cooldown_s, p95_margin_pct=self.p95_margin_pct,
                      actions=tuple(self.allowed_actions or ()), algorithms=tuple(self.algorithms or ()),
                      min_replicas=self.min_replicas, max_replicas=self.max_replicas, max_weight=self.max_weight,
                      dry_run=self.dry_run).validate(balancer, balancer_options)

    @staticmethod
    def field_of(field: str | None) -> str:
        """The model field a pure policy's error names."""
        return {"actions": "allowed_actions", None: "__all__"}.get(field, field)


class TuningDecision(models.Model):
    Outcome = TuningOutcome

    run = models.ForeignKey("tests_app.LoadTestRun", on_delete=models.CASCADE, related_name="tuning_decisions")
    t = models.FloatField()
    action = models.CharField(max_length=32, choices=TuningAction.choices)
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)
    reason = models.TextField()
    score_before = models.FloatField(validators=[MinValueValidator(0.0), MaxValueValidator(100.0)])
    score_after = models.FloatField(null=True, blank=True, validators=[MinValueValidator(0.0), MaxValueValidator(100.0)])
    outcome = models.CharField(max_length=16, choices=TuningOutcome.choices, default=TuningOutcome.APPLIED)
    # what the controller predicted and what it saw (clusters.tuning.controller.Decision)
    view = models.CharField(max_length=16, choices=TuningView.choices, default=TuningView.REQUESTS)
    p95_before_ms = models.FloatField(null=True, blank=True)
    p95_after_ms = models.FloatField(null=True, blank=True)
    predicted_score = models.FloatField(null=True, blank=True)
    predicted_p95_ms = models.FloatField(null=True, blank=True)
    prediction_error = models.FloatField(null=True, blank=True, help_text="Observed minus predicted score, points.")
    data = models.JSONField(default=dict, blank=True, help_text="The window and the findings the decision used.")
    alternatives = models.JSONField(default=list, blank=True, help_text="The ranked candidates, the chosen first.")
    seq = models.PositiveIntegerField(default=0, help_text="The controller's number of the decision in its run.")

    class Meta:
        ordering = ["run", "t"]
        constraints = [
            models.CheckConstraint(condition=Q(t__gte=0), name="tuningdecision_t_nonnegative"),
            models.CheckConstraint(
                condition=Q(action__in=TuningAction.values), name="tuningdecision_action_valid"
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=TuningOutcome.values),
                name="tuningdecision_outcome_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} t={self.t:g}s {self.action}"
