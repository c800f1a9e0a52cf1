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

Power of two choices in the open model with single-server pods has a kernel of its own
(`p2c_ring`): the same draws, the same arithmetic and so the same results as `run`
(tests/clusters/test_simulate_p2c_fast_path.py), about three times as fast
(benchmarks/simulator_throughput.py). One loop draws and simulates a request with its
state in registers, compares departure times as integers (the bits of positive floats
sort like the floats) and counts requests in flight without a branch; the latencies of a
block of requests go into the histograms after the block.

Random numbers inside the kernels come from independent wyrand streams (arrivals,
service work, request class, think time, balancer picks; exponentials by ziggurat):
the i-th request has the same arrival gap and service work whatever the algorithm, so
algorithms are compared on the same sample of the workload (common random numbers) and
every run is reproducible. wyrand (from Wang Yi's wyhash; it passes BigCrush and
PractRand, as SplitMix64 did) needs one multiply per draw where SplitMix64 needs two.

Latencies go into log-spaced histograms (2**SUB_BITS buckets per octave, bucket edges
taken from the bits of the float), so percentiles cost nothing per request.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

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

_WY_ADD = np.uint64(0xA0761D6478BD642F)
_WY_XOR = np.uint64(0xE7037ED1A0B428DB)
_LO32 = np.uint64(0xFFFFFFFF)
_SH11 = np.uint64(11)
_SH32 = np.uint64(32)
_INV53 = 1.0 / 9007199254740992.0
_NEVER = np.int64(1) << np.int64(62)
_INF_BITS = np.int64(0x7FF0000000000000)  # +inf as an int64: above the bits of every finite time


@intrinsic
def _mum(typingctx, x, y):
    """High xor low half of the 128-bit product x * y (wyhash's mixer: one MUL instruction)."""

    def codegen(context, builder, sig, args):
        wide = ir.IntType(128)
        product = builder.mul(builder.zext(args[0], wide), builder.zext(args[1], wide))
        high = builder.trunc(builder.lshr(product, ir.Constant(wide, 64)), ir.IntType(64))
        return builder.xor(high, builder.trunc(product, ir.IntType(64)))

    return types.uint64(types.uint64, types.uint64), codegen


@intrinsic
def _unlikely(typingctx, condition):
    """`condition`, telling LLVM it is almost always false: the rare branch (a ziggurat
    rejection that calls exp and log, a ring to widen) then costs the common path no
    registers and no spills."""

    def codegen(context, builder, sig, args):
        expect = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.IntType(1), [ir.IntType(1), ir.IntType(1)]), "llvm.expect.i1")
        return builder.call(expect, [args[0], ir.Constant(ir.IntType(1), 0)])

    return types.boolean(types.boolean), codegen


@intrinsic
def _bits(typingctx, x):
    """The IEEE-754 bits of a float64 as an int64 (a register move). For x >= 0 they sort
    like x, and give the latency histogram's bucket directly."""

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@njit(cache=True, inline="always")
def _next(state):
    """wyrand: advance a stream, return (new state, 64 random bits)."""
    state = state + _WY_ADD
    return state, _mum(state, state ^ _WY_XOR)


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
        if not _unlikely(j >= _ZKE[i]):
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


@njit(cache=True, inline="always")
def _base_work(s_svc, dist, svc_mean, svc_mu, svc_sigma):
    """A request's work (ms at speed 1) before its class: (service stream, work)."""
    if dist == DIST_FIXED:
        return s_svc, svc_mean
    if dist == DIST_EXPONENTIAL:
        s_svc, x = _exp1(s_svc)
        return s_svc, x * svc_mean
    s_svc, z = _next(s_svc)
    s_svc, z2 = _next(s_svc)
    normal = math.sqrt(-2.0 * math.log(_open_unit(z))) * math.cos(2.0 * math.pi * _open_unit(z2))
    return s_svc, math.exp(svc_mu + svc_sigma * normal)


