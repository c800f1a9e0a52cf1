"""The choices of tests_app's fields, in one place (as NetBox keeps them). The vocabularies that
are registries in the ground layer (balancing algorithms, the sandbox's balancers, target kinds) are read from there,
so a new entry is offered everywhere without being listed here."""

from __future__ import annotations

from django.db import models

from clusters import algorithms, targets
from clusters.sandbox import backends, stateful


def algorithm_choices() -> list[tuple[str, str]]:
    return [(algorithm.name, algorithm.label) for algorithm in algorithms.ALGORITHMS.values()]


def balancer_choices() -> list[tuple[str, str]]:
    return backends.choices()


def kubernetes_balancer_choices() -> list[tuple[str, str]]:
    from clusters.kubernetes.balancers import KUBERNETES_BALANCERS  # pure: no client imported

    return [(balancer.name, balancer.label) for balancer in KUBERNETES_BALANCERS.values()]


def traffic_distribution_choices() -> list[tuple[str, str]]:
    from clusters.kubernetes.balancers import TRAFFIC_DISTRIBUTION_ALIASES, TRAFFIC_DISTRIBUTIONS

    return [("", "As the Service has it"), *((value, value) for value in TRAFFIC_DISTRIBUTIONS),
            *((alias, f"{alias} (the older name of {value})") for alias, value in TRAFFIC_DISTRIBUTION_ALIASES.items())]


def target_kind_choices() -> list[tuple[str, str]]:
    return targets.choices()


def stateful_choices() -> list[tuple[str, str]]:
    return [(store.name, store.label) for store in stateful.STORES.values()]


def durability_choices() -> list[tuple[str, str]]:
    return [(mode, mode) for mode in stateful.DURABILITY_MODES]


class Attribution(models.TextChoices):
    HEADER = "header", "Response header"
    JSON_FIELD = "json_field", "JSON body field"
    PROMETHEUS = "prometheus", "Prometheus query"


class Shape(models.TextChoices):
    STEADY = "steady", "Steady"
    SPIKE = "spike", "Spike"
    RAMP = "ramp", "Ramp"
    SUSTAINED = "sustained", "Sustained"
    STAGES = "stages", "Custom stages"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    STOPPING = "stopping", "Stopping"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    ERROR = "error", "Error"
    CANCELLED = "cancelled", "Cancelled"
