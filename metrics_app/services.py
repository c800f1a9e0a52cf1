"""Metrics logic: recording and publishing a run's seconds, comparing runs.

metrics_app knows a run only by its id and the plain values it is given (threshold, expected pods):
the app that owns runs (tests_app) calls down into these, never the other way round. Reads
are in `metrics_app.selectors`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.core.exceptions import ValidationError
from django.db import transaction

from clusters.balance import ExpectedPods
from clusters.base import ClusterError
from metrics_app import comparison
from metrics_app.models import CompareSeries, MetricSample, PodSample, RequestStats, TuningDecision, TuningPolicy
from metrics_app.selectors import run_seconds_arrays
from metrics_app.summary import WINDOW_S

log = logging.getLogger(__name__)

UNATTRIBUTED = comparison.UNATTRIBUTED
PUBLISH_TIMEOUT_S = 2.0  # a Redis that hangs must not hold the run's one-second loop for long


def record_second(
    *, run_id: int, t: float, totals: Mapping, pods: Mapping[str, Mapping], unattributed: int,
    messages: list[dict] = (), endpoints: list | None = None, errors: list | None = None,
) -> None:
    """Write one second of a run (its MetricSample and a PodSample per pod, "unattributed" as a
    row of its own, and the run's per-endpoint table and failures so far when the second has
    them, in one transaction) and push its live `messages` to the run's viewers once it is
    committed (push mode only: without a cross-process channel layer the consumers read the
    rows from the database themselves)."""
    rows = [
        PodSample(run_id=run_id, t=t, pod=name, requests=figures.get("requests", 0),
                  failures=figures.get("failures", 0), p95_ms=figures.get("p95_ms"), cpu=figures.get("cpu"),
                  memory_bytes=figures.get("memory_bytes"), ready=figures.get("ready", True))
        for name, figures in pods.items()
    ]
    if unattributed:
        rows.append(PodSample(run_id=run_id, t=t, pod=UNATTRIBUTED, requests=unattributed))
    with transaction.atomic():
        MetricSample.objects.create(
            run_id=run_id, t=t, users=totals.get("users", 0), requests=totals.get("requests", 0),
            failures=totals.get("failures", 0), rps=totals.get("rps", 0.0),
            failures_per_s=totals.get("failures_per_s", 0.0), p50_ms=totals.get("p50_ms"),
            p95_ms=totals.get("p95_ms"), p99_ms=totals.get("p99_ms"), max_ms=totals.get("max_ms"),
            active_connections=totals.get("active_connections", 0),
        )
        PodSample.objects.bulk_create(rows)
        if endpoints or errors:
            RequestStats.objects.update_or_create(
                run_id=run_id, defaults={"t": t, "endpoints": list(endpoints or []), "errors": list(errors or [])})
        if messages and layer_is_cross_process():
            transaction.on_commit(lambda: publish_to_run(run_id, list(messages)))


# --------------------------------------------------------------------------- the live stream's group


def run_group(run_id: int) -> str:
    """The channel group the consumers of a run's live stream join."""
    return f"run-{run_id}"


def layer_is_cross_process(layer=None) -> bool:
    """Whether a group message sent here reaches consumers in other processes (channels_redis):
    then the run driver pushes each second; with the in-memory layer (per process: the worker's
    messages never reach daphne) the consumers tail the database instead."""
    layer = get_channel_layer() if layer is None else layer
    return layer is not None and not isinstance(layer, InMemoryChannelLayer)


def publish_to_run(run_id: int, messages: list[dict]) -> bool:
    """Push live-protocol messages to the run's consumers when the layer is cross-process.

    Never raises into the run: a push that fails (Redis down) is logged and the run goes on;
    a client that missed it fills the gap when it reconnects with `since`. Returns whether
    the messages were handed to the layer.
    """
    layer = get_channel_layer()
    if not messages or not layer_is_cross_process(layer):
        return False
    try:
        async_to_sync(_group_send)(layer, run_group(run_id), {"type": "run.messages", "messages": list(messages)})
    except Exception as error:
        log.warning("live stream of run %s: could not publish %d message(s): %s: %s", run_id, len(messages),
                    type(error).__name__, error)
        return False
    return True


async def _group_send(layer, group: str, message: dict) -> None:
    await asyncio.wait_for(layer.group_send(group, message), PUBLISH_TIMEOUT_S)


# --------------------------------------------------------------------------- comparison
# The math is in the pure module metrics_app.comparison; these read the database for it.

COMPARE_MIN_RUNS, COMPARE_MAX_RUNS = 2, 6
_COMPARE_SERIES_VERSION = 2  # change when metrics_app.comparison.run_series computes something else


