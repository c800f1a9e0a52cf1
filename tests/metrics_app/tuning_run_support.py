"""What the whole-run tuning tests share: the three balancers a sandbox can put in front of its
pods (nginx and HAProxy skipped where not installed, and solo: a reload under load is judged on
what the clients see within a window), and `BalancerWatch`, a run listener that asks the run's
cluster each second what its balancer really runs: LB Lab's setting (algorithm, options, weights)
and, behind nginx or HAProxy, the configuration file they were last given, their processes (a
reload starts new workers) and HAProxy's own runtime weights."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import pytest

from clusters.base import ClusterError
from clusters.sandbox.backends import backend_named
from tests.factories import ScenarioFactory, TargetFactory

CONFIG_FILES = {"nginx": "nginx.conf", "haproxy": "haproxy.cfg"}
# a server's readiness as a config writes it (nginx `down`, HAProxy `disabled`): LB Lab's health
# checks', not a setting the tuner changes (HAProxy's first config has every pod disabled, its
# runtime API then enables them, and only a reload writes them enabled)
READINESS = re.compile(r" (down|disabled)(?=;|\n|$)", re.MULTILINE)


def pinned_sandbox(owner, balancer: str, *, duration_s: int):
    """(target, scenario) of a run l4_connection pins: 5 keep-alive users over 4 pods of 1 ms,
    never balanced (2-1-1-1 at best), behind `balancer`."""
    return (TargetFactory(owner=owner, pods=4, algorithm="l4_connection", service_time_ms=1.0, balancer=balancer),
            ScenarioFactory(owner=owner, users=5, spawn_rate=50, duration_s=duration_s, keep_alive=True))


def installed(name: str) -> bool:
    try:
        backend_named(name).located()
    except ClusterError:
        return False
    return True


BALANCERS = [
    "lblab",
    *(pytest.param(name, marks=[
        pytest.mark.skipif(not installed(name), reason=f"{name} is not installed: make balancers"), pytest.mark.solo])
      for name in CONFIG_FILES),
]


@dataclass(frozen=True)
class Setting:
    """What the sandbox's balancer runs at one moment."""

    t: float | None  # the run's second it was read after (None: at the start, before any load)
    algorithm: str
    options: dict
    weights: dict[str, float]  # LB Lab's, by pod
    config: str  # the real balancer's configuration file ("" behind LB Lab's own)
    processes: tuple[int, ...]  # the real balancer's master and workers (a reload changes them)
    runtime_weights: dict[str, int]  # HAProxy's own, from its runtime API (empty elsewhere)

    @property
    def balancing(self) -> str:
        """The real balancer's configuration less the pods' readiness: how it balances."""
        return READINESS.sub("", self.config)

    def same_as(self, other: Setting) -> bool:
        """The same setting, in force by the same processes: nothing was changed or reloaded."""
        return (self.algorithm, self.options, self.weights, self.config, self.processes, self.runtime_weights) == (
            other.algorithm, other.options, other.weights, other.config, other.processes, other.runtime_weights)


def read_setting(cluster, t: float | None = None) -> Setting:
    status = cluster.client.status()
    stats = cluster.client.balancer_stats()
    name = CONFIG_FILES.get(status["balancer"])
    config = ""
    if name is not None:
        with open(os.path.join(cluster._workdir, name)) as handle:
            config = handle.read()
    return Setting(t=t, algorithm=status["algorithm"], options=dict(status["options"] or {}),
                   weights={pod: figures["weight"] for pod, figures in stats.items()},
                   config=config, processes=tuple(sorted(status["pids"]["balancer"])),
                   runtime_weights={pod: figures["haproxy"]["weight"] for pod, figures in stats.items()
                                    if "haproxy" in figures})


class BalancerWatch:
    """A run listener (`services.execute_run(..., listeners=[watch.attach])`): the balancer's setting at
    the start, after every second, and at the stop (before the cluster's restore and close)."""

    def __init__(self):
        self.settings: list[Setting] = []

    def attach(self, events) -> None:
        events.start.add_listener(lambda ctx: self.settings.append(read_setting(ctx.cluster)))
        events.second.add_listener(lambda ctx, second: self.settings.append(read_setting(ctx.cluster, second.t)))
        events.stop.add_listener(lambda ctx: self.settings.append(read_setting(ctx.cluster, float("inf"))))

    @property
    def first(self) -> Setting:
        return self.settings[0]

    @property
    def last(self) -> Setting:
        return self.settings[-1]