@njit(cache=True, inline="always")
def _class(s_cls, mix_cdf):
    """The request's class (index into the mix): (class stream, index)."""
    s_cls, z = _next(s_cls)
    x = _open_unit(z)
    k = 0
    while k < mix_cdf.shape[0] - 1 and x > mix_cdf[k]:
        k += 1
    return s_cls, k


_LAT_LOW = 2.0**MIN_EXP  # latencies outside [_LAT_LOW, _LAT_HIGH] count in the first or last bucket
_LAT_HIGH = float(np.nextafter(2.0 ** (MIN_EXP + OCTAVES), 0.0))


@njit(cache=True, inline="always")
def _bucket(lat):
    """Histogram bucket of a latency (ms): its exponent and top SUB_BITS mantissa bits."""
    return (_bits(min(max(lat, _LAT_LOW), _LAT_HIGH)) >> (52 - SUB_BITS)) - _BUCKET_BASE


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
        s_svc, work = _base_work(s_svc, dist, svc_mean, svc_mu, svc_sigma)
        if n_cls > 1:
            s_cls, c = _class(s_cls, mix_cdf)
            work *= mix_cost[c]

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
                if track_ewma:
                    # read, the estimate decays towards 0 with the time since the pod's
                    # last response (as the sandbox balancer, tower and ingress-nginx read it)
                    load = cost[q] * math.exp(-(t - stamp[q]) / decay) * (size + 1) * inv_weight[q]
                else:
                    load = size * inv_weight[q]
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
        hist[p, _bucket(lat)] += 1

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


# --------------------------------------------------------------------------- p2c, open model, single servers

# The pods of `p2c_ring`, one record of _R_WORDS float64 words each (the int fields through an
# int64 view); the first cache line holds everything a choice reads.
_R_HEAD, _R_TAIL, _R_FREE, _R_INV_SPEED, _R_OVERHEAD, _R_HALF_RTT, _R_INV_WEIGHT = range(7)
_R_COUNT, _R_BUSY, _R_LAT, _R_WAIT = range(7, 11)
_R_WORDS = 16
_P2C_BLOCK = 4096  # requests whose work is drawn ahead, in one pass
_PAD = 3  # +inf slots after a pod's last departure: the in-flight count reads three at a time


@njit(cache=True, inline="always", boundscheck=False)
def _retire(store, base, head, t_bits):
    """The new head of a pod's departures in `store` from `base` once those <= t_bits have
    left: counted three slots at a time, no branch per slot (a fourth pass is rare)."""
    while True:
        i = np.uint64(base + head)
        gone = (np.int64(store[i] <= t_bits) + np.int64(store[i + np.uint64(1)] <= t_bits)
                + np.int64(store[i + np.uint64(2)] <= t_bits))
        head += gone
        if not _unlikely(gone == _PAD):
            return head


