"""Which pod served a response. Pure: no Locust, so it can be unit-tested.

Three methods (ARCHITECTURE.md section 3):
- `header`: a response header, matched case-insensitively (HAProxy lower-cases names);
- `json_field`: a field of a JSON body (dots for nested fields: `meta.pod`);
- `prometheus`: no per-response attribution; per-pod request counters are read from a
  Prometheus HTTP API (`/api/v1/query`) at the start and end of each 1 s window and the
  increase is the pod's count for that window (`CounterDeltas`).
A response with no pod is `None`: the caller counts it as unattributed, never drops it. A pod's
name comes from the target, so it is cleaned first (`clusters.balance.clean_pod_name`: control
characters removed, cut to length, reserved names marked).
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping

from clusters.balance import clean_pod_name
from tests_app.engine.config import Attribution


def header_value(headers, name: str) -> str | None:
    """The value of header `name`, whatever the case of the name in `headers`
    (a mapping, or an iterable of (name, value) pairs)."""
    if headers is None:
        return None
    getter = getattr(headers, "get", None)
    if getter is not None:
        for candidate in (name, name.lower()):
            try:
                value = getter(candidate)
            except Exception:  # noqa: BLE001 - exotic header objects: fall back to scanning
                value = None
            if value:
                return str(value).strip() or None
    lowered = name.lower()
    items = headers.items() if hasattr(headers, "items") else headers
    for key, value in items:
        if str(key).lower() == lowered and value:
            return str(value).strip() or None
    return None


def json_field(body: bytes | str | None, field: str) -> str | None:
    """`field` (dotted path) of a JSON object body, as a string; None when absent or not JSON."""
    if not body:
        return None
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    for part in field.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def response_attributor(spec: Attribution) -> Callable[[object, Callable[[], bytes | None]], str | None]:
    """A function (headers, body_getter) -> pod or None for the configured method.
    The body is only read (body_getter called) by json_field."""
    if spec.method == "header":
        name = spec.header

        def by_header(headers, _body):
            return clean_pod_name(header_value(headers, name))

        return by_header
    if spec.method == "json_field":
        field = spec.field

        def by_json(_headers, body):
            return clean_pod_name(json_field(body(), field))

        return by_json

    def by_prometheus(_headers, _body):
        return None  # counted per window from the counters instead

    return by_prometheus


def parse_vector(payload: Mapping) -> dict[str, float]:
    """A Prometheus /api/v1/query answer -> {pod: value}, summing series of the same pod.
    Raises ValueError when it is not a successful vector with `pod` labels."""
    if payload.get("status") != "success":
        raise ValueError(f"prometheus answered {payload.get('status')!r}: {payload.get('error', '')}")
    data = payload.get("data") or {}
    if data.get("resultType") != "vector":
        raise ValueError(f"the query must return a vector, not {data.get('resultType')!r}")
    out: dict[str, float] = {}
    for series in data.get("result") or []:
        pod = clean_pod_name((series.get("metric") or {}).get("pod"))
        if not pod:
            raise ValueError("every series of the query needs a `pod` label")
        out[pod] = out.get(pod, 0.0) + float(series["value"][1])
    return out


def query_prometheus(url: str, query: str, *, timeout: float = 2.0,
                     opener: urllib.request.OpenerDirector | None = None) -> dict[str, float]:
    """Run an instant query against the Prometheus HTTP API at `url`; {pod: value}. `opener`:
    how redirects are followed (the plugin's follows only allow-listed ones: redirects.py)."""
    full = f"{url}/api/v1/query?{urllib.parse.urlencode({'query': query})}"
    with (opener or urllib.request.build_opener()).open(full, timeout=timeout) as answer:
        return parse_vector(json.loads(answer.read()))


class CounterDeltas:
    """Turns successive counter readings into per-window increases, per pod.

    A counter that went down was reset (the pod restarted): its increase is the new
    value, as Prometheus' `increase()` assumes. A failed reading (None) leaves the
    baseline alone, so the next good reading carries that window's requests too.
    """

    def __init__(self, baseline: Mapping[str, float] | None = None):
        self.baseline: dict[str, float] = dict(baseline or {})

    def update(self, reading: Mapping[str, float] | None) -> dict[str, int]:
        if reading is None:
            return {}
        deltas = {}
        for pod, value in reading.items():
            before = self.baseline.get(pod)
            if before is None:
                # A pod that appears mid-run started from zero (it did not exist at the baseline).
                increase = value if self.baseline else 0.0
            elif value >= before:
                increase = value - before
            else:
                increase = value
            self.baseline[pod] = value
            if increase:
                deltas[pod] = int(round(increase))
        return deltas


def pods_union(*groups: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for group in groups:
        for pod in group:
            seen[pod] = None
    return list(seen)
