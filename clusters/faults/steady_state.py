"""A chaos experiment's steady-state hypothesis (`ChaosExperiment.hypothesis`): what must hold
before the first fault is injected (chaos_app.schedule) and what the service must be back within
after each one (metrics_app.recovery). One class for both, so the two never judge by different
bounds. Pure: no Django."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class SteadyState:
    """Error rate (0.01 = 1 %) and p95 in ms (None: no bound) the service keeps in its steady state;
    `min_availability` (None: no floor) judges an injection's availability."""

    max_error_rate: float = 0.01
    max_p95_ms: float | None = None
    min_availability: float | None = None

    @classmethod
    def from_hypothesis(cls, hypothesis: Mapping | None) -> SteadyState:
        """From a `ChaosExperiment.hypothesis` (chaos_app.models.HYPOTHESIS_KEYS): `max_error_rate`,
        `max_p95_ms` and `min_availability` map here; `max_rto_s` is the experiment's RTO limit and
        `min_balance_score` its balance threshold, which the recovery analysis is given on their own."""
        hypothesis = hypothesis or {}
        max_p95 = hypothesis.get("max_p95_ms")
        min_availability = hypothesis.get("min_availability")
        return cls(max_error_rate=float(hypothesis.get("max_error_rate", cls.max_error_rate)),
                   max_p95_ms=None if max_p95 is None else float(max_p95),
                   min_availability=None if min_availability is None else float(min_availability))

    def problem(self, seconds: Sequence[Mapping]) -> str:
        """Why the steady state does not hold over `seconds` (each with requests, failures, p95_ms):
        "" when it does, or with no second yet."""
        requests = sum(s["requests"] for s in seconds)
        failures = sum(s["failures"] for s in seconds)
        if seconds and requests <= 0:
            return f"no request completed in the {len(seconds)} s before the first injection"
        if requests and failures / requests > self.max_error_rate:
            return (f"error rate {failures / requests * 100:.2f} % over the last {len(seconds)} s is above the "
                    f"steady state's {self.max_error_rate * 100:.2f} %")
        p95 = max((s["p95_ms"] for s in seconds if s.get("p95_ms") is not None), default=None)
        if self.max_p95_ms is not None and p95 is not None and p95 > self.max_p95_ms:
            return f"p95 {p95:.1f} ms over the last {len(seconds)} s is above the steady state's {self.max_p95_ms:.1f} ms"
        return ""
