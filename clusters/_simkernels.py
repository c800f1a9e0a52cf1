"""Compiled kernels of the what-if simulator (`clusters.simulate`); private, no Django.

One numba kernel walks the requests in the order they reach the balancer and keeps,
per pod, a FIFO queue in front of `capacity` servers (the Kiefer-Wolfowitz recursion on
a min-heap of server free times). The pod of each request comes from one of:

- a pick computed beforehand with numpy (stateless algorithms, `MODE_SEQ`): one pod
  per request, in dispatch order;
- a pick per TCP connection (`MODE_CONN`: `l4_connection`, and `consistent_hash` keyed
  on the client address, in the closed model): the kernel opens a connection when a
  user's current one is used up and takes the next precomputed pick for it;
- the balancer's own state (`MODE_LEAST`, `MODE_P2C`, `MODE_EWMA`): in-flight
  requests per pod are kept with their departure times (a ring when every pod has
  capacity 1, since they then leave in order; a min-heap otherwise), retired lazily up
  to the current time before a pod's state is read, so responses are observed in the
  order they happen.

Random numbers inside the kernel come from independent SplitMix64 streams (arrivals,
service work, request class, think time, balancer picks; exponentials by ziggurat):
the i-th request has the same arrival gap and service work whatever the algorithm, so
algorithms are compared on the same sample of the workload (common random numbers) and
every run is reproducible.

Latencies go into log-spaced histograms (2**SUB_BITS buckets per octave, bucket edges
taken from the bits of the float), so percentiles cost nothing per request.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

MODE_SEQ = 0
MODE_CONN = 1
MODE_LEAST = 3  # modes >= MODE_LEAST are stateful
MODE_P2C = 4
MODE_EWMA = 5

DIST_FIXED = 0
DIST_EXPONENTIAL = 1
DIST_LOGNORMAL = 2

# Random streams (rows of the `rng` state array).
S_ARRIVAL, S_SERVICE, S_CLASS, S_THINK, S_PICK = range(5)
N_STREAMS = 5

# Integer parameters (`ip`) and state (`ist`), float parameters (`fp`) and state (`fst`).
IP_MODE, IP_DIST, IP_CLOSED, IP_RPC, IP_KEEP = range(5)
N_IP = 5
FP_MEAN_GAP, FP_THINK, FP_SVC_MEAN, FP_SVC_MU, FP_SVC_SIGMA, FP_DECAY = range(6)
N_FP = 6
IST_DISPATCHED, IST_OPENS, IST_RR = range(3)
N_IST = 3
FST_T, FST_MAX_DEP = range(2)
N_FST = 2

# Latency histogram: values in ms from 2**MIN_EXP to 2**(MIN_EXP + OCTAVES), clamped.
SUB_BITS = 7
MIN_EXP = -12
OCTAVES = 40
N_BUCKETS = OCTAVES << SUB_BITS
_BUCKET_BASE = (1023 + MIN_EXP) << SUB_BITS

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_LO32 = np.uint64(0xFFFFFFFF)
_SH11 = np.uint64(11)
_SH27 = np.uint64(27)
_SH30 = np.uint64(30)
_SH31 = np.uint64(31)
_SH32 = np.uint64(32)
_SH_BUCKET = np.uint64(52 - SUB_BITS)
_INV53 = 1.0 / 9007199254740992.0
_NEVER = np.int64(1) << np.int64(62)


@njit(cache=True, inline="always")
def _next(state):
    """SplitMix64: advance a stream, return (new state, 64 random bits)."""
    state = state + _GOLDEN
    z = state
    z = (z ^ (z >> _SH30)) * _MIX1
    z = (z ^ (z >> _SH27)) * _MIX2
    return state, z ^ (z >> _SH31)


@njit(cache=True, inline="always")
def _open_unit(z):
    """Uniform in (0, 1] from 64 random bits (safe for log). Goes through int64: converting
    a uint64 to float is a slow instruction sequence on x86-64 without AVX-512."""
    return (np.int64(z >> _SH11) + 1) * _INV53


def _ziggurat_tables(layers: int = 256):
    """Marsaglia & Tsang's ziggurat for the standard exponential (J. Stat. Softw. 5(8), 2000)."""
    r, v = 7.69711747013104972, 3.949659822581572e-3
    scale = 2.0**56
    ke = np.zeros(layers, np.int64)
    we = np.zeros(layers)
    fe = np.zeros(layers)
    de = te = r
    q = v / math.exp(-de)
    ke[0] = int(de / q * scale)
    we[0] = q / scale
    we[-1] = de / scale
    fe[0] = 1.0
    fe[-1] = math.exp(-de)
    for i in range(layers - 2, 0, -1):
        de = -math.log(v / de + math.exp(-de))
        ke[i + 1] = int(de / te * scale)
        te = de
        fe[i] = math.exp(-de)
        we[i] = de / scale
    return ke, we, fe, r


