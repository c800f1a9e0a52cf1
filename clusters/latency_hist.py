"""Compact latency histograms that add up: what each 100 ms bucket of the Locust plugin's sample
lines carries, so that a p95 over any stretch of buckets (a 3 s recovery window, the time a fault
lasted) is computed from the requests themselves. Percentiles cannot be averaged; histograms can
be added.

A histogram maps a latency, rounded to two significant digits in milliseconds and never finer
than 0.1 ms, to how many requests took it: Locust's own statistics round response times the same
way (to the ms under 100 ms, to 10 ms under 1 s, ...), one decade finer here because a local
target answers in about a millisecond. The rounding error is at most 5 % of the value, and a
histogram holds at most about 90 keys per decade of latency, whatever the request count (about
460 keys from 0.1 ms to 60 s), so a bucket's histogram stays small. On the wire it is a list of
`[ms, count]` pairs sorted by ms (`to_pairs`).

Pure: no Django, no Locust.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

FINEST_MS = 0.1


def latency_key(ms: float) -> float:
    """`ms` (>= 0) rounded to two significant digits (half up), at least to 0.1 ms. Runs once
    per request in the load generator: the usual decades without a logarithm."""
    if ms < 9.95:
        return int(ms * 10.0 + 0.5) / 10.0
    if ms < 99.5:
        return float(int(ms + 0.5))
    if ms < 995.0:
        return int(ms / 10.0 + 0.5) * 10.0
    if ms < 9950.0:
        return int(ms / 100.0 + 0.5) * 100.0
    step = 10.0 ** (math.floor(math.log10(ms)) - 1)
    return round(math.floor(ms / step + 0.5) * step, 1)


def add_latency(hist: dict[float, int], latency_s: float) -> None:
    """Count one request that took `latency_s` seconds into `hist`."""
    key = latency_key(latency_s * 1000.0)
    hist[key] = hist.get(key, 0) + 1


def add_pairs(hist: dict[float, int], pairs: Iterable[Iterable]) -> None:
    """Add a histogram in its wire form (`[[ms, count], ...]`) into `hist`."""
    for ms, count in pairs:
        key = float(ms)
        hist[key] = hist.get(key, 0) + int(count)


def to_pairs(hist: Mapping[float, int]) -> list[list]:
    """The wire form: `[[ms, count], ...]` sorted by ms (JSON objects would need string keys)."""
    return [[key, count] for key, count in sorted(hist.items()) if count]


def percentile_ms(hist: Mapping[float, int], percent: float = 95.0) -> float | None:
    """The nearest-rank percentile: the smallest latency at or under which at least `percent` %
    of the requests fall. None for an empty histogram."""
    total = sum(hist.values())
    if total <= 0:
        return None
    rank = max(1, math.ceil(total * percent / 100.0))
    seen = 0
    for key in sorted(hist):
        seen += hist[key]
        if seen >= rank:
            return float(key)
    return float(max(hist))