@njit(cache=True, boundscheck=False)
def _p2c_ring_loop(pos, hi, streams, clock, work, chosen, n_pods, equal_weights, pod, podi, store, shift):
    """Requests pos[0] .. hi-1 of the block (`work` holds theirs); stops early, with pos[1] = 1,
    when the store of the pod just used is more than half full. Leaves request j's latency in
    work[j] and its pod in chosen[j], for `_count_requests`.

    Pod q's departures (bits of the times) are store[(q << shift) + i] for i from head to
    tail-1, in order (one server: they leave as they came), followed by _PAD times +inf.
    Retiring those <= t is then a plain count (`_retire`). When a pod's requests reach the
    end of its store they move to the front, so no index wraps (a ring's masks cost more than
    these rare moves). Indexes are unsigned so numba emits no negative-index code."""
    u = np.uint64
    width = np.int64(1) << shift
    j = pos[0]
    s_arr = streams[0]
    s_pick = streams[1]
    t = clock[0]
    max_dep = clock[1]
    mean_gap = clock[2]
    while j < hi:
        s_arr, gap = _exp1(s_arr)
        t += gap * mean_gap
        w = work[u(j)]
        s_pick, z = _next(s_pick)
        a = _below(z, n_pods)
        b = _below(z >> _SH32, n_pods - 1)
        b += b >= a
        t_bits = _bits(t)
        ra = a * _R_WORDS
        rb = b * _R_WORDS
        ha = _retire(store, a << shift, podi[u(ra + _R_HEAD)], t_bits)
        hb = _retire(store, b << shift, podi[u(rb + _R_HEAD)], t_bits)
        podi[u(ra + _R_HEAD)] = ha
        podi[u(rb + _R_HEAD)] = hb
        ta = podi[u(ra + _R_TAIL)]
        tb = podi[u(rb + _R_TAIL)]
        # the less loaded wins, `a` on a tie (as `run` and the sandbox balancer); selects by mask
        if equal_weights:
            to_b = np.int64(tb - hb < ta - ha)
        else:
            to_b = np.int64((tb - hb) * pod[u(rb + _R_INV_WEIGHT)] < (ta - ha) * pod[u(ra + _R_INV_WEIGHT)])
        b_wins = -to_b
        p = a ^ ((a ^ b) & b_wins)
        tp = ta ^ ((ta ^ tb) & b_wins)
        hp = ha ^ ((ha ^ hb) & b_wins)
        rp = p * _R_WORDS
        # the FIFO queue of its server, as in `run`
        half_rtt = pod[u(rp + _R_HALF_RTT)]
        reach = t + half_rtt
        start = max(reach, pod[u(rp + _R_FREE)])
        service = w * pod[u(rp + _R_INV_SPEED)] + pod[u(rp + _R_OVERHEAD)]
        done_at = start + service
        d = done_at + half_rtt
        lat = d - t
        i = (p << shift) + tp
        store[u(i)] = _bits(d)
        store[u(i + 1)] = _INF_BITS
        store[u(i + 2)] = _INF_BITS
        store[u(i + 3)] = _INF_BITS
        tp += 1
        podi[u(rp + _R_TAIL)] = tp
        pod[u(rp + _R_FREE)] = done_at
        pod[u(rp + _R_BUSY)] += service
        pod[u(rp + _R_LAT)] += lat
        pod[u(rp + _R_WAIT)] += start - reach
        max_dep = max(max_dep, d)
        work[u(j)] = lat
        chosen[u(j)] = p
        j += 1
        if _unlikely(tp + _PAD >= width):
            # the pod's next request would not fit after its last: move its requests in
            # flight to the front, or have the caller double every pod's store when they
            # would fill more than half of it
            size = tp - hp
            if size + 1 + _PAD > width >> 1:
                pos[1] = 1
                break
            i = p << shift
            for k in range(size + _PAD):
                store[u(i + k)] = store[u(i + hp + k)]
            podi[u(rp + _R_HEAD)] = 0
            podi[u(rp + _R_TAIL)] = size
    pos[0] = j
    streams[0] = s_arr
    streams[1] = s_pick
    clock[0] = t
    clock[1] = max_dep


@njit(cache=True, boundscheck=False)
def _count_requests(hist, podi, chosen, lat, count):
    """Adds a block's requests to their pods' counts and latency histograms, after the block:
    in the main loop, an increment at a data-dependent address took a tenth of the time."""
    for i in range(count):
        p = chosen[i]
        podi[p * _R_WORDS + _R_COUNT] += 1
        hist[p * N_BUCKETS + _bucket(lat[i])] += 1


@njit(cache=True, boundscheck=False)
def _draw_work(work, count, s_svc, s_cls, dist, svc_mean, svc_mu, svc_sigma, mix_cdf, mix_cost):
    """work[:count] = the next requests' work, drawn as `run` draws it: (service, class streams)."""
    for i in range(count):
        s_svc, work[i] = _base_work(s_svc, dist, svc_mean, svc_mu, svc_sigma)
    if mix_cdf.shape[0] > 1:  # the class stream is separate: drawing it afterwards changes nothing
        for i in range(count):
            s_cls, c = _class(s_cls, mix_cdf)
            work[i] *= mix_cost[c]
    return s_svc, s_cls


