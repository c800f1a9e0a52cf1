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


# --------------------------------------------------------------------------- the live stream (/ws/runs/<id>/)
# Imports are local: tests_app.services imports this module, and chaos_app and channels are only
# needed by the live stream.

PUBLISH_TIMEOUT_S = 2.0  # a Redis that hangs must not hold the run's one-second loop for long


def run_group(run_id: int) -> str:
    """The channel group the consumers of a run's live stream join."""
    return f"run-{run_id}"


def layer_is_cross_process(layer=None) -> bool:
    """Whether a group message sent here reaches consumers in other processes (channels_redis):
    then the run driver pushes each second; with the in-memory layer (per process: the worker's
    messages never reach daphne) the consumers tail the database instead."""
    from channels.layers import InMemoryChannelLayer, get_channel_layer

    layer = get_channel_layer() if layer is None else layer
    return layer is not None and not isinstance(layer, InMemoryChannelLayer)


def publish_to_run(run_id: int, messages: list[dict]) -> bool:
    """Push live-protocol messages to the run's consumers when the layer is cross-process.

    Never raises into the run: a push that fails (Redis down) is logged and the run goes on;
    a client that missed it fills the gap when it reconnects with `since`. Returns whether
    the messages were handed to the layer.
    """
    import logging

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if not messages or not layer_is_cross_process(layer):
        return False
    try:
        async_to_sync(_group_send)(layer, run_group(run_id), {"type": "run.messages", "messages": list(messages)})
    except Exception as error:
        logging.getLogger(__name__).warning(
            "live stream of run %s: could not publish %d message(s): %s: %s", run_id, len(messages),
            type(error).__name__, error,
        )
        return False
    return True


async def _group_send(layer, group: str, message: dict) -> None:
    import asyncio

    await asyncio.wait_for(layer.group_send(group, message), PUBLISH_TIMEOUT_S)


def run_status_message(run) -> dict:
    """The live protocol's `status` message of a LoadTestRun as it is now."""
    from metrics_app.summary import WINDOW_S

    config = run.scenario_config or {}
    return {
        "type": "status", "run": run.pk, "status": run.status,
        "threshold": run.balance_threshold, "window_s": WINDOW_S,
        "duration_s": float(config.get("duration_s") or 0.0),  # as planned: the span a live chart shows
        "verdict_passed": run.verdict_passed, "verdict_reasons": list(run.verdict_reasons or []),
        "finished": run.is_finished,
    }


def publish_status(run) -> bool:
    """Push the run's `status` message (see `publish_to_run`); call it after the change commits."""
    return publish_to_run(run.pk, [run_status_message(run)])


def run_events(run_id: int) -> dict:
    """The run's chaos injections and tuning decisions, as the live protocol's `events` message
    carries them: {"chaos": [...], "tuning": [...]}, each in the order they happened."""
    from chaos_app.models import ChaosInjection
    from metrics_app.models import TuningDecision

    chaos = [
        {"id": injection.pk, "kind": injection.kind, "target": injection.target, "severity": injection.severity,
         "started_at_s": injection.started_at_s, "ended_at_s": injection.ended_at_s,
         "recovered_at_s": injection.recovered_at_s, "rto_s": injection.rto_s, "rolled_back": injection.rolled_back}
        for injection in ChaosInjection.objects.filter(run_id=run_id).order_by("started_at_s", "step")
    ]
    tuning = [
        {"t": decision.t, "action": decision.action, "from": decision.before, "to": decision.after,
         "score_before": decision.score_before, "score_after": decision.score_after, "outcome": decision.outcome,
         "reason": decision.reason}
        for decision in TuningDecision.objects.filter(run_id=run_id).order_by("t", "pk")
    ]
    return {"chaos": chaos, "tuning": tuning}


def recorded_second(sample: MetricSample, pod_rows) -> dict:
    """One second just written (its MetricSample and PodSample rows, "unattributed" included),
    in the shape `samples_since` reads it back: what the run driver feeds its LiveSeries."""
    from metrics_app.live import POD_FIELDS, SECOND_FIELDS

    return {
        "t": sample.t, **{key: getattr(sample, key) for key in SECOND_FIELDS},
        "pods": {row.pod: {key: getattr(row, key) for key in POD_FIELDS} for row in pod_rows},
    }


# --------------------------------------------------------------------------- comparison and exports
# The math is in the pure modules metrics_app.comparison and metrics_app.exports; these read the
# database for them. numpy is imported where needed so the live stream's imports stay light.

COMPARE_MIN_RUNS, COMPARE_MAX_RUNS = 2, 6
_COMPARE_SERIES_VERSION = 1  # change when metrics_app.comparison.run_series computes something else
EXPORT_CHUNK_SECONDS = 600  # seconds read per query when a run's history is streamed out
# Joins the pod names of one second in the PostgreSQL read of a run's pods: a control character no
# pod name carries (if one did, the read notices and falls back to reading row by row).
_POD_NAME_SEPARATOR = "\x1f"


