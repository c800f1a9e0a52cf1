"""Per-pod counts and latency histograms, and the lines the plugin emits. Pure: no Locust.

Memory does not grow with run length: latencies go into HDR histograms (1 µs .. 60 s,
3 significant digits, about 140 kB each), one per pod per window plus one cumulative
per pod. A window holds at most `PENDING_CAP` latencies per pod not yet in its histogram:
`record()` only appends (the library's `record_value` is pure Python, ~2 µs a call, a
visible share of a request that costs the generator ~250 µs), and they are recorded in
bulk, at C speed (`record_latencies`), when the window is read or the cap is reached.

- `Window` collects what one process saw since it last reported: `record()` per
  response (counted for its pod and for its endpoint, the request mix entry it came from),
  `record_error()` per failure (grouped by endpoint, type, status and message),
  `to_wire()` / `merge_wire()` to ship it from a worker to the master (histograms encoded
  with HdrHistogram's compressed format).
- `Window.buckets`: the same responses by 100 ms of completion time (`Bucket`), flushed with
  the window, so the sample lines carry the recovery analysis' resolution (see `Aggregator`).
- `Aggregator` (in the process that emits lines) turns windows into `sample` lines and
  keeps the cumulative figures for the `final` line. Every count in `final` is the sum
  of the samples that were emitted, per pod too, by construction. The endpoint and error
  tables, as Locust's own UI shows them, are the run so far in every sample (counts and
  percentiles since the start; `rps` and `failures_per_s` of that second), so the last
  sample's counts are the final line's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus

import numpy as np
from hdrh.histogram import HdrHistogram

from clusters import latency_hist
from clusters.balance import MAX_DISTINCT_PODS, OTHER_PODS
from clusters.latency_hist import latency_key

LOWEST_US = 1
HIGHEST_US = 60_000_000
DIGITS = 3
PENDING_CAP = 8192  # latencies a window slot holds before recording them into its histogram
# Distinct failure groups kept; a target answering with ever new messages (ids, addresses in
# them) must not grow memory: past this many, new messages are counted together under
# OTHER_MESSAGES, one group per endpoint, type and status.
MAX_ERROR_GROUPS = 100
OTHER_MESSAGES = "(other messages)"
MESSAGE_MAX_CHARS = 200
HTTP_REASONS = {status.value: status.phrase for status in HTTPStatus}
BUCKETS_PER_S = 10  # 100 ms buckets
_now = time.time  # looked up once: record() runs per request


def bucket_key(at_unix: float) -> int:
    """The 100 ms bucket a response that completed at `at_unix` (time.time()) is counted in:
    whole tenths of a second since the Unix epoch, the same in every process on clocks kept in
    step (one machine, or NTP). The run's t=0 is on such a boundary (the plugin starts on one),
    so the bucket `key` starts `key - t0_key` tenths of a second into the run."""
    return int(at_unix * BUCKETS_PER_S)


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)


def clamp_us(latency_s: float) -> int:
    return min(HIGHEST_US, max(LOWEST_US, int(latency_s * 1_000_000)))


def _ms(value_us: int | float) -> float:
    return round(value_us / 1000.0, 3)


def _counts(hist: HdrHistogram) -> np.ndarray:
    """The histogram's counters as a numpy view (no copy: writes go into the histogram)."""
    return np.ctypeslib.as_array(hist.counts)


def record_latencies(hist: HdrHistogram, latencies_s: list[float]) -> None:
    """`hist.record_value(clamp_us(s))` for each s, with the same result, at C speed: the
    library's index arithmetic (bucket of the value's bit length, then sub-bucket) on
    numpy arrays, and one bincount added to the counters."""
    if not latencies_s:
        return
    values = np.clip((np.asarray(latencies_s, dtype=np.float64) * 1_000_000).astype(np.int64),
                     LOWEST_US, HIGHEST_US)
    # bit length of (value | mask) = frexp's exponent, exact for integers below 2**53
    pow2ceiling = np.frexp((values | hist.sub_bucket_mask).astype(np.float64))[1].astype(np.int64)
    bucket = pow2ceiling - hist.unit_magnitude - (hist.sub_bucket_half_count_magnitude + 1)
    sub_bucket = values >> (bucket + hist.unit_magnitude)
    index = ((bucket + 1) << hist.sub_bucket_half_count_magnitude) + sub_bucket - hist.sub_bucket_half_count
    counts = _counts(hist)
    np.add(counts, np.bincount(index, minlength=hist.counts_len)[:hist.counts_len].astype(counts.dtype), out=counts)
    hist.total_count += len(values)
    hist.min_value = min(hist.min_value, int(values.min()))
    hist.max_value = max(hist.max_value, int(values.max()))


