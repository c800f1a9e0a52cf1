"""Load test logic: views, the API, tasks and commands call these and nothing else.

One way in: `submit_run` takes a saved or inline target and scenario, checks everything with
one set of rules and creates the run; the API, the new-run form and `manage.py loadtest` only
translate its `RunRejected` to their medium (400, form errors, exit 2).

The run lifecycle (ARCHITECTURE.md s1): `submit_run` queues the task after commit; the task
claims the run exactly once (`attempt`), keeps its heartbeat, and `finish_run` ends it.
`reap_stale_runs` ends runs whose worker died.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django_q.tasks import async_task

from chaos_app.run_listeners import mark_rollback_failed, roll_back_open_injections
from chaos_app.services import RunChaos, run_chaos
from clusters.allowlist import check_url_allowed
from clusters.base import ClusterError
from clusters.durations import SpecError
from clusters.faults import parse_step
from clusters.targets import Allowed, target_kind
from lbsite.db import hold_lock
from metrics_app.models import TuningPolicy
from metrics_app.selectors import request_stats, samples_overview
from metrics_app.services import check_policy_on, compare_runs, compare_series, find_policy, publish_to_run
from tests_app import run_listeners
from tests_app.budgets import Budgets, active_runs_problem, run_problems
from tests_app.engine.userfile import (
    LocustfileError,
    LocustfileInfo,
    inspect_locustfile,
    read_locustfile,
    registered_names,
    registered_path,
)
from tests_app.models import LoadTestRun, Scenario, Target
from tests_app.run_events import RunEvents
from tests_app.run_queue import Limits, Place, Plan, QueuedRun, plan
from tests_app.scenario_spec import CUSTOM
from tests_app.selectors import expected_pods_for, run_status_message, scenarios_visible_to, targets_visible_to

log = logging.getLogger(__name__)

HEARTBEAT_STALE_AFTER = timedelta(seconds=30)
MAX_WORKERS = 16  # Locust worker processes of one run


# --------------------------------------------------------------------------- targets


def allowed_now() -> Allowed:
    """What the operator allows load to reach, as the settings say now."""
    return Allowed(hosts=tuple(settings.LBLAB_ALLOWED_TARGETS), namespaces=tuple(settings.LBLAB_ALLOWED_NAMESPACES))


def validate_target_allowed(target: Target) -> None:
    """Raise ValidationError (with the field) unless LB Lab may contact every address the target
    names: where the load goes (its kind says) and the Prometheus it would poll."""
    allowed = allowed_now()
    try:
        target_kind(target.kind).check_allowed(target.spec(), allowed)
        if target.prometheus_url:
            check_url_allowed(target.prometheus_url, allowed.hosts, field="prometheus_url")
    except ClusterError as error:
        raise ValidationError({error.field or "kind": error.args[0]}) from error


def save_target(*, target: Target) -> Target:
    """Validate (fields, then allow-list) and save; nothing is saved when anything is wrong."""
    target.full_clean()
    validate_target_allowed(target)
    target.save()
    return target


class TargetInUse(ValidationError):
    """A target runs refer to: it is kept as it is, so their history stays whole."""


def runs_on(target: Target) -> int:
    """How many runs keep `target` (a run keeps the target it ran on: on_delete=PROTECT)."""
    return target.runs.count()


def target_for_editing(target: Target) -> Target:
    """What an edit of `target` saves into: the target itself while no run uses it; otherwise an
    unsaved copy under the next version's name ("lab v2"), so the runs keep the target they ran on."""
    if not runs_on(target):
        return target
    copy = Target.objects.get(pk=target.pk)
    copy.pk = None
    copy._state.adding = True
    copy.name = next_version_name(target)
    return copy


def next_version_name(target: Target) -> str:
    """The first free "<name> vN" (N from 2) among the owner's targets; a name ending in " vN" counts on."""
    stem, number = _version_of(target.name)
    taken = set(Target.objects.filter(owner_id=target.owner_id, name__startswith=f"{stem} v").values_list("name", flat=True))
    number += 1
    while f"{stem} v{number}" in taken:
        number += 1
    return f"{stem} v{number}"


def _version_of(name: str) -> tuple[str, int]:
    """("lab", 3) for "lab v3"; (name, 1) for a name with no version."""
    head, _, tail = name.rpartition(" v")
    return (head, int(tail)) if head and tail.isdigit() else (name, 1)


def delete_target(*, target: Target) -> None:
    """Delete a target no run uses; TargetInUse (saying what to do instead) when runs do."""
    used = runs_on(target)
    if used:
        raise TargetInUse(f"“{target.name}” is kept because runs refer to it ({used}): a run keeps the target it "
                          "ran on, so its history stays whole. Save a changed copy as a new version instead.",
                          code="in_use")
    target.delete()


def describe_target(fields: Mapping) -> str:
    """The name a target described only by its fields gets (its kind's adapter says it), so
    asking for the same thing twice (the CLI, an inline API object, the form) finds the same one."""
    target = Target(**{key: value for key, value in fields.items() if key in INLINE_TARGET_FIELDS})
    return target_kind(target.kind).describe(target.spec())


# --------------------------------------------------------------------------- one way to start a run