def compare_runs(runs: list) -> dict:
    """Compare 2 to 6 LoadTestRuns, the first being the reference (`GET /api/runs/compare/`, the
    compare page): {"runs", "figures", "notes", "series", "threshold"} as metrics_app.comparison
    describes them. The caller checks the runs are the user's; the series are each run's
    `compare_series`."""
    from metrics_app import comparison

    if not COMPARE_MIN_RUNS <= len(runs) <= COMPARE_MAX_RUNS:
        raise ValueError(f"compare {COMPARE_MIN_RUNS} to {COMPARE_MAX_RUNS} runs, got {len(runs)}")
    described = []
    for run in runs:
        config = run.scenario_config or {}
        summary = run.summary if isinstance(run.summary, dict) else {}
        judged = summary.get("balance") if isinstance(summary.get("balance"), dict) else {}
        threshold = judged.get("threshold")
        described.append({
            "id": run.pk, "label": f"#{run.pk} {run.target.name} · {config.get('name') or config.get('shape', '')}",
            "status": run.status, "created_at": run.created_at.isoformat() if run.created_at else None,
            "target": {"id": run.target_id, "name": run.target.name, "kind": run.target.kind},
            "scenario": {"id": run.scenario_id, "name": config.get("name"), "shape": config.get("shape"),
                         "users": config.get("users"), "duration_s": config.get("duration_s")},
            "summary": summary,
            "threshold": float(threshold if threshold is not None else run.balance_threshold),
        })
    found = comparison.figures([run["summary"] for run in described])
    series = {str(run.pk): compare_series(run) for run in runs}
    return {
        "runs": [{key: run[key] for key in ("id", "label", "status", "created_at", "target", "scenario", "summary")}
                 for run in described],
        "figures": found,
        "notes": comparison.notes(described, found),
        "series": series,
        "threshold": described[0]["threshold"],
    }


def compare_series(run) -> dict:
    """A run's series for comparisons ({"t", "rps", "p95_ms", "score", "pod_spread"}, see
    metrics_app.comparison.run_series). A finished run's seconds never change, so its series are
    computed once (when it ends, or at its first comparison) and stored (CompareSeries): reading
    100 pods x 30 minutes of seconds takes PostgreSQL about 0.1 s, the stored series far less."""
    from metrics_app import comparison
    from metrics_app.models import CompareSeries
    from metrics_app.summary import WINDOW_S
    from tests_app.execution import expected_shares  # the run driver's rule; light to import (no Locust)

    if run.is_finished:
        stored = CompareSeries.objects.filter(run_id=run.pk, version=_COMPARE_SERIES_VERSION, window_s=WINDOW_S).first()
        if stored is not None:
            return stored.series
    seconds = run_seconds_arrays(run.pk)
    # as the run driver and the live stream take them: from the pods of the run's first second
    first_pods = sorted(pod for pod, first in zip(seconds.pods, seconds.first_seen.tolist(), strict=True) if first == 0)
    shares = expected_shares(run.target, first_pods) if run.target.weights else None
    series = comparison.run_series(seconds, shares=shares, window_s=WINDOW_S)
    if run.is_finished:
        CompareSeries.objects.update_or_create(
            run_id=run.pk, defaults={"version": _COMPARE_SERIES_VERSION, "window_s": WINDOW_S, "series": series})
    return series


def run_seconds_arrays(run_id: int):
    """A run's recorded seconds as numpy arrays (metrics_app.comparison.RunSeconds): one query for
    the seconds' totals, one for the requests of every pod in every second."""
    import numpy as np
    from django.db import connection

    from metrics_app.comparison import RunSeconds

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
    import numpy as np

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
    import numpy as np
    from django.db import connection, transaction

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
    import numpy as np

    from metrics_app.comparison import UNATTRIBUTED

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


# --------------------------------------------------------------------------- a run's live view, replayed


def live_series_for(run, first_second: dict):
    """The LiveSeries that scores `run` as its driver does: the scenario's balance threshold,
    WINDOW_S, and the target's weights as shares over the pods of the first second fed (as the
    driver takes them). The driver, the consumer and the report all start theirs here."""
    from metrics_app.live import UNATTRIBUTED, LiveSeries
    from metrics_app.summary import WINDOW_S
    from tests_app.execution import expected_shares  # the driver's rule; light to import (no Locust)

    pods = sorted(pod for pod in first_second.get("pods") or {} if pod != UNATTRIBUTED)
    shares = expected_shares(run.target, pods) if run.target.weights else None
    return LiveSeries(run.balance_threshold, WINDOW_S, shares)


def report_figures(run) -> dict[str, dict]:
    """Every chart of the live run page, complete, for a run's recorded seconds: what the page
    showed, built from the same messages (the standalone report)."""
    from metrics_app.figures import chart_specs, run_figures

    series, samples, alerts = None, [], []
    for second in iter_run_seconds(run.pk):
        series = series or live_series_for(run, second)
        for message in series.feed(second):
            (samples if message["type"] == "sample" else alerts).append(message)
    return run_figures(chart_specs(threshold=run.balance_threshold), samples, events=run_events(run.pk), alerts=alerts)