def values_at_percentiles(hist: HdrHistogram, percentiles: tuple[float, ...]) -> list[int]:
    """`hist.get_value_at_percentile(p)` for each p, with the same result, in one pass at C
    speed (the library walks the 17k counters in Python: ~4 ms per call, every second,
    per pod)."""
    cumulative = np.cumsum(_counts(hist))
    out = []
    for percentile in percentiles:
        index = int(np.searchsorted(cumulative, hist.get_target_count_at_percentile(percentile), side="left"))
        if index >= len(cumulative):
            out.append(0)
            continue
        value = hist.get_value_from_index(index)
        out.append(hist.get_highest_equivalent_value(value) if percentile else hist.get_lowest_equivalent_value(value))
    return out


def percentiles_ms(hist: HdrHistogram | None) -> dict[str, float | None]:
    if hist is None or hist.get_total_count() == 0:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    p50, p95, p99 = values_at_percentiles(hist, (50, 95, 99))
    return {"p50": _ms(p50), "p95": _ms(p95), "p99": _ms(p99), "max": _ms(hist.get_max_value())}


def p95_ms(hist: HdrHistogram | None) -> float | None:
    if hist is None or hist.get_total_count() == 0:
        return None
    return _ms(values_at_percentiles(hist, (95,))[0])


def failure_of(status: int, error: BaseException | None) -> tuple[str, int | None, str]:
    """How a failed request is grouped: (type, status, message). An error status is an
    `HTTPError` with its reason phrase, whatever exception the client raised for it; without
    a status, the exception's class and text (cut to MESSAGE_MAX_CHARS)."""
    if status >= 400:
        return "HTTPError", status, HTTP_REASONS.get(status, "")
    if error is not None:
        return type(error).__name__, status or None, str(error)[:MESSAGE_MAX_CHARS]
    return "NoResponse", status or None, "no status and no error"


class PodNames:
    """The distinct pod names a process keeps for the run, first seen first kept, at most `cap`
    (expected pods count among them); any other name is counted as OTHER_PODS, so a target that
    answers with a new name per request cannot grow memory, lines or rows. `folded`: whether any was."""

    def __init__(self, expected: Iterable[str] = (), cap: int = MAX_DISTINCT_PODS):
        self.kept: set[str] = set(expected)
        self.cap = cap
        self.folded = False

    def admit(self, name: str) -> str:
        """The name `name` is counted under. Called once per pod per window, not per request."""
        if name in self.kept or name == OTHER_PODS:
            return name
        if len(self.kept) < self.cap:
            self.kept.add(name)
            return name
        self.folded = True
        return OTHER_PODS


MAX_ENDPOINTS = 200  # distinct request names a user's own locustfile may have; past it: OTHER_ENDPOINTS
OTHER_ENDPOINTS = "(other endpoints)"


class EndpointNames:
    """The endpoints of a run whose requests are not known in advance (a user's own locustfile:
    `"<method> <name>"` of each request Locust reports), numbered first seen first in this
    process, at most `cap` (then OTHER_ENDPOINTS). A window's wire format carries its names, so
    the master renumbers a worker's endpoints by name (`Window.merge_wire`)."""

    def __init__(self, cap: int = MAX_ENDPOINTS):
        self.names: list[str] = []
        self.numbers: dict[str, int] = {}
        self.cap = cap

    def number(self, name: str) -> int:
        number = self.numbers.get(name)
        if number is None:
            if len(self.names) >= self.cap:
                name = OTHER_ENDPOINTS
                number = self.numbers.get(name)
            if number is None:
                number = self.numbers[name] = len(self.names)
                self.names.append(name)
        return number