_ZKE, _ZWE, _ZFE, _ZR = _ziggurat_tables()
_SH8 = np.uint64(8)
_LO8 = np.uint64(0xFF)


@njit(cache=True, inline="always")
def _exp1(state):
    """Standard exponential draw: (new state, value). Ziggurat: one 64-bit draw and a table
    lookup 99 % of the time, about twice as fast as -log(u) here."""
    while True:
        state, z = _next(state)
        i = np.int64(z & _LO8)
        j = np.int64(z >> _SH8)
        x = j * _ZWE[i]
        if j < _ZKE[i]:
            return state, x
        if i == 0:  # the tail beyond r
            state, z = _next(state)
            return state, _ZR - math.log(_open_unit(z))
        state, z = _next(state)
        if _ZFE[i] + _open_unit(z) * (_ZFE[i - 1] - _ZFE[i]) < math.exp(-x):
            return state, x


@njit(cache=True, inline="always")
def _below(z, n):
    """Integer in [0, n) from the low 32 bits of z (multiply-shift, bias < 2**-32 * n)."""
    return np.int64(((z & _LO32) * np.uint64(n)) >> _SH32)


@njit(cache=True)
def run(
    m, choice, ip, fp, ist, fst, rng, mix_cdf, mix_cost,
    inv_speed, overhead, half_rtt, inv_weight, srv, srv_n, dep_t, dep_l, head, tail, cost, stamp,
    uheap_t, uheap_u, conn_left, conn_pod,
    counts, busy, lat_sum, wait_sum, hist,
):  # fmt: skip
    """Simulate the next `m` requests; all state lives in the arrays. Returns how many
    were simulated: fewer than `m` when a pod's in-flight store (dep_t, dep_l) is full.

    In-flight requests of pod q (stateful algorithms only) are kept in dep_t/dep_l rows:
    when every pod has capacity 1 departures leave in arrival order and the row is a ring
    (entries head[q] .. tail[q]-1, indices masked by the row length, a power of 2);
    otherwise it is a min-heap on departure time of size tail[q] (head unused)."""
    n_pods = inv_speed.shape[0]
    mode = ip[IP_MODE]
    dist = ip[IP_DIST]
    closed = ip[IP_CLOSED] != 0
    rpc = ip[IP_RPC]
    keep = ip[IP_KEEP] != 0
    mean_gap = fp[FP_MEAN_GAP]
    think = fp[FP_THINK]
    svc_mean = fp[FP_SVC_MEAN]
    svc_mu = fp[FP_SVC_MU]
    svc_sigma = fp[FP_SVC_SIGMA]
    decay = fp[FP_DECAY]
    n_cls = mix_cdf.shape[0]
    stateful = mode >= MODE_LEAST
    track_ewma = mode == MODE_EWMA
    n_users = uheap_t.shape[0]
    fifo = srv.shape[1] == 1
    width = dep_t.shape[1]
    mask = width - 1
    conn_uses = (rpc if rpc > 0 else _NEVER) if keep else 1

    s_arr = rng[S_ARRIVAL]
    s_svc = rng[S_SERVICE]
    s_cls = rng[S_CLASS]
    s_thk = rng[S_THINK]
    s_pick = rng[S_PICK]
    t_open = fst[FST_T]
    max_dep = fst[FST_MAX_DEP]
    opens = ist[IST_OPENS]
    rr = ist[IST_RR]
    k_conn = 0
    fbuf = np.empty(1, np.float64)
    ubuf = fbuf.view(np.uint64)

    done = m
    for j in range(m):
        saved = (s_arr, s_svc, s_cls, s_pick, t_open, rr)
        # --- when the request reaches the balancer
        u = 0
        if closed:
            t = uheap_t[0]
            u = uheap_u[0]
        else:
            s_arr, gap = _exp1(s_arr)
            t_open += gap * mean_gap
            t = t_open

        # --- its work (ms at speed 1)
        if dist == DIST_FIXED:
            work = svc_mean
        elif dist == DIST_EXPONENTIAL:
            s_svc, work = _exp1(s_svc)
            work *= svc_mean
        else:
            s_svc, z = _next(s_svc)
            s_svc, z2 = _next(s_svc)
            normal = math.sqrt(-2.0 * math.log(_open_unit(z))) * math.cos(
                2.0 * math.pi * _open_unit(z2)
            )
            work = math.exp(svc_mu + svc_sigma * normal)
        if n_cls > 1:
            s_cls, z = _next(s_cls)
            x = _open_unit(z)
            k = 0
            while k < n_cls - 1 and x > mix_cdf[k]:
                k += 1
            work *= mix_cost[k]

        # --- the pod
        if mode == MODE_SEQ:
            p = np.int64(choice[j])
        elif mode == MODE_CONN:
            if conn_left[u] == 0:
                conn_pod[u] = choice[k_conn]
                k_conn += 1
                opens += 1
                conn_left[u] = conn_uses
            conn_left[u] -= 1
            p = np.int64(conn_pod[u])
        else:
            # Stateful: the candidates are every pod (least_conn, starting at a rotating
            # index so ties go round robin) or two distinct pods at random (p2c, ewma);
            # the first with the lowest load wins. Each candidate's departures up to `t`
            # are retired first (the heap code is written out here: numba calls with
            # many array arguments cost more than the work).
            if mode == MODE_LEAST:
                n_cand = n_pods
                a = rr
                b = 0
                rr += 1
                if rr == n_pods:
                    rr = 0
            elif n_pods == 1:
                n_cand = 1
                a = 0
                b = 0
            else:
                n_cand = 2
                s_pick, z = _next(s_pick)
                a = _below(z, n_pods)
                b = _below(z >> _SH32, n_pods - 1)
                if b >= a:
                    b += 1
            p = a
            best = math.inf
            for ci in range(n_cand):
                if mode == MODE_LEAST:
                    q = a + ci
                    if q >= n_pods:
                        q -= n_pods
                else:
                    q = a if ci == 0 else b
                if fifo:
                    # ring: departures are sorted, count those <= t from the head without
                    # branching on each (the count is usually 0-3), then loop if longer
                    h = head[q]
                    size = tail[q] - h
                    while True:
                        gone = 0
                        for i in range(4):
                            gone += (i < size) & (dep_t[q, (h + i) & mask] <= t)
                        if track_ewma:
                            for i in range(gone):
                                # peak EWMA (Finagle, Linkerd, the sandbox balancer): a
                                # response at least as slow as the estimate replaces it, a
                                # faster one pulls it down by exp(-time since the last / decay)
                                gone_t = dep_t[q, (h + i) & mask]
                                gone_l = dep_l[q, (h + i) & mask]
                                if gone_l >= cost[q]:
                                    cost[q] = gone_l
                                else:
                                    w = math.exp(-(gone_t - stamp[q]) / decay)
                                    cost[q] = cost[q] * w + gone_l * (1.0 - w)
                                stamp[q] = gone_t
                        h += gone
                        size -= gone
                        if gone < 4:
                            break
                    head[q] = h
                else:
                    size = tail[q]
                    while size > 0 and dep_t[q, 0] <= t:
                        gone_t = dep_t[q, 0]
                        gone_l = dep_l[q, 0]
                        size -= 1
                        last_t = dep_t[q, size]
                        last_l = dep_l[q, size]
                        i = 0
                        while True:
                            child = 2 * i + 1
                            if child >= size:
                                break
                            if child + 1 < size and dep_t[q, child + 1] < dep_t[q, child]:
                                child += 1
                            if dep_t[q, child] >= last_t:
                                break
                            dep_t[q, i] = dep_t[q, child]
                            dep_l[q, i] = dep_l[q, child]
                            i = child
                        dep_t[q, i] = last_t
                        dep_l[q, i] = last_l
                        if track_ewma:  # as above
                            if gone_l >= cost[q]:
                                cost[q] = gone_l
                            else:
                                w = math.exp(-(gone_t - stamp[q]) / decay)
                                cost[q] = cost[q] * w + gone_l * (1.0 - w)
                            stamp[q] = gone_t
                    tail[q] = size
                load = cost[q] * (size + 1) * inv_weight[q] if track_ewma else size * inv_weight[q]
                if load < best:
                    best = load
                    p = q

        # --- FIFO queue in front of the pod's servers
        # (the request reaches the pod half a round trip after the balancer sent it, and
        # its response is back half a round trip after the pod finished)
        service = work * inv_speed[p] + overhead[p]
        reach = t + half_rtt[p]
        free = srv[p, 0]
        start = reach if reach > free else free
        done_at = start + service
        d = done_at + half_rtt[p]
        lat = d - t
        if stateful:
            size = tail[p] - head[p] if fifo else tail[p]
            if size == width:
                # pod p's in-flight store is full: undo this request's draws and return; the
                # caller grows the store and calls again (the drains done stay valid)
                s_arr, s_svc, s_cls, s_pick, t_open, rr = saved
                done = j
                break
            if fifo:
                i = tail[p] & mask
                dep_t[p, i] = d
                dep_l[p, i] = lat
            else:  # heap push: sift up
                i = size
                while i > 0:
                    parent = (i - 1) >> 1
                    if dep_t[p, parent] <= d:
                        break
                    dep_t[p, i] = dep_t[p, parent]
                    dep_l[p, i] = dep_l[p, parent]
                    i = parent
                dep_t[p, i] = d
                dep_l[p, i] = lat
            tail[p] += 1
        c = srv_n[p]
        if c == 1:
            srv[p, 0] = done_at
        else:  # the server that frees first takes it: replace the heap's minimum, sift down
            i = 0
            while True:
                child = 2 * i + 1
                if child >= c:
                    break
                if child + 1 < c and srv[p, child + 1] < srv[p, child]:
                    child += 1
                if srv[p, child] >= done_at:
                    break
                srv[p, i] = srv[p, child]
                i = child
            srv[p, i] = done_at

        # --- the user thinks, then sends the next request
        if closed:
            nxt = d
            if think > 0.0:
                s_thk, pause = _exp1(s_thk)
                nxt += pause * think
            i = 0
            while True:
                left = 2 * i + 1
                if left >= n_users:
                    break
                child = left
                if left + 1 < n_users and uheap_t[left + 1] < uheap_t[left]:
                    child = left + 1
                if uheap_t[child] >= nxt:
                    break
                uheap_t[i] = uheap_t[child]
                uheap_u[i] = uheap_u[child]
                i = child
            uheap_t[i] = nxt
            uheap_u[i] = u

        # --- statistics
        counts[p] += 1
        busy[p] += service
        lat_sum[p] += lat
        wait_sum[p] += start - reach
        if d > max_dep:
            max_dep = d
        fbuf[0] = lat
        bucket = np.int64(ubuf[0] >> _SH_BUCKET) - _BUCKET_BASE
        if bucket < 0:
            bucket = 0
        elif bucket >= N_BUCKETS:
            bucket = N_BUCKETS - 1
        hist[p, bucket] += 1

    rng[S_ARRIVAL] = s_arr
    rng[S_SERVICE] = s_svc
    rng[S_CLASS] = s_cls
    rng[S_THINK] = s_thk
    rng[S_PICK] = s_pick
    fst[FST_T] = t_open
    fst[FST_MAX_DEP] = max_dep
    ist[IST_DISPATCHED] += done
    ist[IST_OPENS] = opens
    ist[IST_RR] = rr
    return done


def bucket_edges() -> np.ndarray:
    """Lower edge (ms) of every histogram bucket, plus the upper edge of the last."""
    idx = np.arange(N_BUCKETS + 1, dtype=np.int64) + _BUCKET_BASE
    return (idx << (52 - SUB_BITS)).astype(np.uint64).view(np.float64)


@njit(cache=True)
def smooth_wrr(weights):
    """One period (sum(weights) picks) of nginx's smooth weighted round robin, integer weights."""
    n = weights.shape[0]
    total = weights.sum()
    current = np.zeros(n, np.int64)
    out = np.empty(total, np.int32)
    for i in range(total):
        best = 0
        best_value = current[0] + weights[0]
        for p in range(n):
            current[p] += weights[p]
            if current[p] > best_value:
                best_value = current[p]
                best = p
        current[best] -= total
        out[i] = best
    return out
