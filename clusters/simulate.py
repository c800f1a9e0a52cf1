"""The what-if balance simulator: how would an algorithm spread this workload over these pods?

Django-free; the auto-tuner and the UI call `simulate()`. Given pods (speed factor,
capacity, weight), a workload (closed model: U users with think time; or open model:
Poisson arrivals at a rate), a request mix, connection reuse and an algorithm of
`clusters.algorithms.ALGORITHMS`, it predicts per-pod request counts, utilisation, queueing
latency and the balance score of ARCHITECTURE.md section 4.

The model mirrors the sandbox (clusters/sandbox):

- A pod serves at most `capacity` requests at once; the rest wait in FIFO order. A
  request's service time is the workload's base time (fixed, exponential or lognormal
  with shape `service_sigma`, mean `service_time_ms`) times its class's relative cost,
  divided by the pod's speed factor, plus the pod's fixed `overhead_ms`.
- The balancer adds no latency of its own; a pod's `rtt_ms` (network round trip from the
  balancer) delays its responses without holding its servers, and so does its `delay_ms` (a
  latency fault at the pod), which its in-flight gauge counts.
- `round_robin`, `random`, `l4_connection` and `consistent_hash` ignore weights, as the
  sandbox balancer does; `weighted_round_robin` is nginx's smooth weighted round robin;
  `least_conn`, `p2c` and `ewma` compare load per unit of weight. The expected shares
  of the balance score are the weights all the same (section 4): a weighted pool
  balanced by an algorithm that ignores weights scores low, as it should.
- `least_conn`: fewest in flight, ties rotate. `p2c`: two distinct pods at random, the
  less loaded wins. `ewma`: p2c on peak-EWMA latency x (in flight + 1), decay `decay_s`;
  read, the estimate decays towards 0 while the pod sends no response (as the balancer).
- `l4_connection` picks a pod per TCP connection (`pick`: random as iptables
  kube-proxy, or round_robin as IPVS) and keeps it for the connection's life.
  `consistent_hash` hashes a request header when `header` is set (keys `key-0` ...
  `key-{keys-1}`, uniform or Zipf(`zipf`)), else the client address, which for local
  clients means one key per TCP connection. Its ring is the sandbox's ring.
- Connections: in the closed model each user holds one connection; in the open model
  requests take the `connections` client connections in turn. With keep-alive a
  connection carries `requests_per_connection` requests (0: the whole run) before it
  is replaced; without keep-alive every request opens one. Only the algorithms that
  pick per connection care.

Each algorithm's registry entry names its implementation here. Stateless pod choices are
computed with numpy, vectorised, in chunks (a `Picks` class each); the queues and the
stateful balancers run in a numba kernel (`clusters._simkernels`, in the mode a
`KernelPicks` names; p2c in the open model with single-server pods, the common case, in
a kernel of its own). A run is
deterministic given its seed, and two algorithms simulated with the same seed see the
same arrivals and service times (common random numbers), so their difference is not noise.

numba caches compiled code (`cache=True`) in `clusters/__pycache__`, or in
`NUMBA_CACHE_DIR` when that is set (set it when the source tree is read-only).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import partial

import numpy as np

from clusters import _simkernels as k
from clusters.algorithms import Algorithm, algorithm_named
from clusters.balance import analyse
from clusters.base import ClusterError, check_number
from clusters.sandbox.algorithms import hash64

DISTRIBUTIONS: tuple[str, ...] = ("fixed", "exponential", "lognormal")
MAX_PODS = 10_000
MAX_CAPACITY = 10_000
MAX_USERS = 10_000_000
_CHUNK = 1 << 16
_WRR_MAX_PERIOD = 1 << 20
_INFLIGHT_START = 16  # in-flight requests tracked per pod before the store grows (power of 2)
_P2C_RING = True  # p2c in the open model with one server a pod: its own kernel (the same results, faster)


@dataclass(frozen=True)
class PodSpec:
    """A pod: `speed` divides service times, `capacity` requests are served at once.

    `overhead_ms` is a fixed time a server spends on every request besides its work
    (parsing, the event loop), not divided by `speed`. `rtt_ms` is the network round trip
    between the balancer and the pod (another zone, a busy proxy): added to every
    response and counted as in flight by the balancer, but holding none of its servers.
    `delay_ms` is a wait at the pod before its servers (a latency fault, as the sandbox's and
    Chaos Mesh's delay): like the round trip it holds no server, but the request has arrived,
    so the pod's in-flight gauge counts it."""

    name: str
    speed: float = 1.0
    capacity: int = 1
    weight: float = 1.0
    overhead_ms: float = 0.0
    rtt_ms: float = 0.0
    delay_ms: float = 0.0


@dataclass(frozen=True)
class Workload:
    """What the clients do. Set exactly one of `users` (closed model) and `rate_rps` (open).

    `mix` lists request classes as (relative service cost, weight). `connections` is the
    open model's number of client connections (required there with keep-alive for the
    algorithms that pick per connection); the closed model has one per user.
    """

    requests: int = 100_000
    users: int | None = None
    rate_rps: float | None = None
    think_time_ms: float = 0.0
    service_time_ms: float = 1.0
    distribution: str = "exponential"
    service_sigma: float = 0.5
    keep_alive: bool = True
    requests_per_connection: int = 0
    connections: int | None = None
    mix: tuple[tuple[float, float], ...] = ((1.0, 1.0),)


@dataclass(frozen=True)
class PodPrediction:
    name: str
    requests: int
    share: float  # of all requests
    expected_share: float  # weight / sum of weights
    utilisation: float  # busy time / (capacity x simulated time)
    # requests at the pod on average, delayed, queued or in service (Little's law: the time requests
    # spent at the pod / simulated time): what a pod's in-flight gauge reads
    in_flight: float
    latency_mean_ms: float  # as the balancer sees it: round trip + queueing + service
    latency_p95_ms: float
    wait_mean_ms: float  # queueing at the pod only


@dataclass(frozen=True)
class Prediction:
    algorithm: str
    requests: int
    duration_s: float  # simulated time until the last response
    throughput_rps: float
    latency_mean_ms: float
    latency_p50_ms: float
    latency_p95_ms: float
    latency_p99_ms: float
    score: float  # balance score, section 4
    cv: float
    pods: tuple[PodPrediction, ...]
    connections: int  # client connections opened (algorithms that pick per connection), else 0

    def counts(self) -> dict[str, int]:
        return {pod.name: pod.requests for pod in self.pods}


# --------------------------------------------------------------------------- balance score


# --------------------------------------------------------------------------- validation


# Simulator quantities are never negative unless a call says otherwise.
_number = partial(check_number, minimum=0.0)


def _check_pods(pods) -> tuple[PodSpec, ...]:
    if isinstance(pods, (str, bytes)) or not isinstance(pods, Sequence):
        raise ClusterError("must be a list of PodSpec", field="pods")
    pods = tuple(pods)
    if not pods:
        raise ClusterError("at least one pod is needed", field="pods")
    if len(pods) > MAX_PODS:
        raise ClusterError(f"at most {MAX_PODS} pods", field="pods")
    seen = set()
    for pod in pods:
        if not isinstance(pod, PodSpec):
            raise ClusterError("must be a list of PodSpec", field="pods")
        if not isinstance(pod.name, str) or not pod.name:
            raise ClusterError("a pod needs a name", field="pods.name")
        if pod.name in seen:
            raise ClusterError(f"pod {pod.name!r} is listed twice", field="pods.name")
        seen.add(pod.name)
        _number(pod.speed, "pods.speed", strict=True, maximum=1e6)
        _number(pod.capacity, "pods.capacity", minimum=1, integer=True, maximum=MAX_CAPACITY)
        _number(pod.weight, "pods.weight", strict=True, maximum=1e6)
        _number(pod.overhead_ms, "pods.overhead_ms", maximum=1e9)
        _number(pod.rtt_ms, "pods.rtt_ms", maximum=1e9)
        _number(pod.delay_ms, "pods.delay_ms", maximum=1e9)
    return pods


def _check_workload(w: Workload) -> None:
    if not isinstance(w, Workload):
        raise ClusterError("must be a Workload", field="workload")
    _number(w.requests, "requests", minimum=1, integer=True, maximum=1e12)
    if (w.users is None) == (w.rate_rps is None):
        raise ClusterError("set either users (closed model) or rate_rps (open model)", field="users")
    if w.users is not None:
        _number(w.users, "users", minimum=1, integer=True, maximum=MAX_USERS)
        if w.connections is not None:
            raise ClusterError("the closed model has one connection per user", field="connections")
    else:
        _number(w.rate_rps, "rate_rps", strict=True, maximum=1e12)
    _number(w.think_time_ms, "think_time_ms", maximum=1e9)
    _number(w.service_time_ms, "service_time_ms", strict=True, maximum=1e9)
    if w.distribution not in DISTRIBUTIONS:
        raise ClusterError(f"one of {', '.join(DISTRIBUTIONS)}", field="distribution")
    _number(w.service_sigma, "service_sigma", maximum=10)
    if not isinstance(w.keep_alive, bool):
        raise ClusterError("must be true or false", field="keep_alive")
    _number(w.requests_per_connection, "requests_per_connection", integer=True, maximum=1e12)
    if w.connections is not None:
        _number(w.connections, "connections", minimum=1, integer=True, maximum=1e9)
    if not isinstance(w.mix, (tuple, list)) or not w.mix:
        raise ClusterError("at least one request class (cost, weight)", field="mix")
    for item in w.mix:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise ClusterError("each request class is (relative cost, weight)", field="mix")
        _number(item[0], "mix", strict=True, maximum=1e6)
        _number(item[1], "mix", maximum=1e12)
    if not any(weight > 0 for _, weight in w.mix):
        raise ClusterError("at least one request class needs a weight > 0", field="mix")


def _check_options(algorithm: Algorithm, options: Mapping | None, workload: Workload) -> dict:
    out = algorithm.simulator_options(options)
    if (algorithm.picks_per_connection(out) and workload.rate_rps is not None and workload.keep_alive
            and workload.connections is None):
        raise ClusterError(f"{algorithm.name} picks per connection: give the open model's client connections",
                           field="connections")
    return out


# --------------------------------------------------------------------------- stateless picks


def _hash64(text: str) -> int:
    return hash64(text.encode())  # the sandbox balancer's own ring hash, so both rings agree


def _ring(pods: Sequence[PodSpec], vnodes: int) -> tuple[np.ndarray, np.ndarray]:
    ring = sorted((_hash64(f"{pod.name}#{i}"), p) for p, pod in enumerate(pods) for i in range(vnodes))
    return (np.fromiter((h for h, _ in ring), np.uint64, len(ring)),
            np.fromiter((p for _, p in ring), np.int32, len(ring)))


def _ring_owner(points: np.ndarray, owners: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    return owners[np.searchsorted(points, hashes, side="left") % len(points)]


def _smooth_wrr_period(weights: Sequence[float]) -> np.ndarray:
    """One period of nginx's smooth weighted round robin (the sandbox's order).

    Scaling the weights to integers does not change the order, and makes it periodic
    with period sum(weights)."""
    fractions = [Fraction(w).limit_denominator(1000) for w in weights]
    scale = math.lcm(*(f.denominator for f in fractions))
    ints = [int(f * scale) for f in fractions]
    g = math.gcd(*ints)
    ints = [i // g for i in ints]
    if sum(ints) > _WRR_MAX_PERIOD:  # awkward ratios: keep them to 1e-4 of the largest
        top = max(weights)
        ints = [max(1, round(w / top * 10_000)) for w in weights]
        g = math.gcd(*ints)
        ints = [i // g for i in ints]
    return k.smooth_wrr(np.asarray(ints, dtype=np.int64))


class Picks:
    """A stateless algorithm's pod choices, vectorised, chunk by chunk (memory stays bounded).

    A subclass gives the picks of requests (`_per_request`). When the registry says the
    algorithm picks per connection, a pod is picked as each connection opens (`_fresh`: a
    uniform draw unless the subclass says otherwise) and the connection's requests follow it."""

    def __init__(self, options: dict, pods: Sequence[PodSpec], workload: Workload, seed: int, *,
                 per_connection: bool):
        self.n_pods = len(pods)
        self.rng = np.random.default_rng([seed, 0x51AB])
        self.conn_rng = np.random.default_rng([seed, 0xC0FF])
        self.window = np.zeros(0, np.int32)  # picks of connection openings window_lo ..
        self.window_lo = 0
        self.per_connection = per_connection
        self.open_model = workload.rate_rps is not None
        self.keep_alive = workload.keep_alive
        self.rpc = workload.requests_per_connection
        self.conns = workload.connections or 1

    @property
    def mode(self) -> int:
        return k.MODE_CONN if self.per_connection and not self.open_model else k.MODE_SEQ

    def _per_request(self, first: int, m: int) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} picks per connection only")

    def _fresh(self, count: int) -> np.ndarray:
        return self.conn_rng.integers(0, self.n_pods, count, dtype=np.int32)

    def _for_connections(self, lo: int, hi: int) -> np.ndarray:
        """Pods of the connection openings lo .. hi-1 (lo never decreases between calls).
        Random picks come from one stream in opening order, so chunking changes nothing."""
        window_hi = self.window_lo + len(self.window)
        if lo > window_hi:  # openings nobody rides (cannot happen today): skip their picks
            self._fresh(lo - window_hi)
            self.window, self.window_lo, window_hi = self.window[:0], lo, lo
        keep = self.window[lo - self.window_lo:]
        if hi > window_hi:
            keep = np.concatenate([keep, self._fresh(hi - window_hi)])
        self.window, self.window_lo = keep, lo
        return keep[:hi - lo]

    def chunk(self, first: int, m: int, opens_so_far: int) -> np.ndarray:
        """Picks for requests first .. first+m-1 (MODE_SEQ), or for the next m connection
        openings (MODE_CONN, closed model: the kernel opens them)."""
        if not self.per_connection:
            return self._per_request(first, m)
        if not self.open_model:
            return self._for_connections(opens_so_far, opens_so_far + m)
        if not self.keep_alive:
            return self._for_connections(first, first + m)
        # request i rides connection i % C; its (i // C // rpc)-th incarnation is opening
        # number generation * C + connection
        index = np.arange(first, first + m, dtype=np.int64)
        conn = index % self.conns
        generation = index // self.conns // self.rpc if self.rpc else 0
        opened = generation * self.conns + conn
        lo = int(opened.min())
        return self._for_connections(lo, int(opened.max()) + 1)[opened - lo]

    def connections_opened(self, requests: int, kernel_opens: int) -> int:
        if not self.per_connection:
            return 0
        if not self.open_model:
            return kernel_opens
        if not self.keep_alive:
            return requests
        if not self.rpc:
            return min(self.conns, requests)
        full, rest = divmod(requests, self.conns)  # connection c carries full (+1 if c < rest)
        return rest * -(-(full + 1) // self.rpc) + (self.conns - rest) * -(-full // self.rpc)


class RoundRobinPicks(Picks):
    """One period of `_order` repeated: request i goes to pod order[i % period]."""

    def __init__(self, options, pods, workload, seed, *, per_connection):
        super().__init__(options, pods, workload, seed, per_connection=per_connection)
        self.pattern = self._order(pods)
        period = len(self.pattern)
        self.tiled = np.tile(self.pattern, -(-(_CHUNK + period) // period))

    def _order(self, pods: Sequence[PodSpec]) -> np.ndarray:
        return np.arange(len(pods), dtype=np.int32)

    def _per_request(self, first, m):
        offset = first % len(self.pattern)
        return self.tiled[offset:offset + m]


class WeightedRoundRobinPicks(RoundRobinPicks):
    def _order(self, pods):
        return _smooth_wrr_period([pod.weight for pod in pods]).astype(np.int32)


class RandomPicks(Picks):
    def _per_request(self, first, m):
        return self.rng.integers(0, self.n_pods, m, dtype=np.int32)


class ConsistentHashPicks(Picks):
    """The sandbox's ring: with a header, a key per request (`key-0` .. uniform or Zipf); without,
    a fresh client port per connection, which lands on a random point of the ring."""

    def __init__(self, options, pods, workload, seed, *, per_connection):
        super().__init__(options, pods, workload, seed, per_connection=per_connection)
        self.points, self.owners = _ring(pods, options["vnodes"])
        if options["header"] is not None:
            keys = options["keys"]
            hashes = np.fromiter((_hash64(f"key-{i}") for i in range(keys)), np.uint64, keys)
            self.key_pod = _ring_owner(self.points, self.owners, hashes)
            self.zipf = options["zipf"]
            popularity = np.arange(1, keys + 1, dtype=float) ** -self.zipf
            self.key_cdf = np.cumsum(popularity / popularity.sum())
        else:
            # a fresh client port is a random point on the ring: its owner, drawn by arc length
            # (point i owns the keys after point i-1 up to it; point 0 also those past the last)
            ends = self.points.astype(float)
            arcs = np.diff(ends, prepend=0.0)
            arcs[0] += 2.0**64 - ends[-1]
            shares = np.bincount(self.owners, weights=arcs, minlength=self.n_pods)
            self.arc_cdf = np.cumsum(shares / shares.sum())

    def _fresh(self, count):
        owner = np.searchsorted(self.arc_cdf, self.conn_rng.random(count), side="right")
        return np.minimum(owner, self.n_pods - 1).astype(np.int32)

    def _per_request(self, first, m):
        if self.zipf == 0:
            keys = self.rng.integers(0, len(self.key_pod), m)
        else:
            keys = np.minimum(np.searchsorted(self.key_cdf, self.rng.random(m), side="right"),
                              len(self.key_pod) - 1)
        return self.key_pod[keys]


class L4ConnectionPicks(Picks):
    """A pod per connection: at random (iptables kube-proxy) or in turn (`pick: round_robin`, IPVS)."""

    def __init__(self, options, pods, workload, seed, *, per_connection):
        super().__init__(options, pods, workload, seed, per_connection=per_connection)
        self.round_robin = options["pick"] == "round_robin"

    def _for_connections(self, lo, hi):
        if self.round_robin:
            return (np.arange(lo, hi, dtype=np.int64) % self.n_pods).astype(np.int32)
        return super()._for_connections(lo, hi)


class KernelPicks:
    """A stateful algorithm: the numba kernel picks request by request from the pods' live
    state, in its `mode`."""

    mode: int
    # the open model with single-server pods has a kernel of its own (`_simkernels.p2c_ring`)
    ring_kernel = False


class LeastConnPicks(KernelPicks):
    mode = k.MODE_LEAST


class P2CPicks(KernelPicks):
    mode = k.MODE_P2C
    ring_kernel = True


class EwmaPicks(KernelPicks):
    mode = k.MODE_EWMA


# --------------------------------------------------------------------------- simulation


def simulate(pods: Sequence[PodSpec], workload: Workload, algorithm: str, *, seed: int = 0,
             options: Mapping | None = None) -> Prediction:
    """Predict how `algorithm` spreads `workload` over `pods`. Deterministic given `seed`.

    Raises ClusterError(field=...) on bad input."""
    entry = algorithm_named(algorithm)
    pods = _check_pods(pods)
    _check_workload(workload)
    opts = _check_options(entry, options, workload)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ClusterError("must be a whole number >= 0", field="seed")

    n_pods = len(pods)
    n = int(workload.requests)
    closed = workload.users is not None
    weights = np.array([pod.weight for pod in pods], dtype=float)

    ip = np.zeros(k.N_IP, np.int64)
    ip[k.IP_DIST] = DISTRIBUTIONS.index(workload.distribution)
    ip[k.IP_CLOSED] = int(closed)
    ip[k.IP_RPC] = int(workload.requests_per_connection)
    ip[k.IP_KEEP] = int(workload.keep_alive)
    fp = np.zeros(k.N_FP, np.float64)
    fp[k.FP_MEAN_GAP] = 0.0 if closed else 1000.0 / float(workload.rate_rps)
    fp[k.FP_THINK] = float(workload.think_time_ms)
    fp[k.FP_SVC_MEAN] = float(workload.service_time_ms)
    sigma = float(workload.service_sigma)
    fp[k.FP_SVC_MU] = math.log(workload.service_time_ms) - sigma * sigma / 2.0
    fp[k.FP_SVC_SIGMA] = sigma
    fp[k.FP_DECAY] = float(opts.get("decay_s", 10.0)) * 1000.0
    ist = np.zeros(k.N_IST, np.int64)
    fst = np.zeros(k.N_FST, np.float64)
    rng_state = np.random.SeedSequence(int(seed)).generate_state(k.N_STREAMS, np.uint64)

    mix_w = np.array([float(w) for _, w in workload.mix])
    mix_cdf = np.cumsum(mix_w / mix_w.sum())
    mix_cost = np.array([float(c) for c, _ in workload.mix])

    inv_speed = np.array([1.0 / pod.speed for pod in pods])
    overhead = np.array([float(pod.overhead_ms) for pod in pods])
    # The delay before a pod's servers and the round trip both hold none of them: to the queues
    # only their sum matters (each pod's arrivals shifted by a constant), so the kernels take one.
    half_rtt = np.array([(pod.rtt_ms + pod.delay_ms) / 2.0 for pod in pods])
    inv_weight = 1.0 / weights
    capacity = np.array([pod.capacity for pod in pods], dtype=np.int64)
    srv = np.zeros((n_pods, int(capacity.max())), np.float64)  # free time of each server
    dep_t = np.zeros((n_pods, _INFLIGHT_START), np.float64)
    dep_l = np.zeros((n_pods, _INFLIGHT_START), np.float64)
    head = np.zeros(n_pods, np.int64)
    tail = np.zeros(n_pods, np.int64)
    cost = np.zeros(n_pods, np.float64)
    stamp = np.zeros(n_pods, np.float64)

    users = int(workload.users) if closed else 1
    if closed and workload.think_time_ms > 0:  # users start as if they had just thought
        first = np.sort(np.random.default_rng([seed, 0x7EA]).exponential(workload.think_time_ms, users))
    else:
        first = np.zeros(users)
    uheap_t = first.astype(np.float64)
    uheap_u = np.arange(users, dtype=np.int64)
    conn_left = np.zeros(users, np.int64)
    conn_pod = np.zeros(users, np.int32)

    counts = np.zeros(n_pods, np.int64)
    busy = np.zeros(n_pods, np.float64)
    lat_sum = np.zeros(n_pods, np.float64)
    wait_sum = np.zeros(n_pods, np.float64)
    hist = np.zeros((n_pods, k.N_BUCKETS), np.int64)

    def run(m: int, choice: np.ndarray) -> None:
        nonlocal dep_t, dep_l
        while m:
            done = k.run(
                m, choice, ip, fp, ist, fst, rng_state, mix_cdf, mix_cost, inv_speed, overhead, half_rtt,
                inv_weight, srv, capacity, dep_t, dep_l, head, tail, cost, stamp, uheap_t, uheap_u,
                conn_left, conn_pod, counts, busy, lat_sum, wait_sum, hist,
            )
            m -= done
            if m:  # a pod's in-flight store is full (stateful algorithms only): double it
                ring = srv.shape[1] == 1
                dep_t = _grow(dep_t, head, tail, ring=ring)
                dep_l = _grow(dep_l, head, tail, ring=ring)
                if ring:  # rings were unwrapped to start at 0
                    np.subtract(tail, head, out=tail)
                    head[:] = 0

    picks = None
    if entry.stateless:
        picks = entry.simulator_picks(opts, pods, workload, int(seed), per_connection=entry.picks_per_connection(opts))
        ip[k.IP_MODE] = picks.mode
        for first_req in range(0, n, _CHUNK):
            m = min(_CHUNK, n - first_req)
            run(m, np.ascontiguousarray(picks.chunk(first_req, m, int(ist[k.IST_OPENS])), dtype=np.int32))
    else:
        kernel = entry.simulator_picks
        ip[k.IP_MODE] = kernel.mode
        if kernel.ring_kernel and _P2C_RING and not closed and n_pods > 1 and int(capacity.max()) == 1:
            k.p2c_ring(n, _INFLIGHT_START, ip, fp, fst, rng_state, mix_cdf, mix_cost, inv_speed, overhead, half_rtt,
                       inv_weight, counts, busy, lat_sum, wait_sum, hist)
        else:
            run(n, np.zeros(0, np.int32))

    return _prediction(algorithm, pods, weights, capacity, n, fst[k.FST_MAX_DEP], counts, busy,
                       lat_sum, wait_sum, hist,
                       picks.connections_opened(n, int(ist[k.IST_OPENS])) if picks else 0)


def _grow(store: np.ndarray, head: np.ndarray, tail: np.ndarray, *, ring: bool) -> np.ndarray:
    """Double the width of the in-flight store; a ring row is unwrapped to start at 0."""
    n_pods, width = store.shape
    grown = np.zeros((n_pods, 2 * width), store.dtype)
    for q in range(n_pods):
        if ring:
            size = int(tail[q] - head[q])
            grown[q, :size] = store[q, (head[q] + np.arange(size)) & (width - 1)]
        else:
            grown[q, :width] = store[q]
    return grown


_EDGES = k.bucket_edges()


def _percentile(hist_row: np.ndarray, q: float) -> float:
    """q-quantile from a log-bucket histogram, linear inside the bucket (error < 0.6 %)."""
    total = int(hist_row.sum())
    if total == 0:
        return 0.0
    cum = np.cumsum(hist_row)
    rank = q * total
    i = int(np.searchsorted(cum, rank, side="left"))
    i = min(i, len(hist_row) - 1)
    below = cum[i - 1] if i > 0 else 0
    inside = (rank - below) / hist_row[i] if hist_row[i] else 0.0
    lo, hi = _EDGES[i], _EDGES[i + 1]
    return float(lo + min(max(inside, 0.0), 1.0) * (hi - lo))


def _prediction(algorithm, pods, weights, capacity, n, horizon_ms, counts, busy, lat_sum, wait_sum,
                hist, connections) -> Prediction:
    expected = weights / weights.sum()
    horizon_ms = float(horizon_ms) if horizon_ms > 0 else 1.0
    pod_rows = []
    for p, pod in enumerate(pods):
        c = int(counts[p])
        pod_rows.append(PodPrediction(
            name=pod.name,
            requests=c,
            share=c / n,
            expected_share=float(expected[p]),
            utilisation=float(busy[p] / (capacity[p] * horizon_ms)),
            in_flight=float((busy[p] + wait_sum[p] + c * pod.delay_ms) / horizon_ms),
            latency_mean_ms=float(lat_sum[p] / c) if c else 0.0,
            latency_p95_ms=_percentile(hist[p], 0.95),
            wait_mean_ms=float(wait_sum[p] / c) if c else 0.0,
        ))
    overall = hist.sum(axis=0)
    # The balance definitions are clusters/balance.py's (ARCHITECTURE.md s4), the same the runs use.
    names = [pod.name for pod in pods]
    balance = analyse(dict(zip(names, (int(c) for c in counts), strict=True)),
                      dict(zip(names, (float(w) for w in weights), strict=True)), expected_pods=names)
    return Prediction(
        algorithm=algorithm,
        requests=n,
        duration_s=horizon_ms / 1000.0,
        throughput_rps=n / horizon_ms * 1000.0,
        latency_mean_ms=float(lat_sum.sum() / n),
        latency_p50_ms=_percentile(overall, 0.50),
        latency_p95_ms=_percentile(overall, 0.95),
        latency_p99_ms=_percentile(overall, 0.99),
        score=balance.score,
        cv=balance.cv,
        pods=tuple(pod_rows),
        connections=int(connections),
    )
