"""What the database knows, for `GET /metrics` (lbsite.prometheus): read at each scrape, so every
web replica reports the same figures and nothing is lost when a process restarts.

- `lblab_runs{status}`: runs by status now;
- `lblab_run_duration_seconds`: how long finished runs went (started to ended), as a histogram;
- `lblab_samples_written_total`: per-second samples the runs have written;
- `lblab_task_queue_depth`: tasks waiting in django-q2's queue (ORM or Redis broker).
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from metrics_app.models import MetricSample
from tests_app.models import LoadTestRun

DURATION_BUCKETS_S = (10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600)


class DatabaseCollector:
    def describe(self):
        # The names alone, without a query: the registry asks at registration (app start-up).
        yield GaugeMetricFamily("lblab_runs", "Runs by status.", labels=["status"])
        yield HistogramMetricFamily("lblab_run_duration_seconds", "How long finished runs went.")
        yield CounterMetricFamily("lblab_samples_written", "Per-second samples the runs have written.")
        yield GaugeMetricFamily("lblab_task_queue_depth", "Tasks waiting in the task queue.")

    def collect(self):
        runs = GaugeMetricFamily("lblab_runs", "Runs by status.", labels=["status"])
        counts = dict(LoadTestRun.objects.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
        for status in LoadTestRun.Status.values:
            runs.add_metric([status], counts.get(status, 0))
        yield runs
        yield self._durations()
        samples = CounterMetricFamily("lblab_samples_written", "Per-second samples the runs have written.")
        samples.add_metric([], MetricSample.objects.count())
        yield samples
        queue = GaugeMetricFamily("lblab_task_queue_depth", "Tasks waiting in the task queue.")
        queue.add_metric([], _queue_depth())
        yield queue

    @staticmethod
    def _durations() -> HistogramMetricFamily:
        went = ExpressionWrapper(F("ended_at") - F("started_at"), output_field=DurationField())
        finished = LoadTestRun.objects.filter(started_at__isnull=False, ended_at__isnull=False).annotate(went=went)
        figures = finished.aggregate(
            total=Sum("went"), count=Count("pk"),
            **{f"le_{bound}": Count("pk", filter=Q(went__lte=timedelta(seconds=bound))) for bound in DURATION_BUCKETS_S})
        buckets = [(str(float(bound)), figures[f"le_{bound}"]) for bound in DURATION_BUCKETS_S]
        buckets.append(("+Inf", figures["count"]))
        total = figures["total"]
        family = HistogramMetricFamily("lblab_run_duration_seconds", "How long finished runs went.")
        family.add_metric([], buckets, sum_value=total.total_seconds() if total is not None else 0.0)
        return family


def _queue_depth() -> int:
    from django_q.brokers import get_broker  # the configured broker: ORM by default, Redis with REDIS_URL

    try:
        return int(get_broker().queue_size() or 0)
    except Exception:  # noqa: BLE001 - a broker that does not answer has no depth to report
        return 0