@dataclass(frozen=True)
class RunRequest:
    """What a run is asked for, from any medium. `target` and `scenario` are a saved object (or
    its id) or the fields of an inline one; `chaos` are `KIND@START:DURATION[:SEVERITY][:TARGET]`
    steps."""

    target: Target | int | Mapping
    scenario: Scenario | int | Mapping
    scenario_overrides: Mapping = field(default_factory=dict)  # changed in the run's copy only (`--threshold`)
    chaos: Sequence[str] = ()
    experiment: int | str | None = None  # a chaos experiment (the user's or a preset), by id or name
    autotune: int | str | None = None  # a tuning policy, by id or name
    workers: int = 1
    name: str = ""  # empty: the run is named after its scenario and target
    # A user's own locustfile instead of the scenario's request mix: the name of one the operator
    # registered (LBLAB_LOCUSTFILES_DIR: the web app's and the API's; checked here, in a child Python),
    # or what `inspect_locustfile` found in a file on this machine (`loadtest --locustfile PATH`). A
    # string is never a path. `user_classes`: those to run (all when empty).
    locustfile: str | LocustfileInfo | None = None
    user_classes: Sequence[str] = ()


def budgets_now() -> Budgets:
    """The operator's limits on a run and on a user's runs, as the settings say now."""
    return Budgets(users=settings.LBLAB_MAX_USERS, spawn_rate=settings.LBLAB_MAX_SPAWN_RATE,
                   arrival_rate=settings.LBLAB_MAX_ARRIVAL_RATE, workers=settings.LBLAB_MAX_WORKERS,
                   pods=settings.LBLAB_MAX_PODS, duration_s=settings.LBLAB_MAX_RUN_SECONDS,
                   active_runs=settings.LBLAB_MAX_ACTIVE_RUNS_PER_USER)


class RunRejected(ValidationError):
    """Why a run was not created. `errors` maps each wrong field to its messages; the errors of
    an inline target or scenario are nested under `target` / `scenario` by their own field.
    As a ValidationError its message_dict has one flat list per top-level field."""

    def __init__(self, errors: Mapping[str, list[str] | Mapping[str, list[str]]]):
        self.errors = {name: dict(messages) if isinstance(messages, Mapping) else list(messages)
                       for name, messages in errors.items()}
        super().__init__({name: _flat(messages) for name, messages in self.errors.items()})


class TooManyRuns(RunRejected):
    """The user has as many runs queued or going as they may (the API answers 429)."""

    def __init__(self, reason: str):
        super().__init__({"runs": [reason]})


def _flat(messages) -> list[str]:
    if isinstance(messages, Mapping):
        return [f"{name}: {message}" for name, items in messages.items() for message in items]
    return list(messages)


# Fields an inline target or scenario may give; anything else is refused by name.
INLINE_TARGET_FIELDS = frozenset({
    "name", "kind", "pods", "nodes", "balancer", "algorithm", "service_time_ms", "retries", "stateful", "durability",
    "base_url", "follow_redirects",
    "context",
    "namespace", "service", "label_selector", "kubernetes_balancer", "route", "traffic_distribution", "slow_start_s",
    "attribution", "pod_header", "pod_json_field",
    "prometheus_url",
    "prometheus_query", "expected_pods", "expected_pod_count", "weights",
})
INLINE_SCENARIO_FIELDS = frozenset({
    "name", "description", "shape", "users", "spawn_rate", "duration_s", "spike_factor", "spike_at_s", "spike_length_s",
    "stages", "request_mix", "think_time_min_ms", "think_time_max_ms", "keep_alive", "arrival_rate",
    "threshold_balance", "threshold_p95_ms", "threshold_error_rate",
})


# Run options whose engine this build does not have yet, and why each is refused: submit_run
# refuses them (never silently ignored) and the new-run form shows them disabled with the reason.
NOT_IN_THIS_BUILD: dict[str, str] = {}


def submit_run(*, owner, request: RunRequest, queue: bool = True) -> LoadTestRun:
    """Check the request with one set of rules and create the run, queued; RunRejected with every
    wrong field when anything is wrong (TooManyRuns past the user's budget), and then nothing is
    created. `queue`: a worker runs it when the run queue gives it its turn (the API, the form);
    otherwise the caller runs it in the foreground once it has its turn (`loadtest`: `take_turn`)."""
    with transaction.atomic():
        # One submission of a user at a time, so two at once cannot both pass the active-runs budget.
        get_user_model().objects.select_for_update().filter(pk=owner.pk).exists()
        run = _checked_run(owner, request)
        reason = active_runs_problem(budgets_now(), active=LoadTestRun.objects.filter(
            owner=owner, status__in=LoadTestRun.ACTIVE).count())
        if reason:
            raise TooManyRuns(reason)
        if isinstance(request.target, Mapping):  # inline: created, or the same-named one updated
            run.target = _save_inline_target(run.target)
        run.foreground = not queue
        if run.foreground:
            run.heartbeat_at = timezone.now()  # its `loadtest` beats while it waits (reap_stale_runs)
        run.save()
        if queue:
            transaction.on_commit(dispatch_runs)
    return run


