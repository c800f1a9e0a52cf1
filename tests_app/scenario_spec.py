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


DEFAULTS = ScenarioSpec()