class PodWindow:
    """One pod's (or endpoint's, or the unattributed responses') counts in a window. `hist`
    is None until a latency was recorded."""

    __slots__ = ("_hist", "failures", "pending", "requests")

    def __init__(self):
        self.requests = 0
        self.failures = 0
        self.pending: list[float] = []  # latencies (s) not yet in the histogram
        self._hist: HdrHistogram | None = None

    def flush(self) -> None:
        if self.pending:
            if self._hist is None:
                self._hist = new_histogram()
            record_latencies(self._hist, self.pending)
            self.pending = []

    @property
    def hist(self) -> HdrHistogram | None:
        self.flush()
        return self._hist

    def histogram(self) -> HdrHistogram:
        """The histogram, created if need be (to merge into)."""
        self.flush()
        if self._hist is None:
            self._hist = new_histogram()
        return self._hist


class Bucket:
    """The responses that completed within one 100 ms bucket: counts, requests per pod (under
    the run's kept names) and a `clusters.latency_hist` histogram, so percentiles over several
    buckets stay exact to the histogram's resolution."""

    __slots__ = ("failures", "hist", "pods", "requests")

    def __init__(self):
        self.requests = 0
        self.failures = 0
        self.pods: dict[str, int] = {}
        self.hist: dict[float, int] = {}

    def add(self, other: Bucket) -> None:
        self.requests += other.requests
        self.failures += other.failures
        for name, count in other.pods.items():
            self.pods[name] = self.pods.get(name, 0) + count
        for key, count in other.hist.items():
            self.hist[key] = self.hist.get(key, 0) + count


