"""What one run may ask of this machine, and how many runs one user may have waiting or going.

Pure: no Django. The operator sets the limits (settings `LBLAB_MAX_*`, README "Security");
`tests_app.services.submit_run` checks every run against them before anything is created, so a
run that would exhaust the machine (or outlast the worker's task timeout) is refused with the
field that is too much, never killed half-way.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests_app.scenario_spec import ScenarioSpec


@dataclass(frozen=True)
class Budgets:
    users: int = 1000  # at the peak of the shape (a spike's users x factor, the largest stage)
    spawn_rate: float = 500.0  # users started per second, any stage's too
    arrival_rate: float = 5000.0  # open model: requests per second
    workers: int = 4  # Locust worker processes of one run
    pods: int = 32  # sandbox pods LB Lab starts for one run
    duration_s: int = 4 * 3600  # LBLAB_MAX_RUN_SECONDS: the task timeout is set above it
    active_runs: int = 5  # a user's runs queued or going at once


def peak_users(scenario: ScenarioSpec) -> int:
    """The most users the scenario's shape asks for at any moment."""
    if scenario.shape == "spike":
        return max(scenario.users, round(scenario.users * scenario.spike_factor))
    if scenario.shape == "stages":
        return max([scenario.users, *(int(stage.get("users") or 0) for stage in scenario.stages)])
    return scenario.users


def run_problems(budgets: Budgets, *, scenario: ScenarioSpec, workers: int, started_pods: int) -> dict:
    """Every limit a run would pass, as RunRejected's errors: {"scenario": {field: [message]},
    "target": {"pods": [...]}, "workers": [...]}; empty when it fits."""
    too_much: dict[str, list[str]] = {}
    users = peak_users(scenario)
    if users > budgets.users:
        at = "" if users == scenario.users else f" at the peak of its shape ({users})"
        too_much["users"] = [f"more users{at} than a run may have here: at most {budgets.users} (LBLAB_MAX_USERS)"]
    rates = [scenario.spawn_rate, *(stage.get("spawn_rate") or 0 for stage in scenario.stages)]
    if max(rates) > budgets.spawn_rate:
        field = "spawn_rate" if scenario.spawn_rate > budgets.spawn_rate else "stages"
        too_much[field] = [f"users are started at most {budgets.spawn_rate:g} per second here (LBLAB_MAX_SPAWN_RATE)"]
    if scenario.arrival_rate is not None and scenario.arrival_rate > budgets.arrival_rate:
        too_much["arrival_rate"] = [f"at most {budgets.arrival_rate:g} requests per second here (LBLAB_MAX_ARRIVAL_RATE)"]
    if scenario.duration_s > budgets.duration_s:
        too_much["duration_s"] = [f"a run lasts at most {budgets.duration_s} s here (LBLAB_MAX_RUN_SECONDS)"]
    problems: dict = {"scenario": too_much} if too_much else {}
    if started_pods > budgets.pods:
        problems["target"] = {"pods": [f"at most {budgets.pods} sandbox pods per run here (LBLAB_MAX_PODS)"]}
    if workers > budgets.workers:
        problems["workers"] = [f"at most {budgets.workers} Locust worker processes per run here (LBLAB_MAX_WORKERS)"]
    return problems


def active_runs_problem(budgets: Budgets, *, active: int) -> str:
    """Why a user with `active` runs queued or going may not queue another ("" when they may)."""
    if active < budgets.active_runs:
        return ""
    return (f"you have {active} runs queued or running, the most one user may have here "
            f"(LBLAB_MAX_ACTIVE_RUNS_PER_USER={budgets.active_runs}): wait for one to end, or stop one")