def check_run(*, owner, request: RunRequest) -> None:
    """RunRejected with every field submit_run would refuse, and nothing created: for a medium
    that has errors of its own (a form field that is not a number) to show all in one round."""
    _checked_run(owner, request)


def dry_run(*, owner, request: RunRequest) -> str:
    """What the run `request` asks for would create or change outside LB Lab, as YAML (the target
    kind's `dry_run`: on Kubernetes, every object of its chaos steps and of the tuner's switches),
    after the checks submit_run makes; RunRejected as it, and nothing created or changed."""
    run = _checked_run(owner, request)
    policy = run.autotune
    algorithms = tuple(policy.algorithms or ()) if policy and "set_algorithm" in (policy.allowed_actions or ()) else ()
    try:
        return target_kind(run.target.kind).dry_run(run.target.spec(), steps=[parse_step(step) for step in run.chaos],
                                                    algorithms=algorithms)
    except ClusterError as error:
        raise RunRejected({error.field or "target": [error.args[0]]}) from error


def _checked_run(owner, request: RunRequest) -> LoadTestRun:
    """The run the request asks for, unsaved (and its inline target unsaved), or RunRejected."""
    errors: dict = {}
    target = _resolve_target(owner, request.target, errors)
    scenario = _resolve_scenario(owner, request.scenario, request.scenario_overrides, errors)
    _check_run_options(request, errors)
    locustfile = _checked_locustfile(request, errors)
    if locustfile is not None and scenario is not None and scenario.spec().arrival_rate is not None:
        errors["arrival_rate"] = ["not with a locustfile: its users send at their own pace (the closed model)"]
    chaos = RunChaos(steps=list(request.chaos))
    if target is not None and scenario is not None and "chaos" not in errors:
        try:  # the steps against the pods and nodes the target will have, within the load's duration
            chaos = run_chaos(owner=owner, steps=request.chaos, experiment=request.experiment, target=target.spec(),
                              duration_s=scenario.spec().duration_s, reach_cluster=not errors)
        except ValidationError as error:
            errors.update(error.message_dict)
    policy = _resolve_policy(request.autotune, target, errors)
    run = LoadTestRun(owner=owner, target=target, scenario=scenario if scenario is not None and scenario.pk else None,
                      scenario_config=scenario.frozen() if scenario is not None else {}, chaos=chaos.steps,
                      chaos_experiment=chaos.experiment, chaos_settings=chaos.settings, autotune=policy,
                      workers=request.workers, name=(request.name or "").strip())
    if locustfile is not None:
        run.locustfile = {"path": locustfile.path, "user_classes": list(locustfile.user_classes),
                          "named": locustfile.named, "shape": locustfile.shape}
        if isinstance(request.locustfile, str):  # the registry's: the web app may run it again
            run.locustfile["registered"] = request.locustfile
        run.locustfile_text, run.locustfile_sha256 = locustfile.text, locustfile.sha256
    try:  # the run's own fields (its name...); target and scenario were checked above
        run.full_clean(exclude=["owner", "target", "scenario", "scenario_config", "autotune"],
                       validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        errors.update({name: messages for name, messages in error.message_dict.items() if name not in errors})
    if not errors:  # what it asks for is possible: is it within the budgets, and would the engine take it?
        _merge(errors, run_problems(budgets_now(), scenario=run.scenario_spec, workers=run.workers,
                                    started_pods=target_kind(target.kind).started_pods(target.spec())))
    if not errors:
        _merge(errors, _engine_problems(run))
    if not errors:  # last, as it asks the target's cluster: the request is otherwise fine
        try:
            target_kind(target.kind).check_cluster(target.spec())
        except ClusterError as error:
            errors["target"] = {error.field or "kind": [error.args[0]]}  # a field of the target, as its own errors
    if errors:
        raise RunRejected(errors)
    return run


def _merge(errors: dict, more: Mapping) -> None:
    for name, messages in more.items():
        if isinstance(messages, Mapping):
            errors.setdefault(name, {}).update(messages)
        else:
            errors.setdefault(name, []).extend(messages)


# Where a field of the Locust plugin's configuration comes from: (run request field, its field).
_ENGINE_FIELDS = {"shape": ("scenario", None), "arrival_rate": ("scenario", "arrival_rate"),
                  "request_mix": ("scenario", "request_mix"), "think_time_ms": ("scenario", "think_time_max_ms"),
                  "keep_alive": ("scenario", "keep_alive"), "host": ("target", "base_url"),
                  "attribution": ("target", "attribution"), "expected_pods": ("target", "expected_pods")}


def _engine_problems(run: LoadTestRun) -> dict:
    """What the load engine would refuse when the run starts (tests_app/engine/config.py), refused now
    instead: the configuration the run would start with is checked by the engine's own rules."""
    # Imported here, as execute_run does: the driver pulls in the launcher the web process rarely needs.
    from tests_app.engine.config import ConfigError, parse_config
    from tests_app.execution import locust_config

    host = run.target.base_url or "http://127.0.0.1:1"  # a sandbox's address is known once it starts
    try:
        parse_config(locust_config(run.target, run.scenario_spec, host, run.locustfile))
    except ConfigError as error:
        top = (error.field or "").split(".")[0].split("[")[0]
        under, field_name = _ENGINE_FIELDS.get(top, ("scenario", None))
        if field_name is None:  # shape.users -> users; shape.stages[1].users -> stages
            field_name = (error.field or "shape").split(".")[1].split("[")[0] if "." in (error.field or "") else "shape"
        return {under: {field_name: [f"{error.field}: {error.args[0]}"]}}
    return {}


def run_again(*, owner, run: LoadTestRun) -> LoadTestRun:
    """A new run of what `run` ran, through submit_run: the same target, the run's frozen scenario
    (kept linked to its saved scenario when the owner can still use it), chaos, workers and name.
    Someone else's run (staff see everyone's) runs on the owner's own copy of its target. A run of a
    registered locustfile runs the file registered under its name now (refused when it no longer is),
    with the same user classes; its text and hash are the new run's own. A run of a file named on a
    command line is refused: the web app runs registered files only."""
    registered = (run.locustfile or {}).get("registered")
    if run.locustfile and not registered:
        raise RunRejected({"locustfile": [
            f"a run of the locustfile {run.locustfile['path']} runs again from the command line "
            "(manage.py loadtest --locustfile PATH), not from the web app"]})
    frozen = {key: value for key, value in run.scenario_spec.to_dict().items() if key in INLINE_SCENARIO_FIELDS}
    saved = run.scenario_id is not None and scenarios_visible_to(owner).filter(pk=run.scenario_id).exists()
    target = run.target if run.target.owner_id == owner.pk else {
        name: getattr(run.target, name) for name in INLINE_TARGET_FIELDS - {"name"}}  # named by its kind
    return submit_run(owner=owner, request=RunRequest(
        target=target, scenario=run.scenario_id if saved else frozen, scenario_overrides=frozen if saved else {},
        chaos=[] if run.chaos_experiment_id else list(run.chaos or ()), experiment=run.chaos_experiment_id,
        autotune=run.autotune_id, workers=run.workers, name=run.name, locustfile=registered or None,
        user_classes=list(run.locustfile["user_classes"]) if registered and run.locustfile.get("named") else [],
    ))


def _resolve_target(owner, given, errors: dict) -> Target | None:
    if isinstance(given, Target) or (isinstance(given, int) and not isinstance(given, bool)):
        pk = given.pk if isinstance(given, Target) else given
        target = targets_visible_to(owner).filter(pk=pk).first()
        if target is None:
            errors["target"] = ["No such target."]
            return None
        _check(lambda: validate_target_allowed(target), errors, None)  # settings may have changed since it was saved
        return target
    if not isinstance(given, Mapping):
        errors["target"] = ["A target id or a target object."]
        return None
    if _refuse_unknown(given, INLINE_TARGET_FIELDS, "target", errors) or _refuse_nul(given, "target", errors):
        return None
    fields = dict(given)
    fields["name"] = fields.get("name") or _describe_or_blank(fields)
    # Asking for the same thing twice finds the same target (its name says what it is).
    found = targets_visible_to(owner).filter(name=fields["name"]).first()
    target = Target.objects.get(pk=found.pk) if found else Target(owner=owner)  # a copy: `found` stays as saved
    for name, value in fields.items():
        setattr(target, name, value)
    problems: dict = {}
    # Without the (owner, name) uniqueness: the name was looked up above, and a target another
    # request creates under it meanwhile is met when saving (`_save_inline_target`).
    _check(lambda: target.full_clean(exclude=["owner"]), problems, None)
    if not problems:
        _check(lambda: validate_target_allowed(target), problems, None)
    if problems:
        errors["target"] = problems
        return None
    if found is not None and _differs(target, found, fields) and runs_on(found):
        # Never rewritten under its runs: saved as a new version, as the targets pages do.
        return _version_like(target, found, fields)
    return target


def _differs(target: Target, saved: Target, fields) -> bool:
    return any(getattr(target, name) != getattr(saved, name) for name in fields)


def _version_like(target: Target, found: Target, fields) -> Target:
    """`target` as a version of `found` ("lab v2"): the owner's existing version with the same fields
    when there is one (asking twice finds it again), else an unsaved one under the next free name."""
    stem, _ = _version_of(found.name)
    for version in Target.objects.filter(owner_id=found.owner_id, name__startswith=f"{stem} v"):
        if not _differs(target, version, INLINE_TARGET_FIELDS - {"name"}):
            return version
    version = target_for_editing(found)
    for name in set(fields) - {"name"}:
        setattr(version, name, getattr(target, name))
    return version


def _save_inline_target(target: Target) -> Target:
    """Save an inline target; when another request created the same one first (two `POST /api/runs/`
    at once), the one it created, if it is the same; RunRejected if it is not."""
    try:
        with transaction.atomic():  # a savepoint: the run's transaction goes on after a clash
            target.save()
        return target
    except IntegrityError:
        existing = Target.objects.filter(owner_id=target.owner_id, name=target.name).first()
        fields = INLINE_TARGET_FIELDS - {"name"}
        if existing is None or _differs(target, existing, fields):
            raise RunRejected({"target": {"name": [f"A target named “{target.name}” was just saved with other "
                                                    "fields: try again."]}}) from None
        return existing


def _refuse_unknown(given: Mapping, known: frozenset, field_name: str, errors: dict) -> bool:
    """Whether an inline object names fields it may not; each is an error of its own."""
    unknown = sorted(set(given) - known)
    if unknown:
        errors[field_name] = {name: ["Unknown field."] for name in unknown}
    return bool(unknown)


def _refuse_nul(given: Mapping, field_name: str, errors: dict) -> bool:
    """Whether an inline object holds a NUL character in any of its strings (names, values, keys
    of its lists and mappings); each such field is an error. PostgreSQL stores no NUL in text or
    jsonb, and the target is looked up by name before the model's own checks run."""
    def has_nul(value) -> bool:
        if isinstance(value, str):
            return "\x00" in value
        if isinstance(value, Mapping):
            return any(has_nul(key) or has_nul(item) for key, item in value.items())
        return isinstance(value, list | tuple) and any(has_nul(item) for item in value)

    bad = sorted(name for name, value in given.items() if has_nul(value))
    if bad:
        errors[field_name] = {name: ["Null characters are not allowed."] for name in bad}
    return bool(bad)


def _describe_or_blank(fields: Mapping) -> str:
    try:
        return describe_target(fields)
    except (ClusterError, TypeError, ValueError):
        return ""  # the kind or a field is wrong: full_clean names it


def _resolve_scenario(owner, given, overrides: Mapping, errors: dict) -> Scenario | None:
    if isinstance(given, Scenario) or (isinstance(given, int) and not isinstance(given, bool)):
        pk = given.pk if isinstance(given, Scenario) else given
        scenario = scenarios_visible_to(owner).filter(pk=pk).first()
        if scenario is None:
            errors["scenario"] = ["No such scenario."]
            return None
        if not overrides:
            return scenario
    elif isinstance(given, Mapping):
        if _refuse_unknown(given, INLINE_SCENARIO_FIELDS, "scenario", errors) or _refuse_nul(given, "scenario", errors):
            return None
        scenario = Scenario(owner=owner, **{"name": CUSTOM, **given})
    else:
        errors["scenario"] = ["A scenario id or a scenario object."]
        return None
    for name, value in overrides.items():  # the run's copy only: the saved scenario is never written here
        setattr(scenario, name, value)
    problems: dict = {}
    _check(lambda: scenario.full_clean(exclude=["owner"], validate_unique=False, validate_constraints=False),
           problems, None)
    if problems:
        errors["scenario"] = problems
        return None
    return scenario


def _checked_locustfile(request: RunRequest, errors: dict) -> LocustfileInfo | None:
    """The run's own locustfile, checked (registered, imports, has the user classes, attributable clients)."""
    if request.locustfile is None:
        if request.user_classes:
            errors["user_classes"] = ["user classes are chosen in a locustfile: give the locustfile too"]
        return None
    if isinstance(request.locustfile, LocustfileInfo):
        return request.locustfile
    try:
        return inspect_locustfile(registered_locustfile_path(request.locustfile),
                                  user_classes=tuple(request.user_classes))
    except LocustfileError as error:
        errors[error.field] = [_as_registered(error, request.locustfile)]
        return None


# --------------------------------------------------------------------------- registered locustfiles


@dataclass(frozen=True)
class RegisteredLocustfile:
    """A locustfile of the operator's directory, as users choose it: by name, with its user classes
    and its LoadTestShape, or why it cannot run (`error`; then it is listed but not offered)."""

    name: str
    user_classes: tuple[str, ...]
    shape: str | None
    sha256: str
    error: str = ""


# What inspecting a file found, by (path, sha256): the form and the list read it on every request,
# and inspecting is a child Python that imports Locust (about a second). A changed file is a new key.
_INSPECTED: dict[tuple[str, str], RegisteredLocustfile] = {}
_INSPECTED_MAX = 256


def registered_locustfile_path(name) -> Path:
    """The file registered under `name` in LBLAB_LOCUSTFILES_DIR; LocustfileError (field
    `locustfile`) when none is: no directory set, or not a name of `registered_names`."""
    directory = settings.LBLAB_LOCUSTFILES_DIR
    if not directory:
        raise LocustfileError("no locustfiles are registered on this server (the operator sets LBLAB_LOCUSTFILES_DIR)")
    return registered_path(directory, name)


def registered_locustfiles() -> list[RegisteredLocustfile]:
    """The registered locustfiles as they are now (files added or changed are seen at once), by name."""
    directory = settings.LBLAB_LOCUSTFILES_DIR
    if not directory:
        return []
    found = []
    for name in registered_names(directory):
        try:
            path, text = read_locustfile(registered_path(directory, name))
        except LocustfileError:
            continue  # gone or changed into something else since it was listed
        sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
        key = (str(path), sha256)
        if key not in _INSPECTED:
            if len(_INSPECTED) >= _INSPECTED_MAX:
                _INSPECTED.clear()
            try:
                info = inspect_locustfile(path)
                _INSPECTED[key] = RegisteredLocustfile(name=name, user_classes=info.all_user_classes,
                                                       shape=info.shape, sha256=sha256)
            except LocustfileError as error:
                _INSPECTED[key] = RegisteredLocustfile(name=name, user_classes=(), shape=None, sha256=sha256,
                                                       error=_as_registered(error, name))
        found.append(replace(_INSPECTED[key], name=name))
    return found


def _as_registered(error: LocustfileError, name) -> str:
    """The error with the file's path on the server shown as its registered name."""
    message = str(error)
    try:
        return message.replace(str(registered_locustfile_path(name)), name)
    except LocustfileError:
        return message


def _check_run_options(request: RunRequest, errors: dict) -> None:
    if isinstance(request.chaos, str | bytes) or not all(isinstance(spec, str) for spec in request.chaos):
        errors["chaos"] = ["a list of steps KIND@START:DURATION[:SEVERITY][:TARGET]"]
    else:
        for spec in request.chaos:
            try:
                parse_step(spec)
            except (SpecError, ClusterError) as error:
                errors["chaos"] = [error.args[0]]
                break
    if isinstance(request.workers, bool) or not isinstance(request.workers, int) or not 1 <= request.workers <= MAX_WORKERS:
        errors["workers"] = [f"must be at least 1 and at most {MAX_WORKERS} (Locust worker processes)"]


def _resolve_policy(given, target: Target | None, errors: dict) -> TuningPolicy | None:
    """The run's tuning policy (`autotune`: id or name), checked against what LB Lab can change on the
    target's balancer; None without one, or with its one error in `errors["autotune"]`."""
    if given is None or given == "":
        return None
    try:
        policy = find_policy(given)
    except ValidationError as error:
        errors.update(error.message_dict)
        return None
    if target is None:  # the target's own error says what is wrong; the policy is judged against a good one
        return policy
    spec = target.spec()
    kind = target_kind(target.kind)
    if kind.balancer(spec) is None:  # the balancer is not LB Lab's to change
        errors["autotune"] = [f"LB Lab cannot change the balancer of a {target.kind} target, so it cannot tune it: "
                              "auto-tuning needs a sandbox or Kubernetes target"]
        return None
    try:
        check_policy_on(policy, balancer=kind.balancer(spec), balancer_options=kind.balancer_options(spec))
    except ValidationError as error:
        errors.update(error.message_dict)
        return None
    return policy


def _check(validate: Callable[[], None], errors: dict, under: str | None) -> None:
    """Run a Django validation; its errors go into `errors` (all under `under`, or by their own fields)."""
    try:
        validate()
    except ValidationError as error:
        found = error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
        if under is None:
            errors.update(found)
        else:
            errors[under] = [message for messages in found.values() for message in messages]


# --------------------------------------------------------------------------- the run queue
# How a queued run waits: it has no task until the queue gives it its turn. `dispatch_runs` is the
# one dispatcher: it runs when a run is submitted, whenever one ends (every end comes through
# `_finish`), from a waiting `loadtest`, and every minute with the reaper as a safety net. It takes
# a lock, plans with tests_app.run_queue (limits, turns between users), marks the runs that may
# start (`dispatched_at`) and queues their tasks once that commits; a `loadtest` run is started by
# its own process instead. A task then claims its run once, as before (`claim_run`, `attempt`).

QUEUE_LOCK = 0x4C424C51  # "LBLQ": the dispatcher's lock (lbsite.db.hold_lock)


def queue_limits() -> Limits:
    return Limits(concurrent=settings.LBLAB_MAX_CONCURRENT_RUNS, per_target=settings.LBLAB_MAX_RUNS_PER_TARGET)


def _queued(run: LoadTestRun) -> QueuedRun:
    return QueuedRun(id=run.pk, owner_id=run.owner_id, created_at=run.created_at,
                     target_key=target_kind(run.target.kind).queue_key(run.target.spec()))


def _queue_plan() -> Plan:
    """The queue as the database has it now: runs waiting for a turn, runs going (started, or given
    their turn and not started yet), and when each waiting run's owner last had a turn."""
    waiting_turn = Q(status=LoadTestRun.Status.QUEUED, dispatched_at__isnull=True)
    going = Q(status__in=[LoadTestRun.Status.RUNNING, LoadTestRun.Status.STOPPING]) | Q(
        status=LoadTestRun.Status.QUEUED, dispatched_at__isnull=False)
    runs = LoadTestRun.objects.filter(waiting_turn | going).select_related("target").defer("summary")
    waiting, going_runs = [], []
    for run in runs:
        (waiting if run.status == LoadTestRun.Status.QUEUED and run.dispatched_at is None else going_runs).append(
            _queued(run))
    last_turns = dict(LoadTestRun.objects.filter(owner_id__in={run.owner_id for run in waiting}).values("owner_id")
                      .annotate(last=Max("dispatched_at")).values_list("owner_id", "last"))
    return plan(waiting, going_runs, last_turns, queue_limits())


def dispatch_runs() -> list[int]:
    """Give their turn to the waiting runs that may start now; returns their ids."""
    with transaction.atomic():
        hold_lock(QUEUE_LOCK)  # one dispatcher at a time: two would both see the same free slot
        chosen = _queue_plan().start
        if not chosen:
            return []
        LoadTestRun.objects.filter(pk__in=chosen).update(dispatched_at=timezone.now())
        for run_id in LoadTestRun.objects.filter(pk__in=chosen, foreground=False).values_list("pk", flat=True):
            transaction.on_commit(partial(async_task, "tests_app.tasks.run_load_test", run_id, task_name=f"run-{run_id}"))
    log.info("run queue: turn given to run(s) %s", ", ".join(map(str, chosen)))
    return chosen


def queue_places() -> dict[int, Place]:
    """Where every run waiting for its turn is in the queue (run id -> Place)."""
    return _queue_plan().places


def queue_place(run: LoadTestRun) -> Place | None:
    """Where `run` waits in the queue; None when it is not waiting for a turn."""
    if run.status != LoadTestRun.Status.QUEUED or run.dispatched_at is not None:
        return None
    return queue_places().get(run.pk)


def take_turn(run: LoadTestRun) -> Place | None:
    """For the `loadtest` that waits for its run: dispatch what may start, keep the run's heartbeat,
    and say where it still waits; None once it has its turn (or has ended: stopped meanwhile)."""
    dispatch_runs()
    run.refresh_from_db(fields=["status", "dispatched_at"])
    if run.dispatched_at is not None or run.is_finished:
        return None
    beat(run)
    return queue_place(run)


def withdraw_run(run: LoadTestRun) -> bool:
    """Delete a `loadtest` run that has not had its turn (`--no-wait`: nothing was started); False
    when it got its turn meanwhile, and then it should run."""
    with transaction.atomic():
        hold_lock(QUEUE_LOCK)
        waiting = LoadTestRun.objects.select_for_update().filter(
            pk=run.pk, status=LoadTestRun.Status.QUEUED, dispatched_at__isnull=True)
        return waiting.delete()[0] > 0


# --------------------------------------------------------------------------- the lifecycle


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


def refusal_at_start(run: LoadTestRun) -> str:
    """Why a claimed run may not start after all ("" when it may): the settings may have changed
    while it waited, so the rules it was created under are checked again, and the host names it
    contacts are resolved again now."""
    try:
        validate_target_allowed(run.target)
    except ValidationError as error:
        return "; ".join(f"{name}: {message}" for name, messages in error.message_dict.items() for message in messages)
    return ""


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
    reasons: Iterable[str] = (), error: str = "",
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
    # Every way a run ends comes through here; live viewers get the finished status (push mode),
    # and the queue gives its slot to the next run.
    transaction.on_commit(partial(publish_status, run))
    transaction.on_commit(dispatch_runs)


def publish_status(run: LoadTestRun) -> bool:
    """Push the run's `status` message to its live viewers; call it after the change commits."""
    return publish_to_run(run.pk, [run_status_message(run)])


def execute_run(
    run_id: int, *, listeners: Sequence[Callable[[RunEvents], None]] = (),
    should_stop: Callable[[], bool] = lambda: False,
) -> LoadTestRun:
    """The work of the run task (and of `manage.py loadtest`): claim, drive, end in the right status.

    `listeners` attach to the run's events beside the ones every run has (`run_listeners`).
    Idempotent on `attempt`: a second delivery of the same task ends nothing twice and sends no
    load. Every way out finishes the run; Locust and the sandbox are stopped.
    """
    # Imported here: the driver pulls in Locust's launcher and the cluster adapters, which the
    # web process (admin, API, pages) never needs.
    from tests_app import execution

    run = claim_run(run_id)
    if run is None:
        return LoadTestRun.objects.get(pk=run_id)
    refused = refusal_at_start(run)
    if refused:
        return finish_run(run, status=LoadTestRun.Status.ERROR, error=f"refused at start: {refused}")
    events = RunEvents()
    run_listeners.attach(events, extra=listeners)
    try:
        outcome = execution.drive(run, events=events, beat=beat, should_stop=should_stop)
    except execution.RunInterrupted:
        return finish_run(run, status=LoadTestRun.Status.CANCELLED, summary=_partial_summary(run))
    except execution.RunFailed as error:
        return finish_run(run, status=LoadTestRun.Status.ERROR, error=str(error), summary=_partial_summary(run))
    except BaseException as error:
        log.exception("run %s failed", run.pk)
        finish_run(run, status=LoadTestRun.Status.ERROR, error=f"{type(error).__name__}: {error}",
                   summary=_partial_summary(run))
        if not isinstance(error, Exception):
            raise  # Ctrl-C, SystemExit: the run is ended; let the caller see it too
        return LoadTestRun.objects.get(pk=run.pk)
    summary = {**outcome.summary, "status": outcome.status,
               "verdict": {"passed": outcome.passed, "reasons": outcome.reasons}}
    run = finish_run(run, status=outcome.status, summary=summary, passed=outcome.passed, reasons=outcome.reasons)
    # stored now, off any request: comparisons of finished runs read it
    compare_series(run.pk, finished=True, expected=expected_pods_for(run))
    return run


def runs_comparison(runs: list[LoadTestRun]) -> dict:
    """2 to 6 of a user's runs side by side (metrics_app.services.compare_runs), the first being
    the reference; each run's series are stored when it is finished (see `compare_series`)."""
    by_id = {run.pk: run for run in runs}

    def series_for(run_id: int) -> dict:
        run = by_id[run_id]
        return compare_series(run.pk, finished=run.is_finished, expected=expected_pods_for(run))

    return compare_runs([_described_for_comparison(run) for run in runs], series_for)


def _described_for_comparison(run: LoadTestRun) -> dict:
    scenario = run.scenario_spec
    summary = run.summary if isinstance(run.summary, dict) else {}
    judged = summary.get("balance") if isinstance(summary.get("balance"), dict) else {}
    threshold = judged.get("threshold")
    return {
        "id": run.pk, "label": f"#{run.pk} {run.name or f'{run.target.name} · {scenario.name or scenario.shape}'}",
        "status": run.status, "created_at": run.created_at.isoformat() if run.created_at else None,
        "target": {"id": run.target_id, "name": run.target.name, "kind": run.target.kind},
        "scenario": {"id": run.scenario_id, "name": scenario.name, "shape": scenario.shape, "users": scenario.users,
                     "duration_s": scenario.duration_s, "arrival_rate": scenario.arrival_rate},
        "summary": summary,
        "threshold": float(threshold if threshold is not None else run.balance_threshold),
    }


def _partial_summary(run: LoadTestRun) -> dict:
    """What the samples recorded before a failure add up to, and the endpoint and failures tables
    of the last second recorded, so nothing measured is lost."""
    overview = samples_overview(run.pk)
    tables = request_stats(run.pk) or {}
    return {"run_id": run.pk, "requests": overview["requests"] or 0, "failures": overview["failures"] or 0,
            "pods": {p["pod"]: {"requests": p["requests"], "failures": p["failures"]} for p in overview["pods"]},
            "endpoints": tables.get("endpoints", []), "errors": tables.get("errors", [])}


def reap_stale_runs() -> int:
    """End runs whose worker stopped beating (killed, machine lost), and `loadtest` runs whose
    command stopped waiting for their turn; then give the queue's free slots. Returns how many ended."""
    cutoff = timezone.now() - HEARTBEAT_STALE_AFTER
    stale = LoadTestRun.objects.filter(
        Q(status__in=[LoadTestRun.Status.RUNNING, LoadTestRun.Status.STOPPING])
        | Q(status=LoadTestRun.Status.QUEUED, foreground=True), heartbeat_at__lt=cutoff,
    ).values_list("pk", flat=True)
    reaped = 0
    for run_id in list(stale):
        with transaction.atomic():
            run = LoadTestRun.objects.select_for_update().get(pk=run_id)
            if run.is_finished or (run.heartbeat_at and run.heartbeat_at >= cutoff):
                continue
            if run.status == LoadTestRun.Status.QUEUED:
                _finish(run, status=LoadTestRun.Status.CANCELLED, error="loadtest stopped waiting for its turn")
            else:
                _finish(run, status=LoadTestRun.Status.ERROR, error="worker lost: no heartbeat for 30 s")
                transaction.on_commit(partial(roll_back_chaos, run))
                transaction.on_commit(partial(delete_worker_pods, run))
            reaped += 1
    if reaped:
        log.warning("reaped %d run(s) whose worker or loadtest was lost", reaped)
    dispatch_runs()  # a safety net: a slot freed by a process that died before it could dispatch
    return reaped


def roll_back_chaos(run: LoadTestRun) -> int:
    """Undo the faults a run whose worker died left applied: its target's cluster reopened and
    restored, or, for a cluster that ended with the worker (the sandbox), nothing left to undo.
    Its open injections are marked so; returns how many."""
    # Keyed on the run's chaos, not its open rows: the worker may have died between applying a
    # fault and writing its row.
    if not (run.chaos or run.chaos_experiment_id):
        return 0
    kind = target_kind(run.target.kind)
    try:
        cluster = kind.reopen(run.target.spec(), run_id=run.pk)
        if cluster is None:
            how = "rolled back by the reaper: the cluster's processes ended with the run's worker, faults and all"
        else:
            with cluster:  # restore() on leaving, then close()
                pass
            how = "rolled back by the reaper: the target's cluster was reopened and restored"
    except Exception as error:  # noqa: BLE001 - recorded on the injections for the operator
        log.error("run %s: rolling back its chaos failed: %s", run.pk, error)
        return mark_rollback_failed(run.pk, error=f"the reaper could not roll back: {error}")
    return roll_back_open_injections(run.pk, how=how)


def delete_worker_pods(run: LoadTestRun) -> None:
    """Delete the Locust worker Job of a run whose worker died (in a cluster; nothing otherwise):
    its workers would otherwise wait for a master that is gone until the Job's deadline."""
    from tests_app.execution import locust_worker_pods

    try:
        pods = locust_worker_pods(run)
        if pods is not None:
            gone = pods.delete()
            if gone:
                log.warning("run %s: the reaper deleted its Locust workers: %s", run.pk, ", ".join(gone))
    except ClusterError as error:  # the Job's deadline and owner still end it; logged for the operator
        log.error("run %s: deleting its Locust workers failed: %s", run.pk, error)


def queue_reaper() -> None:
    """Queue one reaper pass after the current transaction commits."""
    transaction.on_commit(lambda: async_task("tests_app.tasks.reap_stale_runs"))
