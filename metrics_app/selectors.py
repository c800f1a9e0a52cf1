"""Reading a run's recorded seconds: the selectors the pages, the API, the live stream, the
exports and the comparisons share. Every function takes a run id: metrics_app knows runs only
by their id (tests_app, above it, owns them).
"""

from __future__ import annotations

import numpy as np
from django.db import connection, transaction
from django.db.models import Count, Max, Min, Sum

from metrics_app.comparison import UNATTRIBUTED, RunSeconds
from metrics_app.live import request_stats_message
from metrics_app.models import MetricSample, PodSample, RequestStats, TuningDecision

EXPORT_CHUNK_SECONDS = 600  # seconds read per query when a run's history is streamed out
# Joins the pod names of one second in the PostgreSQL read of a run's pods: a control character no
# pod name carries (if one did, the read notices and falls back to reading row by row).
_POD_NAME_SEPARATOR = "\x1f"


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



def run_seconds_arrays(run_id: int):
    """A run's recorded seconds as numpy arrays (metrics_app.comparison.RunSeconds): one query for
    the seconds' totals, one for the requests of every pod in every second."""
    totals = list(MetricSample.objects.filter(run_id=run_id).order_by("t").values_list("t", "rps", "p95_ms"))
    t = np.array([row[0] for row in totals], dtype=float)
    cells = _pod_cells_grouped(run_id) if connection.vendor == "postgresql" else None
    if cells is None:
        cells = _pod_cells_rows(run_id)
    pods, counts, first_seen = _place_cells(t, *cells)
    return RunSeconds(
        t=t, rps=np.array([np.nan if row[1] is None else row[1] for row in totals], dtype=float),
        p95_ms=np.array([np.nan if row[2] is None else row[2] for row in totals], dtype=float),
        pods=pods, counts=counts, first_seen=first_seen,
    )


def _pod_cells_rows(run_id: int):
    """Every PodSample of the run as (t, pod index, requests) arrays and the pod names: any database."""
    rows = PodSample.objects.filter(run_id=run_id).order_by("t", "pod").values_list("t", "pod", "requests")
    index: dict[str, int] = {}
    ts, pods, requests = zip(*rows, strict=True) if rows else ((), (), ())
    columns = [index.setdefault(pod, len(index)) for pod in pods]
    return (np.array(ts, dtype=float), np.array(columns, dtype=np.int64), np.array(requests, dtype=float),
            list(index))


def _pod_cells_grouped(run_id: int):
    """As `_pod_cells_rows`, read as one row per second (the pod names joined, the requests packed as
    4-byte integers), which PostgreSQL and psycopg turn out several times faster than a row per pod.

    Both aggregates of a group see its rows in the same order, so the names and the numbers stay
    aligned. None when a pod name holds the separator (the caller then reads row by row).
    """
    table = PodSample._meta.db_table
    sql = (f'SELECT "t", string_agg("pod", %s), string_agg(int4send("requests"), \'\'::bytea) '
           f'FROM "{table}" WHERE "run_id" = %s GROUP BY "t" ORDER BY "t"')
    with transaction.atomic(), connection.cursor() as cursor:
        # The (run, t) index gives the rows in second order, ready to group; with statistics the
        # planner prefers hashing them instead, which spills to disk at the default work_mem and
        # takes twice as long. SET LOCAL ends with this transaction.
        cursor.execute("SET LOCAL enable_hashagg = off")
        cursor.execute(sql, [_POD_NAME_SEPARATOR, run_id])
        rows = cursor.fetchall()
    index: dict[str, int] = {}
    seconds, lengths, column_parts, request_parts = [], [], [], []
    joined_before, columns = None, None
    for t, joined, packed in rows:
        if joined != joined_before:  # most seconds name the same pods as the one before
            columns = np.array([index.setdefault(pod, len(index)) for pod in joined.split(_POD_NAME_SEPARATOR)],
                               dtype=np.int64)
            joined_before = joined
        requests = np.frombuffer(bytes(packed), dtype=">i4")
        if requests.size != columns.size:
            return None
        seconds.append(t)
        lengths.append(columns.size)
        column_parts.append(columns)
        request_parts.append(requests)
    if not seconds:
        return np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0), []
    return (np.repeat(np.array(seconds, dtype=float), lengths), np.concatenate(column_parts),
            np.concatenate(request_parts).astype(float), list(index))


def _place_cells(t, cell_t, cell_pod, cell_requests, names):
    """(pods, counts, first_seen) of RunSeconds from per-pod cells: cells of seconds without a
    MetricSample are left out (as `samples_since` leaves them out), and so is "unattributed"."""
    seconds = t.size
    if seconds and cell_t.size:
        rows = np.minimum(np.searchsorted(t, cell_t), seconds - 1)
        placed = t[rows] == cell_t
    else:
        rows, placed = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    rows, cell_pod, cell_requests = rows[placed], cell_pod[placed], cell_requests[placed]
    counts = np.zeros((seconds, len(names)))
    counts[rows, cell_pod] = cell_requests
    first_seen = np.full(len(names), seconds, dtype=np.int64)
    np.minimum.at(first_seen, cell_pod, rows)
    keep = np.array([first < seconds and name != UNATTRIBUTED for name, first in zip(names, first_seen.tolist(),
                                                                                      strict=True)], dtype=bool)
    return (tuple(name for name, kept in zip(names, keep.tolist(), strict=True) if kept), counts[:, keep],
            first_seen[keep])



def iter_run_seconds(run_id: int, *, chunk_seconds: int = EXPORT_CHUNK_SECONDS):
    """Every recorded second of a run, oldest first, in the shape `samples_since` gives them, read
    `chunk_seconds` at a time so a long run streams out (metrics_app.exports) in bounded memory."""
    since = -1.0
    while True:
        chunk = samples_since(run_id, since, limit=chunk_seconds)
        yield from chunk
        if len(chunk) < chunk_seconds:
            return
        since = chunk[-1]["t"]


def request_stats(run_id: int) -> dict | None:
    """The run's per-endpoint table and failures so far as the live `request_stats` message;
    None before the first second that had them."""
    stats = RequestStats.objects.filter(run_id=run_id).first()
    if stats is None:
        return None
    return request_stats_message(t=stats.t, endpoints=stats.endpoints, errors=stats.errors)


def tuning_decisions(run_id: int) -> list[dict]:
    """The run's tuning decisions in the order they were taken, as the live `events` message and
    the summary's `tuning` list carry them."""
    return [
        {"t": decision.t, "action": decision.action, "from": decision.before, "to": decision.after,
         "score_before": decision.score_before, "score_after": decision.score_after, "outcome": decision.outcome,
         "reason": decision.reason, "view": decision.view, "predicted_score": decision.predicted_score,
         "prediction_error": decision.prediction_error, "p95_before_ms": decision.p95_before_ms,
         "p95_after_ms": decision.p95_after_ms}
        for decision in TuningDecision.objects.filter(run_id=run_id).order_by("t", "pk")
    ]