def compare_runs(described: list[dict], series_for: Callable[[int], dict]) -> dict:
    """Compare 2 to 6 runs, the first being the reference (`GET /api/runs/compare/`, the compare
    page): {"runs", "figures", "notes", "series", "threshold"} as metrics_app.comparison
    describes them. `described` says what each run is (id, label, status, created_at, target,
    scenario, summary, threshold); `series_for(run id)` gives its `compare_series`."""
    if not COMPARE_MIN_RUNS <= len(described) <= COMPARE_MAX_RUNS:
        raise ValueError(f"compare {COMPARE_MIN_RUNS} to {COMPARE_MAX_RUNS} runs, got {len(described)}")
    found = comparison.figures([run["summary"] for run in described], [run["scenario"] for run in described])
    return {
        "runs": [{key: run[key] for key in ("id", "label", "status", "created_at", "target", "scenario", "summary")}
                 for run in described],
        "figures": found,
        "notes": comparison.notes(described, found),
        "series": {str(run["id"]): series_for(run["id"]) for run in described},
        "threshold": described[0]["threshold"],
    }


def compare_series(run_id: int, *, finished: bool, expected: ExpectedPods) -> dict:
    """A run's series for comparisons ({"t", "rps", "p95_ms", "score", "pod_spread"}, see
    metrics_app.comparison.run_series), scored over the run's `expected` pods as the live stream
    scores it. A finished run's seconds never change, so its series are
    computed once (when it ends, or at its first comparison) and stored (CompareSeries):
    reading 100 pods x 30 minutes of seconds takes PostgreSQL about 0.1 s, the stored series far less."""
    if finished:
        stored = CompareSeries.objects.filter(run_id=run_id, version=_COMPARE_SERIES_VERSION, window_s=WINDOW_S).first()
        if stored is not None:
            return stored.series
    series = comparison.run_series(run_seconds_arrays(run_id), expected=expected, window_s=WINDOW_S)
    if finished:
        CompareSeries.objects.update_or_create(
            run_id=run_id, defaults={"version": _COMPARE_SERIES_VERSION, "window_s": WINDOW_S, "series": series})
    return series


def record_tuning_decision(*, run_id: int, decision) -> TuningDecision:
    """Write a tuning decision (clusters.tuning.controller.Decision) as the run's TuningDecision row;
    a later record of the same decision (its `seq`: the observed effect, a rollback) updates it."""
    fields = {name: getattr(decision, name) for name in (
        "t", "action", "before", "after", "reason", "outcome", "score_before", "score_after", "view",
        "p95_before_ms", "p95_after_ms", "predicted_score", "predicted_p95_ms", "prediction_error", "data")}
    fields["alternatives"] = list(decision.alternatives)
    row, _ = TuningDecision.objects.update_or_create(run_id=run_id, seq=decision.seq, defaults=fields)
    return row


def find_policy(given) -> TuningPolicy:
    """A tuning policy a run may attach, by id or name (policies are shared, managed in the admin);
    ValidationError on `autotune` naming the enabled ones when there is no such policy or it is disabled."""
    if isinstance(given, TuningPolicy):
        found = TuningPolicy.objects.filter(pk=given.pk).first()
    elif isinstance(given, int) and not isinstance(given, bool):
        found = TuningPolicy.objects.filter(pk=given).first() if 0 < given < 2**31 else None  # an id the database can hold
    elif isinstance(given, str) and given.strip() and "\x00" not in given:  # PostgreSQL holds no NUL
        name = given.strip()
        found = TuningPolicy.objects.filter(name=name).first()
        if found is None and name.isdigit() and len(name) < 10:  # `--autotune 3`: an id typed on a command line
            found = TuningPolicy.objects.filter(pk=int(name)).first()
    else:
        raise ValidationError({"autotune": ["A tuning policy's id or name."]})
    if found is None or not found.enabled:
        names = ", ".join(TuningPolicy.objects.filter(enabled=True).values_list("name", flat=True)[:20]) or "none"
        why = "is disabled" if found is not None else "does not exist"
        raise ValidationError({"autotune": [f"tuning policy {given!r} {why}; the enabled ones: {names}"]})
    return found


def check_policy_on(policy: TuningPolicy, *, balancer: str, balancer_options: Mapping | None = None) -> None:
    """ValidationError on `autotune` unless every action `policy` allows can be done on `balancer`
    (a sandbox balancer: lblab, nginx, haproxy; or a Kubernetes one: gateway, istio, ingress-nginx, none)
    with the target's `balancer_options` (`TargetKind.balancer_options`: a slow start)."""
    try:
        policy.spec(balancer=balancer, balancer_options=balancer_options)
    except ClusterError as error:
        field = TuningPolicy.field_of(error.field)
        raise ValidationError({"autotune": [f"policy {policy.name!r} cannot act on the {balancer} balancer: "
                                            f"{field}: {error.args[0]}"]}) from error
