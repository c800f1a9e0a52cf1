"""Load test logic: views, the API, tasks and commands call these and nothing else.

The run lifecycle (ARCHITECTURE.md s1): `start_run` creates a queued run and queues
the task after commit; the task claims the run exactly once (`attempt`), keeps its
heartbeat, and `finish_run` ends it. `reap_stale_runs` ends runs whose worker died.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from metrics_app.services import compare_series, publish_status, samples_overview
from tests_app.allowlist import host_allowed
from tests_app.models import LoadTestRun, Scenario, Target
from tests_app.specs import SpecError, parse_chaos

if TYPE_CHECKING:
    from tests_app.execution import ProgressCallback

log = logging.getLogger(__name__)

HEARTBEAT_STALE_AFTER = timedelta(seconds=30)


def url_host_port(base_url: str) -> tuple[str, int]:
    """Host and port load to `base_url` goes to; ValidationError on `base_url` when there are none."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https"):
        raise ValidationError({"base_url": f"unknown scheme {parts.scheme or base_url!r}: use http:// or https://"})
    if not parts.hostname:
        raise ValidationError({"base_url": "the URL names no host"})
    try:
        port = parts.port  # raises for a port out of range, which URLField lets through
    except ValueError as error:
        raise ValidationError({"base_url": f"bad port: {error}"}) from error
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def validate_target_allowed(target: Target) -> None:
    """Raise ValidationError (with the field) unless load may be sent to the target."""
    if target.kind == Target.Kind.URL:
        host, port = url_host_port(target.base_url)
        if not host_allowed(host, port, settings.LBLAB_ALLOWED_TARGETS):
            raise ValidationError({"base_url": f"{host} is not allow-listed (LBLAB_ALLOWED_TARGETS)"})
    elif target.kind == Target.Kind.KUBERNETES and target.namespace not in settings.LBLAB_ALLOWED_NAMESPACES:
        raise ValidationError({"namespace": f"namespace {target.namespace!r} is not allow-listed (LBLAB_ALLOWED_NAMESPACES)"})


def save_target(*, target: Target) -> Target:
    """Validate (fields, then allow-list) and save; nothing is saved when anything is wrong."""
    target.full_clean()
    validate_target_allowed(target)
    target.save()
    return target


def target_for(*, owner, fields: dict) -> Target:
    """The owner's target named `fields["name"]`, set to `fields` (created when new), validated and saved.

    How the command line and inline API objects name a target: the name says what it is
    (`sandbox 4 pods round_robin`, a URL), so asking for the same thing twice reuses it.
    """
    target = Target.objects.filter(owner=owner, name=fields["name"]).first() or Target(owner=owner)
    for key, value in fields.items():
        setattr(target, key, value)
    return save_target(target=target)


def describe_target(fields: dict) -> str:
    """The name `target_for` gives a target described only by its fields."""
    if fields.get("kind", Target.Kind.SANDBOX) == Target.Kind.SANDBOX:
        return f"sandbox {fields.get('pods', 4)} pods {fields.get('algorithm', 'round_robin')}"
    if fields.get("kind") == Target.Kind.URL:
        return str(fields.get("base_url", "")).rstrip("/")[:100]
    return f"{fields.get('namespace', '')}/{fields.get('service', '')}"[:100]


def check_not_in_this_build(*, chaos=(), autotune=None, stateful=None) -> None:
    """Check chaos specs, then refuse what this build cannot do yet: never silently ignored.

    ValidationError with the field (`chaos`, `autotune`, `stateful`); the API and the CLI share it.
    """
    for spec in chaos:
        try:
            parse_chaos(spec)
        except SpecError as error:
            raise ValidationError({"chaos": str(error)}) from error
    if chaos:
        raise ValidationError({"chaos": "fault injection arrives with the chaos engine; this build cannot inject faults yet"})
    if autotune is not None:
        raise ValidationError({"autotune": "the auto-tuner is not part of this build yet"})
    if stateful:
        raise ValidationError({"stateful": "stateful services are not part of this build yet"})


def create_run(
    *, owner, target: Target, scenario: Scenario, chaos: list | tuple = (), autotune=None, workers: int = 1
) -> LoadTestRun:
    """Validate and create a queued run with a frozen copy of the scenario.

    `scenario` may be unsaved (a scenario described by command-line flags): the run then
    keeps only its frozen copy.
    """
    if target.owner_id != owner.pk:
        raise ValidationError({"target": "No such target."})
    if scenario.owner_id not in (None, owner.pk):
        raise ValidationError({"scenario": "No such scenario."})
    validate_target_allowed(target)
    run = LoadTestRun(
        owner=owner, target=target, scenario=scenario if scenario.pk else None, scenario_config=scenario.frozen(),
        chaos=list(chaos), autotune=autotune, workers=workers,
    )
    run.full_clean()
    run.save()
    return run


@transaction.atomic
def start_run(
    *, owner, target: Target, scenario: Scenario, chaos: list | tuple = (), autotune=None, workers: int = 1
) -> LoadTestRun:
    """Create the run and queue its task once the transaction commits (a qcluster worker runs it)."""
    run = create_run(owner=owner, target=target, scenario=scenario, chaos=chaos, autotune=autotune, workers=workers)
    transaction.on_commit(lambda: async_task("tests_app.tasks.run_load_test", run.pk, task_name=f"run-{run.pk}"))
    return run


