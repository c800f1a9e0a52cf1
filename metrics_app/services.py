"""Metrics logic: reading a run's per-second history into figures."""

from __future__ import annotations

from django.db.models import Count, Max, Min, Sum

from metrics_app.models import MetricSample, PodSample


def samples_overview(run_id: int) -> dict:
    """Totals of a run's seconds and per-pod totals: exact sums of what was recorded."""
    seconds = MetricSample.objects.filter(run_id=run_id).aggregate(
        seconds=Count("id"), first_t=Min("t"), last_t=Max("t"), requests=Sum("requests"),
        failures=Sum("failures"), peak_rps=Max("rps"), worst_p95_ms=Max("p95_ms"),
    )
    pods = (
        PodSample.objects.filter(run_id=run_id)
        .values("pod")
        .annotate(requests=Sum("requests"), failures=Sum("failures"), worst_p95_ms=Max("p95_ms"))
        .order_by("pod")
    )
    return {**seconds, "pods": list(pods)}