class Window:
    """Counts since the last report, in one process. Each latency is recorded in its pod's
    histogram (or the unattributed one), which `merged_hist()` adds up, and in its endpoint's.
    `endpoints`: how many the request mix has; they are numbered in the mix's order, the same
    in every process (all read one config). `endpoint_names`: instead, endpoints learnt as
    requests come (a user's own locustfile), numbered by `endpoint()`."""

    def __init__(self, endpoints: int = 1, pod_names: PodNames | None = None,
                 endpoint_names: EndpointNames | None = None):
        self.endpoint_names = endpoint_names
        if endpoint_names is not None:
            endpoints = len(endpoint_names.names)
        self.pod_names = pod_names if pod_names is not None else PodNames()  # the process's, for the run
        self.requests = 0
        self.failures = 0
        self.unattributed = 0
        self.unattributed_slot = PodWindow()
        self.pods: dict[str, PodWindow] = {}
        self.endpoints = [PodWindow() for _ in range(endpoints)]
        # (endpoint, type, status, message) -> [count, first seen, last seen] (time.time())
        self.errors: dict[tuple[int, str, int | None, str], list] = {}
        # Counts that come from elsewhere than responses (prometheus counters): pod -> requests.
        self.pod_counts: dict[str, int] = {}
        # The window's responses by 100 ms of completion time (`bucket_key` -> Bucket): at most a
        # second's worth plus the stragglers of a late report, and gone with the window.
        self.buckets: dict[int, Bucket] = {}

    def __bool__(self) -> bool:
        return bool(self.requests or self.pod_counts)

    @property
    def unattributed_hist(self) -> HdrHistogram | None:
        return self.unattributed_slot.hist

    def record(self, pod: str | None, latency_s: float | None, failed: bool, endpoint: int = 0,
               at: float | None = None) -> None:
        """One finished request of the mix's `endpoint`. `latency_s` None: no latency (a request
        that never went out). `at`: when it completed (time.time(), default now); its 100 ms
        bucket is the one of its completion, the moment Locust's own request event would fire for
        it, so a request that hung through a fault is counted when its answer (or timeout) came.
        Runs once per request: kept to the fewest operations, and it allocates nothing but list
        room for the latency (and a bucket per 100 ms)."""
        self.requests += 1
        second_tenth = int((_now() if at is None else at) * BUCKETS_PER_S)
        bucket = self.buckets.get(second_tenth)
        if bucket is None:
            bucket = self.buckets[second_tenth] = Bucket()
        bucket.requests += 1
        if pod is None:
            self.unattributed += 1
            slot = self.unattributed_slot
        else:
            slot = self.pods.get(pod)
            if slot is None:
                pod = self.pod_names.admit(pod)
                slot = self._slot(pod)
            slot.requests += 1
            bucket.pods[pod] = bucket.pods.get(pod, 0) + 1
        by_endpoint = self.endpoints[endpoint]
        by_endpoint.requests += 1
        if failed:
            self.failures += 1
            slot.failures += 1
            by_endpoint.failures += 1
            bucket.failures += 1
        if latency_s is not None:
            key = latency_key(latency_s * 1000.0)
            bucket.hist[key] = bucket.hist.get(key, 0) + 1
            pending = slot.pending
            pending.append(latency_s)
            if len(pending) >= PENDING_CAP:
                slot.flush()
            pending = by_endpoint.pending
            pending.append(latency_s)
            if len(pending) >= PENDING_CAP:
                by_endpoint.flush()

    def endpoint(self, name: str) -> int:
        """The number of endpoint `name` (a window with `endpoint_names`), its slot made if new."""
        number = self.endpoint_names.number(name)
        while len(self.endpoints) <= number:
            self.endpoints.append(PodWindow())
        return number

    def _slot(self, pod: str) -> PodWindow:
        """The slot of a pod new to this window (under OTHER_PODS past the run's cap)."""
        name = self.pod_names.admit(pod)
        slot = self.pods.get(name)
        if slot is None:
            slot = self.pods[name] = PodWindow()
        return slot

    def record_error(self, endpoint: int, kind: str, status: int | None, message: str, at: float) -> None:
        """Why a request counted as failed by `record` failed (`failure_of`); `at` is time.time().
        Runs for failures only."""
        add_error(self.errors, (endpoint, kind, status, message), 1, at, at)

    def merged_hist(self) -> HdrHistogram | None:
        parts = [slot.hist for slot in (*self.pods.values(), self.unattributed_slot)]
        parts = [hist for hist in parts if hist is not None]
        if not parts:
            return None
        merged = new_histogram()
        for part in parts:
            merged.add(part)
        return merged

    def to_wire(self) -> dict:
        """A msgpack/JSON-safe copy (histograms as base64 text) to send to the master."""
        def enc(hist):
            return hist.encode().decode("ascii") if hist is not None and hist.get_total_count() else None

        wire = {
            "requests": self.requests, "failures": self.failures, "unattributed": self.unattributed,
            "unattributed_hist": enc(self.unattributed_hist),
            "pods": {name: [slot.requests, slot.failures, enc(slot.hist)] for name, slot in self.pods.items()},
            "endpoints": [[slot.requests, slot.failures, enc(slot.hist)] for slot in self.endpoints],
            "errors": [[*key, *group] for key, group in self.errors.items()],
            "buckets": [[key, bucket.requests, bucket.failures, bucket.pods, latency_hist.to_pairs(bucket.hist)]
                        for key, bucket in self.buckets.items()],
        }
        if self.endpoint_names is not None:
            wire["endpoint_names"] = self.endpoint_names.names[:len(self.endpoints)]
        return wire

    def merge_wire(self, data: Mapping) -> None:
        self.requests += int(data.get("requests", 0))
        self.failures += int(data.get("failures", 0))
        self.unattributed += int(data.get("unattributed", 0))
        if data.get("unattributed_hist"):
            self.unattributed_slot.histogram().decode_and_add(data["unattributed_hist"])
        for name, (requests, failures, encoded) in (data.get("pods") or {}).items():
            slot = self.pods.get(name)
            if slot is None:
                slot = self._slot(name)
            slot.requests += int(requests)
            slot.failures += int(failures)
            if encoded:
                slot.histogram().decode_and_add(encoded)
        names = data.get("endpoint_names")
        numbers = None
        if names is not None and self.endpoint_names is not None:  # renumbered by name
            numbers = [self.endpoint(name) for name in names]
        for i, (requests, failures, encoded) in enumerate(data.get("endpoints") or ()):
            if numbers is not None:
                slot = self.endpoints[numbers[i]]
            elif i < len(self.endpoints):
                slot = self.endpoints[i]
            else:
                break
            slot.requests += int(requests)
            slot.failures += int(failures)
            if encoded:
                slot.histogram().decode_and_add(encoded)
        for endpoint, kind, status, message, count, first, last in data.get("errors") or ():
            endpoint = int(endpoint) if numbers is None else numbers[int(endpoint)]
            add_error(self.errors, (endpoint, kind, status, message), int(count), float(first), float(last))
        for key, requests, failures, pods, pairs in data.get("buckets") or ():
            bucket = self.buckets.get(int(key))
            if bucket is None:
                bucket = self.buckets[int(key)] = Bucket()
            bucket.requests += int(requests)
            bucket.failures += int(failures)
            for name, count in pods.items():
                kept = self.pod_names.admit(name)
                bucket.pods[kept] = bucket.pods.get(kept, 0) + int(count)
            latency_hist.add_pairs(bucket.hist, pairs)


