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


def samples_since(run_id: int, since: float, *, limit: int = 3600) -> list[dict]:
    """The run's seconds after `since`, oldest first, each with its pods: what a client that
    dropped its connection needs to fill the gap."""
    seconds = list(
        MetricSample.objects.filter(run_id=run_id, t__gt=since).order_by("t")[:limit].values(
            "t", "users", "requests", "failures", "rps", "failures_per_s", "p50_ms", "p95_ms", "p99_ms", "max_ms",
            "active_connections",
        )
    )
    if not seconds:
        return []
    pods = PodSample.objects.filter(run_id=run_id, t__gte=seconds[0]["t"], t__lte=seconds[-1]["t"]).values(
        "t", "pod", "requests", "failures", "p95_ms", "cpu", "memory_bytes", "ready"
    )
    by_second: dict[float, dict] = {}
    for row in pods:
        by_second.setdefault(row.pop("t"), {})[row.pop("pod")] = row
    return [{**second, "pods": by_second.get(second["t"], {})} for second in seconds]
