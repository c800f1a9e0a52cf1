"""Chaos presets (experiments: steps plus a steady-state hypothesis) and the
injections a run actually made, with their recovery measurements."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from chaos_app.choices import FaultKindChoices, RollbackChoices, SeverityChoices
from chaos_app.schedule import STEP_SPEC_MAX, stop_conditions_problem
from clusters.faults import FAULT_KINDS, SEVERITY_WORDS

HYPOTHESIS_KEYS = ("max_error_rate", "max_p95_ms", "min_availability", "max_rto_s", "min_balance_score")


def steps_problem(steps) -> str | None:
    """Why a list of chaos steps is invalid, or None. Shared by the model, forms and API."""
    if not isinstance(steps, list) or not steps:
        return "Give at least one step."
    for index, step in enumerate(steps, start=1):
        if not isinstance(step, dict):
            return f"Step {index} is not an object."
        kinds = FaultKindChoices.values()
        if step.get("kind") not in kinds:
            return f"Step {index}: kind must be one of {', '.join(kinds)}."
        if step.get("severity", SeverityChoices.DEFAULT) not in SeverityChoices.values():
            return f"Step {index}: severity must be {SEVERITY_WORDS}."
        for key in ("start_s", "duration_s"):
            value = step.get(key, 0)
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                return f"Step {index}: {key} must be a number of seconds, 0 or more."
        target = step.get("target", "")
        if not isinstance(target, str):
            return f"Step {index}: target must be a pod or node name (empty: chosen at run time)."
    return None


class ChaosExperiment(models.Model):
    """A chaos preset. Presets (owner empty) are managed in the admin."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
        related_name="chaos_experiments", help_text="Empty for a shared preset.",
    )
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    steps = models.JSONField(
        help_text='[{"kind": "pod_kill", "target": "", "severity": "medium", "start_s": 10, "duration_s": 0}]'
    )
    hypothesis = models.JSONField(
        default=dict, blank=True,
        help_text='Steady state that must hold, e.g. {"max_error_rate": 0.01, "max_rto_s": 10}.',
    )
    stop_conditions = models.JSONField(
        default=dict, blank=True,
        help_text='Abort and roll back when breached, e.g. {"max_error_rate": 0.5, "for_s": 10} '
                  "(the default when empty).",
    )
    rto_limits_s = models.JSONField(
        default=dict, blank=True,
        help_text='Longest acceptable RTO per fault kind, seconds, e.g. {"pod_kill": 30}; others keep their defaults.',
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="chaosexperiment_unique_name_per_owner"),
            models.UniqueConstraint(
                fields=["name"], condition=Q(owner__isnull=True), name="chaosexperiment_unique_preset_name"
            ),
        ]

    def __str__(self) -> str:
        return self.name if self.owner_id else f"{self.name} (preset)"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        problem = steps_problem(self.steps)
        if problem:
            errors["steps"] = problem
        if not isinstance(self.hypothesis, dict) or not set(self.hypothesis) <= set(HYPOTHESIS_KEYS):
            errors["hypothesis"] = f"An object with keys among: {', '.join(HYPOTHESIS_KEYS)}."
        elif any(
            not isinstance(v, int | float) or isinstance(v, bool) or v < 0 for v in self.hypothesis.values()
        ):
            errors["hypothesis"] = "Hypothesis values must be numbers, 0 or more."
        problem = stop_conditions_problem(self.stop_conditions)
        if problem:
            errors["stop_conditions"] = problem
        if not isinstance(self.rto_limits_s, dict) or not set(self.rto_limits_s) <= set(FAULT_KINDS):
            errors["rto_limits_s"] = f"An object with fault kinds as keys: {', '.join(FAULT_KINDS)}."
        elif any(not isinstance(v, int | float) or isinstance(v, bool) or v <= 0 for v in self.rto_limits_s.values()):
            errors["rto_limits_s"] = "RTO limits must be numbers of seconds above 0."
        if errors:
            raise ValidationError(errors)


class ChaosInjection(models.Model):
    """One fault a run injected: when, what, how it was undone, how the service recovered."""

    Rollback = RollbackChoices

    run = models.ForeignKey("tests_app.LoadTestRun", on_delete=models.CASCADE, related_name="chaos_injections")
    step = models.PositiveSmallIntegerField(help_text="Index of the step in the run's chaos list.")
    kind = models.CharField(max_length=16, choices=FaultKindChoices.choices)
    target = models.CharField(max_length=253, blank=True)
    severity = models.CharField(max_length=8, choices=SeverityChoices.choices, default=SeverityChoices.DEFAULT)
    started_at_s = models.FloatField()
    ended_at_s = models.FloatField(null=True, blank=True)
    recovered_at_s = models.FloatField(null=True, blank=True)
    rto_s = models.FloatField(null=True, blank=True)
    availability = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)]
    )
    rollback = models.CharField(max_length=16, choices=RollbackChoices.choices, default=RollbackChoices.PENDING)
    error = models.TextField(blank=True)
    spec = models.CharField(max_length=STEP_SPEC_MAX, blank=True, help_text="The step as written (KIND@START:DURATION...).")
    # Recovery figures (metrics_app.recovery): as each is known during the run (tests_app.live_recovery),
    # then all of them from the summary's chaos_section once the run has ended.
    healing_s = models.FloatField(null=True, blank=True, help_text="Until the cluster had its ready replicas back.")
    balance_recovery_s = models.FloatField(null=True, blank=True,
                                           help_text="Until the windowed balance score was back above threshold.")
    requests_failed = models.PositiveIntegerField(null=True, blank=True)
    p95_during_ms = models.FloatField(null=True, blank=True)
    p95_after_ms = models.FloatField(null=True, blank=True)
    passed = models.BooleanField(null=True, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["run", "started_at_s"]
        constraints = [
            models.UniqueConstraint(fields=["run", "step"], name="chaosinjection_unique_step"),
            models.CheckConstraint(condition=Q(kind__in=FaultKindChoices.values()), name="chaosinjection_kind_valid"),
            models.CheckConstraint(
                condition=Q(severity__in=SeverityChoices.values()), name="chaosinjection_severity_valid"
            ),
            models.CheckConstraint(condition=Q(started_at_s__gte=0), name="chaosinjection_start_nonnegative"),
            models.CheckConstraint(
                condition=Q(ended_at_s__isnull=True) | Q(ended_at_s__gte=models.F("started_at_s")),
                name="chaosinjection_ends_after_start",
            ),
            models.CheckConstraint(condition=Q(rto_s__isnull=True) | Q(rto_s__gte=0), name="chaosinjection_rto_nonnegative"),
            models.CheckConstraint(
                condition=Q(availability__isnull=True) | Q(availability__gte=0, availability__lte=1),
                name="chaosinjection_availability_range",
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} step {self.step}: {self.kind}"

    @property
    def rolled_back(self) -> bool:
        return self.rollback == self.Rollback.ROLLED_BACK