def add_error(groups: dict[tuple, list], key: tuple, count: int, first: float, last: float) -> None:
    """Count `count` failures of `key` (endpoint, type, status, message), seen from `first` to
    `last`, into `groups` (key -> [count, first, last]). Past MAX_ERROR_GROUPS keys, a new
    message joins its endpoint's, type's and status's OTHER_MESSAGES group."""
    group = groups.get(key)
    if group is None:
        if len(groups) >= MAX_ERROR_GROUPS:
            key = (*key[:3], OTHER_MESSAGES)
            group = groups.get(key)
        if group is None:
            groups[key] = [count, first, last]
            return
    group[0] += count
    group[1] = min(group[1], first)
    group[2] = max(group[2], last)


def _add_slot(into: PodWindow, slot: PodWindow) -> None:
    into.requests += slot.requests
    into.failures += slot.failures
    if slot.hist is not None:
        into.histogram().add(slot.hist)


class _PodTotal:
    __slots__ = ("failures", "hist", "requests")

    def __init__(self):
        self.requests = 0
        self.failures = 0
        self.hist = new_histogram()


class Aggregator:
    """Windows in, `sample` and `final` lines out. `expected_pods` are always listed (a
    pod that gets nothing shows 0 instead of being invisible).

    `counted_by_counters`: per-pod requests come from `Window.pod_counts` (prometheus)
    rather than from attributed responses; `unattributed` is then what the client
    counted beyond the pods' counters, reported in the last sample only (0 before), so
    the samples still sum to the final line. Per-pod failures and p95 are unknown there
    (0 and null).

    `pod_names`: the run's kept pod names (the windows' own, in the process that emits lines);
    a pod past them is counted under OTHER_PODS.

    `epoch`: time.time() at the run's t=0 (the plugin's `clock` line), on a 100 ms boundary.
    Each sample's `buckets` are its window's 100 ms buckets, by completion time: `t` (the
    bucket's start, seconds since t=0, a multiple of 0.1), `requests`, `failures`, `p95_ms`,
    `pods` (pod -> requests, attributed responses only: they sum to the sample's requests less
    its unattributed ones; none when pods are counted by counters) and `latency_hist` (the
    `clusters.latency_hist` pairs that add up over buckets). Only non-empty buckets, in time
    order. The buckets of a sample sum to its counts: a response that completed just past the
    second's end but was collected with it (the sample is taken a few ms late, a worker's
    counts up to `COLLECT_WAIT_S` late) is counted in the second's last bucket, and one that
    completed before the second but reached the master after the previous sample (a worker's
    late report) in its first bucket, as the second's own counts have them. The last sample
    covers the rest of the run: its buckets may lie past its `t` (requests in flight at the end).
    """

    def __init__(self, expected_pods: Iterable[str] = (), *, endpoints: Sequence[str] | EndpointNames = ("GET /",),
                 counted_by_counters: bool = False, epoch: float = 0.0, pod_names: PodNames | None = None):
        expected_pods = tuple(expected_pods)
        self.pod_names = pod_names if pod_names is not None else PodNames(expected_pods)
        self.counted_by_counters = counted_by_counters
        self.requests = 0
        self.failures = 0
        self.unattributed = 0
        self.hist = new_histogram()
        self.pods: dict[str, _PodTotal] = {name: _PodTotal() for name in expected_pods}
        # The request mix's endpoints in its order ("GET /api/items"), numbered as Window numbers them;
        # or, for a user's own locustfile, those the run's EndpointNames learn, in their order.
        self.endpoint_names = endpoints if isinstance(endpoints, EndpointNames) else None
        self.endpoints: dict[str, _PodTotal] = {} if self.endpoint_names else {name: _PodTotal() for name in endpoints}
        self.errors: dict[tuple[int, str, int | None, str], list] = {}
        # time.time() when the run started: errors are first and last seen this many seconds after it.
        self.epoch = epoch
        self.last_t = 0.0
        self.counter_pod_total = 0  # prometheus: sum of all pod counts so far

    def _learn_endpoints(self) -> None:
        if self.endpoint_names is not None:
            for name in self.endpoint_names.names[len(self.endpoints):]:
                self.endpoints[name] = _PodTotal()

    def _pod(self, name: str) -> _PodTotal:
        total = self.pods.get(name)
        if total is None:
            total = self.pods[name] = _PodTotal()
        return total

    def _kept(self, pods: dict[str, PodWindow]) -> dict[str, PodWindow]:
        """A window's pods under the names the run keeps: those past them merged into one
        OTHER_PODS slot (none are, when the windows were counted with the same `pod_names`)."""
        kept: dict[str, PodWindow] = {}
        folded: list[PodWindow] = []
        for name, slot in pods.items():
            if self.pod_names.admit(name) == name:
                kept[name] = slot
            else:
                folded.append(slot)
        if folded:  # a new slot: the window's own are never added into
            other = PodWindow()
            for slot in (kept.get(OTHER_PODS), *folded):
                if slot is not None:
                    _add_slot(other, slot)
            kept[OTHER_PODS] = other
        return kept

    def sample(self, window: Window, *, t: float, users: int, active_connections: int, last: bool = False) -> dict:
        """The `sample` line for `window` (the second that ended at `t`), added to the totals.
        `last`: the run's last sample (after the users stopped)."""
        elapsed = max(1e-9, t - self.last_t)
        buckets = self._bucket_rows(window.buckets, start=self.last_t, end=None if last else t)
        self.last_t = t
        self.requests += window.requests
        self.failures += window.failures
        window_hist = window.merged_hist()
        if window_hist is not None:
            self.hist.add(window_hist)
        pods: dict[str, dict] = {}
        if self.counted_by_counters:
            counts: dict[str, int] = {}
            for name, count in window.pod_counts.items():
                kept = self.pod_names.admit(name)
                counts[kept] = counts.get(kept, 0) + count
            for name, count in counts.items():
                self._pod(name).requests += count
                self.counter_pod_total += count
            # Counters and the client's own count drift apart within a run (requests in
            # flight at a boundary): the client-side excess is settled once, in the last
            # sample, so no second shows a negative or spurious figure.
            unattributed = max(0, self.requests - self.counter_pod_total) if last else 0
            for name in self.pods:
                pods[name] = {"requests": counts.get(name, 0), "failures": 0, "p95_ms": None}
        else:
            unattributed = window.unattributed
            window_pods = self._kept(window.pods)
            for name, slot in window_pods.items():
                total = self._pod(name)
                total.requests += slot.requests
                total.failures += slot.failures
                if slot.hist is not None:
                    total.hist.add(slot.hist)
            for name in self.pods:
                slot = window_pods.get(name)
                pods[name] = ({"requests": slot.requests, "failures": slot.failures, "p95_ms": p95_ms(slot.hist)}
                              if slot is not None else {"requests": 0, "failures": 0, "p95_ms": None})
        self.unattributed += unattributed
        rates = []
        self._learn_endpoints()
        for i, total in enumerate(self.endpoints.values()):
            if i >= len(window.endpoints):  # an endpoint learnt after this window was made
                rates.append((0, 0))
                continue
            slot = window.endpoints[i]
            total.requests += slot.requests
            total.failures += slot.failures
            if slot.hist is not None:
                total.hist.add(slot.hist)
            rates.append((slot.requests, slot.failures))
        for key, (count, first, last) in window.errors.items():
            add_error(self.errors, key, count, first, last)
        latency = percentiles_ms(window_hist)
        return {
            "type": "sample", "t": round(t, 3), "users": int(users),
            "requests": window.requests, "failures": window.failures,
            "rps": round(window.requests / elapsed, 3), "failures_per_s": round(window.failures / elapsed, 3),
            "p50_ms": latency["p50"], "p95_ms": latency["p95"], "p99_ms": latency["p99"], "max_ms": latency["max"],
            "active_connections": int(active_connections),
            "pods": dict(sorted(pods.items())), "unattributed": unattributed,
            "endpoints": self._endpoint_rows([(requests / elapsed, failures / elapsed) for requests, failures in rates]),
            "errors": self._error_rows(),
            "buckets": buckets,
        }

    def _bucket_rows(self, buckets: Mapping[int, Bucket], *, start: float, end: float | None) -> list[dict]:
        """A sample's `buckets` (see the class): each window bucket at its place in the run, kept
        within the second [start, end) the sample covers (end None: the last sample, open)."""
        t0_key = round(self.epoch * BUCKETS_PER_S)
        first = round(start * BUCKETS_PER_S)
        last = None if end is None else max(first, round(end * BUCKETS_PER_S) - 1)
        placed: dict[int, Bucket] = {}
        for key, bucket in buckets.items():
            index = max(first, key - t0_key)
            if last is not None:
                index = min(last, index)
            placed.setdefault(index, Bucket()).add(bucket)
        return [{"t": round(index / BUCKETS_PER_S, 1), "requests": bucket.requests, "failures": bucket.failures,
                 "p95_ms": latency_hist.percentile_ms(bucket.hist, 95.0), "pods": dict(sorted(bucket.pods.items())),
                 "latency_hist": latency_hist.to_pairs(bucket.hist)}
                for index, bucket in sorted(placed.items()) if bucket.requests]

    def _endpoint_rows(self, rates: list[tuple[float, float]]) -> list[dict]:
        """A row per endpoint, in the mix's order (a list: JSON objects lose their key order in
        PostgreSQL's jsonb): its requests, failures and percentiles so far, with the given rates."""
        rows = []
        for (name, total), (rps, failures_per_s) in zip(self.endpoints.items(), rates, strict=True):
            latency = percentiles_ms(total.hist)
            rows.append({"endpoint": name, "requests": total.requests, "failures": total.failures,
                         "rps": round(rps, 3), "failures_per_s": round(failures_per_s, 3), "p50_ms": latency["p50"],
                         "p95_ms": latency["p95"], "p99_ms": latency["p99"], "max_ms": latency["max"]})
        return rows

    def _error_rows(self) -> list[dict]:
        """The failure groups so far, the most frequent first (then the earliest)."""
        names = list(self.endpoints)
        rows = [{"endpoint": names[endpoint], "type": kind, "status": status, "message": message, "count": count,
                 "first_s": round(max(0.0, first - self.epoch), 3), "last_s": round(max(0.0, last - self.epoch), 3)}
                for (endpoint, kind, status, message), (count, first, last) in self.errors.items()]
        rows.sort(key=lambda row: (-row["count"], row["first_s"]))
        return rows

    def final(self, *, duration_s: float, reason: str) -> dict:
        self._learn_endpoints()
        pods = {
            name: {"requests": total.requests, "failures": total.failures,
                   "p95_ms": None if self.counted_by_counters else p95_ms(total.hist)}
            for name, total in sorted(self.pods.items())
        }
        over = max(1e-9, duration_s)
        return {
            "type": "final", "duration_s": round(duration_s, 3), "reason": reason,
            "requests": self.requests, "failures": self.failures,
            "latency_ms": percentiles_ms(self.hist), "pods": pods, "unattributed": self.unattributed,
            "endpoints": self._endpoint_rows([(total.requests / over, total.failures / over)
                                              for total in self.endpoints.values()]),
            "errors": self._error_rows(),
        }


def nothing_sent_lines(expected_pods: Iterable[str], endpoints: Sequence[str] = ("GET /",)) -> list[dict]:
    """The last sample and the final line of a run stopped before it sent anything."""
    aggregator = Aggregator(expected_pods, endpoints=endpoints)
    sample = aggregator.sample(Window(len(aggregator.endpoints)), t=0.0, users=0, active_connections=0, last=True)
    return [sample, aggregator.final(duration_s=0.0, reason="stopped")]


def dumps(line: dict) -> bytes:
    return (json.dumps(line, separators=(",", ":")) + "\n").encode()