def claim_run(run_id: int) -> LoadTestRun | None:
    """Take a queued run for this worker, once. None when there is nothing to do.

    django-q2 can hand a task out again after its worker died; the second delivery
    finds `attempt` already taken and ends the run as lost instead of loading twice.
    """
    with transaction.atomic():
        run = LoadTestRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.is_finished:
            return None
        now = timezone.now()
        if run.attempt > 0:
            _finish(run, status=LoadTestRun.Status.ERROR, error="worker lost: the task was delivered again")
            return None
        run.attempt = 1
        run.status = LoadTestRun.Status.RUNNING
        run.started_at = run.heartbeat_at = now
        run.save(update_fields=["attempt", "status", "started_at", "heartbeat_at"])
        transaction.on_commit(partial(publish_status, run))  # live viewers see it start (push mode)
        return run


def beat(run: LoadTestRun) -> bool:
    """Record the worker is alive; returns whether a stop was requested."""
    run.heartbeat_at = timezone.now()
    LoadTestRun.objects.filter(pk=run.pk).update(heartbeat_at=run.heartbeat_at)
    return LoadTestRun.objects.filter(pk=run.pk, stop_requested=True).exists()


def request_stop(*, run: LoadTestRun) -> LoadTestRun:
    """Ask the worker to stop the run; a run not yet claimed is cancelled at once."""
    with transaction.atomic():
        run = LoadTestRun.objects.select_for_update().get(pk=run.pk)
        if run.is_finished:
            return run
        run.stop_requested = True
        if run.status == LoadTestRun.Status.QUEUED:
            _finish(run, status=LoadTestRun.Status.CANCELLED, error="", save_stop=True)
        else:
            run.status = LoadTestRun.Status.STOPPING
            run.save(update_fields=["stop_requested", "status"])
    return run


def finish_run(
    run: LoadTestRun, *, status: str, summary: dict | None = None, passed: bool | None = None,
    reasons: list[str] = (), error: str = "",
) -> LoadTestRun:
    with transaction.atomic():
        run = LoadTestRun.objects.select_for_update().get(pk=run.pk)
        if run.is_finished:
            return run
        if summary is not None:
            run.summary = summary
        run.verdict_passed = passed
        run.verdict_reasons = list(reasons)
        _finish(run, status=status, error=error, extra=["summary", "verdict_passed", "verdict_reasons"])
    return run


def _finish(run: LoadTestRun, *, status: str, error: str, extra=(), save_stop: bool = False) -> None:
    run.status = status
    run.error = error
    run.ended_at = timezone.now()
    if run.started_at is None and status != LoadTestRun.Status.CANCELLED:
        run.started_at = run.ended_at
    fields = ["status", "error", "ended_at", "started_at", *extra]
    if save_stop:
        fields.append("stop_requested")
    run.save(update_fields=fields)
    # Every way a run ends comes through here; live viewers get the finished status (push mode).
    transaction.on_commit(partial(publish_status, run))


def execute_run(
    run_id: int, *, progress: ProgressCallback | None = None, should_stop: Callable[[], bool] = lambda: False
) -> LoadTestRun:
    """The work of the run task (and of `manage.py loadtest`): claim, drive, end in the right status.

    Idempotent on `attempt`: a second delivery of the same task ends nothing twice and
    sends no load. Every way out finishes the run; Locust and the sandbox are stopped.
    """
    # Imported here: the driver pulls in Locust's launcher and the cluster adapters, which
    # the web process (admin, API) never needs.
    from tests_app import execution

    run = claim_run(run_id)
    if run is None:
        return LoadTestRun.objects.get(pk=run_id)
    try:
        status, summary, passed, reasons = execution.drive(run, beat=beat, progress=progress, should_stop=should_stop)
    except execution.RunFailed as error:
        return finish_run(run, status=LoadTestRun.Status.ERROR, error=str(error), summary=_partial_summary(run))
    except BaseException as error:
        log.exception("run %s failed", run.pk)
        finish_run(run, status=LoadTestRun.Status.ERROR, error=f"{type(error).__name__}: {error}",
                   summary=_partial_summary(run))
        if not isinstance(error, Exception):
            raise  # Ctrl-C, SystemExit: the run is ended; let the caller see it too
        return LoadTestRun.objects.get(pk=run.pk)
    summary = {**summary, "status": status, "verdict": {"passed": passed, "reasons": reasons}}
    run = finish_run(run, status=status, summary=summary, passed=passed, reasons=reasons)
    compare_series(run)  # stored now, off any request: comparisons of finished runs read it
    return run


def _partial_summary(run: LoadTestRun) -> dict:
    """What the samples recorded before a failure add up to, so nothing measured is lost."""
    overview = samples_overview(run.pk)
    return {"run_id": run.pk, "requests": overview["requests"] or 0, "failures": overview["failures"] or 0,
            "pods": {p["pod"]: {"requests": p["requests"], "failures": p["failures"]} for p in overview["pods"]}}


def reap_stale_runs() -> int:
    """End runs whose worker stopped beating (killed, machine lost). Returns how many."""
    cutoff = timezone.now() - HEARTBEAT_STALE_AFTER
    stale = LoadTestRun.objects.filter(
        status__in=[LoadTestRun.Status.RUNNING, LoadTestRun.Status.STOPPING], heartbeat_at__lt=cutoff
    ).values_list("pk", flat=True)
    reaped = 0
    for run_id in list(stale):
        with transaction.atomic():
            run = LoadTestRun.objects.select_for_update().get(pk=run_id)
            if run.is_finished or (run.heartbeat_at and run.heartbeat_at >= cutoff):
                continue
            _finish(run, status=LoadTestRun.Status.ERROR, error="worker lost: no heartbeat for 30 s")
            reaped += 1
    if reaped:
        log.warning("reaped %d run(s) whose worker was lost", reaped)
    return reaped


def queue_reaper() -> None:
    """Queue one reaper pass after the current transaction commits."""
    transaction.on_commit(lambda: async_task("tests_app.tasks.reap_stale_runs"))
