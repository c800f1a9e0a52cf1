"""Reading helpers shared by views, the API and commands. Scoping via lbsite.permissions."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Count, QuerySet
from django.utils import timezone

from chaos_app.selectors import injections as chaos_injections
from clusters.balance import ExpectedPods
from clusters.targets import target_kind
from lbsite.permissions import owned_by
from metrics_app.figures import chart_specs, run_figures, wall_clock_ms
from metrics_app.live import LiveSeries
from metrics_app.selectors import iter_run_seconds, tuning_decisions
from metrics_app.summary import WINDOW_S
from tests_app.models import LoadTestRun, Scenario, Target


def runs_visible_to(user) -> QuerySet[LoadTestRun]:
    """The user's runs; staff's: everyone's (lbsite.permissions)."""
    return owned_by(LoadTestRun.objects.select_related("owner", "target", "scenario"), user)


def run_owners_visible_to(user) -> QuerySet:
    """The users whose runs `user` sees: the runs list's owner choices."""
    return get_user_model().objects.filter(pk__in=runs_visible_to(user).values("owner")).order_by("username")


def targets_visible_to(user) -> QuerySet[Target]:
    return owned_by(Target.objects.all(), user)


def targets_of_runs_visible_to(user) -> QuerySet[Target]:
    """The user's targets and those of every run they see (staff see others' runs, not their targets)."""
    return Target.objects.filter(pk__in=runs_visible_to(user).values("target")) | targets_visible_to(user)


def targets_with_run_counts(user) -> QuerySet[Target]:
    """The user's targets, each with `run_count`: the runs that keep it."""
    return targets_visible_to(user).annotate(run_count=Count("runs"))


def scenarios_visible_to(user) -> QuerySet[Scenario]:
    """The user's own scenarios and the shared presets."""
    return owned_by(Scenario.objects.all(), user, shared_presets=True)


def runs_in_order(user, ids: list[int]) -> list[LoadTestRun] | None:
    """The user's runs with these ids, in the order given; None when any is not theirs (or absent:
    both are the same 404)."""
    found = {run.pk: run for run in runs_visible_to(user).filter(pk__in=ids)}
    return [found[pk] for pk in ids] if len(found) == len(set(ids)) else None


# --------------------------------------------------------------------------- a run's live view


def started_at_text(run: LoadTestRun) -> str | None:
    """When the run started, in the zone the pages show, to the millisecond (ISO 8601 with its
    offset): the `status` message's started_at, from which the live page shows the start and
    reads the charts' clock."""
    if run.started_at is None:
        return None
    return timezone.localtime(run.started_at).isoformat(timespec="milliseconds")


def run_status_message(run: LoadTestRun) -> dict:
    """The live protocol's `status` message of a run as it is now."""
    return {
        "type": "status", "run": run.pk, "status": run.status, "started_at": started_at_text(run),
        "threshold": run.balance_threshold, "window_s": WINDOW_S,
        "duration_s": float(run.scenario_spec.duration_s),  # as planned: the span a live chart shows
        "verdict_passed": run.verdict_passed, "verdict_reasons": list(run.verdict_reasons or []),
        "finished": run.is_finished,
    }


def run_events(run_id: int) -> dict:
    """The run's chaos injections, tuning decisions and what its cluster did that the charts mark
    (scale changes, a store's failover), as the live protocol's `events` message carries them:
    {"chaos": [...], "tuning": [...], "timeline": [...]}, each in the order they happened."""
    chaos = chaos_injections(run_id, applied_only=True)  # a step not run has no window to draw
    timeline = LoadTestRun.objects.filter(pk=run_id).values_list("timeline", flat=True).first() or []
    return {"chaos": chaos, "tuning": tuning_decisions(run_id), "timeline": timeline}


def expected_pods_for(run: LoadTestRun) -> ExpectedPods:
    """The pods `run` is judged over and their shares: those its target expects
    (`Target.expected_pod_set`) with the pods its cluster replaced so far (`run.replaced_pods`):
    no cluster needed to replay a run."""
    return run.target.expected_pod_set().with_replacements(run.replaced_pods)


def live_series_for(run: LoadTestRun) -> LiveSeries:
    """The LiveSeries that scores `run`: the scenario's balance threshold, the summary's window,
    and the pods it expects with their shares (`expected_pods_for`). The driver, the consumer
    and the report all start theirs here, and the summary judges the same pods, so their scores
    agree."""
    return LiveSeries(run.balance_threshold, WINDOW_S, expected_pods_for(run))


def run_charts(run: LoadTestRun) -> tuple[list[dict], str]:
    """The charts of the run's page and report (metrics_app.figures.chart_specs), and why CPU and
    memory per pod are left out ("" when they are drawn: the target kind measures them)."""
    missing = target_kind(run.target.kind).pod_usage_missing
    return chart_specs(threshold=run.balance_threshold, pod_usage=not missing), missing


def report_figures(run: LoadTestRun) -> dict[str, dict]:
    """Every chart of the live run page, complete, for a run's recorded seconds: what the page
    showed, built from the same messages (the standalone report), on the same clock."""
    series, samples, alerts = None, [], []
    for second in iter_run_seconds(run.pk):
        series = series or live_series_for(run)
        for message in series.feed(second):
            (samples if message["type"] == "sample" else alerts).append(message)
    specs, _ = run_charts(run)
    origin = wall_clock_ms(timezone.localtime(run.started_at)) if run.started_at else None
    return run_figures(specs, samples, events=run_events(run.pk), alerts=alerts, clock_origin_ms=origin)
