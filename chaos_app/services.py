"""chaos_app's services: which experiments a user may attach, what a run's chaos is (ad-hoc steps or
an experiment's, frozen with its hypothesis and stop conditions) and whether its target can take it.
tests_app's `submit_run` calls `run_chaos` before anything is created."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from chaos_app.models import ChaosExperiment, ChaosInjection
from chaos_app.schedule import Layout, plan_problem
from chaos_app.selectors import FIGURES
from clusters.faults import FAULT_KINDS, FaultStep, parse_step
from clusters.targets import TargetSpec, target_kind
from lbsite.permissions import owned_by


def experiments_visible_to(user) -> QuerySet[ChaosExperiment]:
    """The user's own experiments and the shared presets."""
    return owned_by(ChaosExperiment.objects.all(), user, shared_presets=True)


@dataclass(frozen=True)
class RunChaos:
    """A run's chaos as it is frozen at submission: the steps as `parse_step` reads them, the
    experiment they came from (if any), and its hypothesis, stop conditions and RTO limits."""

    steps: list[str] = field(default_factory=list)
    experiment: ChaosExperiment | None = None
    settings: dict = field(default_factory=dict)


def find_experiment(owner, given) -> ChaosExperiment:
    """An experiment the owner may attach, by id or name (their own before a preset of that name)."""
    visible = experiments_visible_to(owner)
    if isinstance(given, ChaosExperiment):
        found = visible.filter(pk=given.pk).first()
    elif isinstance(given, int) and not isinstance(given, bool):
        found = visible.filter(pk=given).first() if 0 < given < 2**31 else None  # an id the database can hold
    elif isinstance(given, str) and given.strip() and "\x00" not in given:  # PostgreSQL holds no NUL
        found = visible.filter(name=given.strip()).order_by("owner_id").first()  # own (non-null) first
        own = visible.filter(name=given.strip(), owner=owner).first()
        found = own or found
    else:
        raise ValidationError({"experiment": ["A chaos experiment's id or name."]})
    if found is None:
        names = ", ".join(visible.values_list("name", flat=True)[:20]) or "none"
        raise ValidationError({"experiment": [f"no chaos experiment {given!r} you can use; yours and the presets: {names}"]})
    return found


def run_chaos(*, owner, steps: Sequence[str], experiment, target: TargetSpec, duration_s: float,
              reach_cluster: bool = True) -> RunChaos:
    """The run's chaos, checked against its target and its load's duration; ValidationError on the
    field that is wrong (`chaos` or `experiment`), with one clear message. `reach_cluster`: ask the
    target's cluster too (not while anything else of the request is wrong, such as a namespace that
    is not allow-listed)."""
    steps = list(steps)
    found = None
    settings: dict = {}
    if experiment not in (None, ""):
        found = find_experiment(owner, experiment)
        if steps:
            raise ValidationError({"chaos": ["give chaos steps or an experiment, not both"]})
        steps = [FaultStep.from_dict(step).to_spec() for step in found.steps]
        settings = {"hypothesis": dict(found.hypothesis or {}), "stop_conditions": dict(found.stop_conditions or {}),
                    "rto_limits_s": dict(found.rto_limits_s or {})}
    if not steps:
        return RunChaos()
    field_name = "experiment" if found is not None else "chaos"
    kind = target_kind(target.kind)
    slots, nodes = kind.planned_layout(target)
    problem = plan_problem(steps, duration_s=duration_s, layout=Layout(slots=slots, nodes=nodes,
                                                                            stateful=target.stateful))
    if problem:
        raise ValidationError({field_name: [problem]})
    faults = [FAULT_KINDS[parse_step(spec).kind] for spec in steps]
    for fault in faults:  # what the target's adapter can do (a URL target only takes `external`)
        problem = kind.chaos_problem(fault)
        if problem:
            raise ValidationError({field_name: [problem]})
    if reach_cluster:  # what the cluster as it is can do (Chaos Mesh installed on a Kubernetes target)
        problem = kind.cluster_chaos_problem(target, faults)
        if problem:
            raise ValidationError({field_name: [problem]})
    return RunChaos(steps=steps, experiment=found, settings=settings)


def store_figures(run_id: int, section: Sequence[dict]) -> None:
    """Each injection's recovery figures (metrics_app.recovery's `chaos_section`) on its row."""
    for item in section:
        figures = {name: item.get(name) for name in FIGURES}
        figures["reason"] = figures["reason"] or ""
        ChaosInjection.objects.filter(run_id=run_id, step=item["step"]).update(**figures)
