"""The frozen scenario of a run: what load it sends, how it is shaped, how it is judged.

Pure: no Django. A run keeps a copy of its scenario as it was at submission (a preset edited
later does not change history); the copy is stored as `LoadTestRun.scenario_config` (JSON,
`to_dict`) and read back by attribute (`LoadTestRun.scenario_spec`). The defaults here are
the one place a scenario's defaults live: the `Scenario` model's fields take theirs from
`DEFAULTS`, and a stored copy missing a field (an older run) reads it from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class ScenarioSpec:
    name: str = "custom"
    id: int | None = None  # the saved Scenario it was copied from, if any
    shape: str = "steady"
    users: int = 10
    spawn_rate: float = 10.0
    duration_s: int = 30
    spike_factor: float = 3.0
    spike_at_s: int = 0
    spike_length_s: int = 0
    stages: tuple[dict, ...] = ()  # [{"duration_s", "users", "spawn_rate"}] for the `stages` shape
    request_mix: tuple[dict, ...] = ()  # [{"path", "method", "weight"}]; empty: GET / only
    think_time_min_ms: int = 0
    think_time_max_ms: int = 0
    keep_alive: bool = True
    arrival_rate: float | None = None  # requests/s of the open model; None: the closed model
    threshold_balance: float = 95.0  # percent
    threshold_p95_ms: float | None = None
    threshold_error_rate: float = 0.01  # share of failed requests

    @classmethod
    def from_dict(cls, data: Mapping) -> ScenarioSpec:
        """A stored copy: keys this build does not know are ignored, missing ones take the defaults."""
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in (data or {}).items() if key in known}
        for key in ("stages", "request_mix"):
            if key in values:
                values[key] = tuple(dict(item) for item in values[key] or ())
        return cls(**values)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["stages"] = [dict(stage) for stage in self.stages]
        data["request_mix"] = [dict(entry) for entry in self.request_mix]
        return data

    @property
    def outline(self) -> str:
        """What the load does, in a few words: shape, users, duration (`spike ×3 · 50 users · 2 min`)."""
        if self.shape == "spike":
            shape, users = f"spike ×{self.spike_factor:g}", _count(self.users, "user")
        elif self.shape == "stages":
            peak = max((stage["users"] for stage in self.stages if isinstance(stage.get("users"), int)), default=0)
            shape, users = _count(len(self.stages), "stage"), f"up to {_count(peak, 'user')}"
        else:
            shape, users = self.shape, _count(self.users, "user")
        parts = [shape, users, _seconds(self.duration_s)]
        if self.arrival_rate:
            parts.append(f"{self.arrival_rate:g} req/s")
        return " · ".join(parts)

    @property
    def title(self) -> str:
        """What the scenario is called in a run's default name: its own name, or what it does when
        it is an unnamed custom one."""
        return self.name if self.name and self.name != CUSTOM else self.outline


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _seconds(seconds: float) -> str:
    if seconds >= 120 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


DEFAULTS = ScenarioSpec()
CUSTOM = DEFAULTS.name  # the name of a scenario described on the spot (a form, an inline API object)
