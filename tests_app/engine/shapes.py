"""Scenario shapes as pure functions of time (no Locust here, so they can be unit-tested).

`users_at(shape, t)` is the user count the shape asks for at `t` seconds after the
start; `target(shape, t)` adds the spawn rate to reach it with, or None once the run
is over. The Locust LoadTestShape in locustfile.py only calls `target`.

- steady:    `users` for the whole run, ramped up at `spawn_rate`.
- sustained: the same curve as steady; the name says the intent (a long plateau).
- spike:     `users` as the base; `round(users * spike_factor)` from `spike_at_s` for
             `spike_length_s`, then back to the base. The jump up and down is immediate
             (the spawn rate is raised to the size of the jump), as a spike should be.
- ramp:      a linear increase from 0 to `users` over the whole duration, reaching the
             peak in the last second (the spawn rate is at least the slope).
- stages:    consecutive `{duration_s, users, spawn_rate}`; after the last stage its
             users are held until `duration_s` (when that is longer than the stages).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

KINDS = ("steady", "spike", "ramp", "sustained", "stages")


@dataclass(frozen=True)
class Stage:
    duration_s: float
    users: int
    spawn_rate: float


@dataclass(frozen=True)
class Shape:
    kind: str = "steady"
    users: int = 1
    spawn_rate: float = 1.0
    duration_s: float = 10.0
    spike_factor: float = 2.0
    spike_at_s: float = 0.0
    spike_length_s: float = 0.0
    stages: tuple[Stage, ...] = field(default_factory=tuple)

    @property
    def peak_users(self) -> int:
        if self.kind == "spike":
            return max(self.users, spike_users(self))
        if self.kind == "stages" and self.stages:
            return max(stage.users for stage in self.stages)
        return self.users


def spike_users(shape: Shape) -> int:
    return max(0, round(shape.users * shape.spike_factor))


def _stage_at(shape: Shape, t: float) -> Stage | None:
    start = 0.0
    for stage in shape.stages:
        if t < start + stage.duration_s:
            return stage
        start += stage.duration_s
    return shape.stages[-1] if shape.stages else None


def users_at(shape: Shape, t: float) -> int:
    """Users the shape asks for at `t` (what Locust is told; the spawn rate decides how fast)."""
    if t < 0 or t >= shape.duration_s:
        return 0
    if shape.kind in ("steady", "sustained"):
        return shape.users
    if shape.kind == "spike":
        in_spike = shape.spike_at_s <= t < shape.spike_at_s + shape.spike_length_s
        return spike_users(shape) if in_spike else shape.users
    if shape.kind == "ramp":
        # Ceil: one user as soon as the ramp starts moving, the peak in the last second.
        return min(shape.users, math.ceil(shape.users * t / shape.duration_s - 1e-9))
    if shape.kind == "stages":
        stage = _stage_at(shape, t)
        return stage.users if stage else 0
    raise ValueError(f"unknown shape {shape.kind!r}")


def spawn_rate_at(shape: Shape, t: float) -> float:
    """The spawn rate to reach `users_at(t)` with."""
    if shape.kind == "spike":
        jump = abs(spike_users(shape) - shape.users)
        if t >= shape.spike_at_s:
            return float(max(shape.spawn_rate, jump, 1))
        return float(shape.spawn_rate)
    if shape.kind == "ramp":
        return float(max(shape.spawn_rate, math.ceil(shape.users / shape.duration_s), 1))
    if shape.kind == "stages":
        stage = _stage_at(shape, t)
        return float(stage.spawn_rate) if stage else float(shape.spawn_rate)
    return float(shape.spawn_rate)


def target(shape: Shape, t: float) -> tuple[int, float] | None:
    """(users, spawn_rate) at `t`, or None when the run is over (t >= duration)."""
    if t >= shape.duration_s:
        return None
    return users_at(shape, t), spawn_rate_at(shape, t)