@njit(cache=True, boundscheck=False)
def _wider_stores(store, shift, podi, n_pods):
    """Stores twice as wide, each pod's requests moved to slot 0 (and +inf after its last)."""
    wider = np.full(n_pods << (shift + 1), _INF_BITS, np.int64)
    for q in range(n_pods):
        r = q * _R_WORDS
        head = podi[r + _R_HEAD]
        size = podi[r + _R_TAIL] - head
        for i in range(size):
            wider[(q << (shift + 1)) + i] = store[(q << shift) + head + i]
        podi[r + _R_HEAD] = 0
        podi[r + _R_TAIL] = size
    return wider


@njit(cache=True)
def p2c_ring(m, start_width, ip, fp, fst, rng, mix_cdf, mix_cost, inv_speed, overhead, half_rtt, inv_weight,
             counts, busy, lat_sum, wait_sum, hist):  # fmt: skip
    """`run` for MODE_P2C in the open model when every pod (at least two) has one server, from
    an empty system: m requests, the same draws, the same arithmetic, the same results
    (counts, busy, lat_sum, wait_sum, hist, fst and rng as `run` leaves them). Each pod's
    store of departures starts `start_width` wide (256 at least) and doubles when it must."""
    n_pods = inv_speed.shape[0]
    pod = np.zeros(n_pods * _R_WORDS)
    podi = pod.view(np.int64)
    equal_weights = True
    for q in range(n_pods):
        r = q * _R_WORDS
        pod[r + _R_INV_SPEED] = inv_speed[q]
        pod[r + _R_OVERHEAD] = overhead[q]
        pod[r + _R_HALF_RTT] = half_rtt[q]
        pod[r + _R_INV_WEIGHT] = inv_weight[q]
        equal_weights &= inv_weight[q] == inv_weight[0]
    shift = 8  # requests move to the front of their store when they reach its end: not too often
    while (1 << shift) < start_width:
        shift += 1
    store = np.full(n_pods << shift, _INF_BITS, np.int64)
    flat_hist = hist.reshape(n_pods * N_BUCKETS)
    work = np.empty(min(m, _P2C_BLOCK))
    pos = np.zeros(2, np.int64)
    chosen = np.empty(min(m, _P2C_BLOCK), np.int64)
    streams = np.array([rng[S_ARRIVAL], rng[S_PICK]])
    clock = np.array([fst[FST_T], fst[FST_MAX_DEP], fp[FP_MEAN_GAP]])
    s_svc = rng[S_SERVICE]
    s_cls = rng[S_CLASS]
    for first in range(0, m, _P2C_BLOCK):
        count = min(_P2C_BLOCK, m - first)
        s_svc, s_cls = _draw_work(work, count, s_svc, s_cls, ip[IP_DIST], fp[FP_SVC_MEAN], fp[FP_SVC_MU],
                                  fp[FP_SVC_SIGMA], mix_cdf, mix_cost)
        pos[0] = 0
        while pos[0] < count:
            pos[1] = 0
            _p2c_ring_loop(pos, count, streams, clock, work, chosen, n_pods, equal_weights, pod, podi, store, shift)
            if pos[1]:
                store = _wider_stores(store, shift, podi, n_pods)
                shift += 1
        _count_requests(flat_hist, podi, chosen, work, count)
    for q in range(n_pods):
        r = q * _R_WORDS
        counts[q] += podi[r + _R_COUNT]
        busy[q] += pod[r + _R_BUSY]
        lat_sum[q] += pod[r + _R_LAT]
        wait_sum[q] += pod[r + _R_WAIT]
    rng[S_ARRIVAL] = streams[0]
    rng[S_SERVICE] = s_svc
    rng[S_CLASS] = s_cls
    rng[S_PICK] = streams[1]
    fst[FST_T] = clock[0]
    fst[FST_MAX_DEP] = clock[1]


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
