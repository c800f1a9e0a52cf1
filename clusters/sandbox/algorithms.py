"""Balancing algorithms of the sandbox balancer: each picks one upstream per request.

A picker sees only the upstreams currently eligible (ready, not terminating) through
`update()`, which the balancer calls whenever that set or a weight changes. Pickers
are swapped whole when the algorithm changes; requests in flight keep the upstream
they already have, so switching drops nothing.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from bisect import bisect_left
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from clusters.sandbox.balancer import ClientConnection, Upstream


class Picker:
    def __init__(self, options: dict):
        self.options = options
        self.upstreams: list[Upstream] = []

    def update(self, upstreams: list[Upstream]) -> None:
        self.upstreams = upstreams

    def pick(self, client: ClientConnection) -> Upstream | None:  # pragma: no cover - abstract
        raise NotImplementedError


class RoundRobin(Picker):
    """Each eligible upstream in turn: over k·n requests each of n gets exactly k."""

    def __init__(self, options):
        super().__init__(options)
        self.index = -1

    def pick(self, client):
        upstreams = self.upstreams
        if not upstreams:
            return None
        self.index = (self.index + 1) % len(upstreams)
        return upstreams[self.index]


class WeightedRoundRobin(Picker):
    """nginx's smooth weighted round robin: exact shares, interleaved rather than in bursts."""

    def update(self, upstreams):
        super().update(upstreams)
        self.current = {id(u): 0.0 for u in upstreams}
        self.total = sum(u.weight for u in upstreams)

    def pick(self, client):
        best = None
        best_value = -math.inf
        current = self.current
        for upstream in self.upstreams:
            value = current[id(upstream)] + upstream.weight
            current[id(upstream)] = value
            if value > best_value:
                best, best_value = upstream, value
        if best is not None:
            current[id(best)] -= self.total
        return best


class LeastConn(Picker):
    """Fewest requests in flight per unit of weight; ties rotate so idle pods share evenly."""

    def __init__(self, options):
        super().__init__(options)
        self.start = 0

    def pick(self, client):
        upstreams = self.upstreams
        n = len(upstreams)
        if not n:
            return None
        self.start = (self.start + 1) % n
        best = None
        best_load = math.inf
        for i in range(self.start, self.start + n):
            upstream = upstreams[i % n]
            load = upstream.in_flight / upstream.weight
            if load < best_load:
                best, best_load = upstream, load
        return best


class Random(Picker):
    def pick(self, client):
        upstreams = self.upstreams
        return upstreams[int(random.random() * len(upstreams))] if upstreams else None


class PowerOfTwoChoices(Picker):
    """Two distinct upstreams at random, the one with fewer requests in flight wins."""

    def cost(self, upstream: Upstream) -> float:
        return upstream.in_flight / upstream.weight

    def pick(self, client):
        upstreams = self.upstreams
        n = len(upstreams)
        if n < 2:
            return upstreams[0] if n else None
        i = int(random.random() * n)
        j = int(random.random() * (n - 1))
        if j >= i:
            j += 1
        a, b = upstreams[i], upstreams[j]
        return a if self.cost(a) <= self.cost(b) else b


class PeakEwma(PowerOfTwoChoices):
    """Linkerd's / ingress-nginx's peak EWMA: p2c on latency x (in flight + 1).

    The EWMA jumps to any latency above it at once (peak) and decays towards lower
    ones with time constant `decay_s`, so a pod that turns slow is avoided quickly and
    is tried again slowly. Upstreams not yet measured cost 0, so they get measured.
    Read, the estimate also decays towards 0 with the time since the pod's last
    response (as tower and ingress-nginx read it): without that, a pod that answered
    slowly once and then lost every pick would never be measured again.
    """

    def __init__(self, options):
        super().__init__(options)
        self.decay_s = float(options.get("decay_s", 10.0))

    def cost(self, upstream):
        idle_s = time.monotonic() - upstream.ewma_at
        estimate = upstream.ewma_s * math.exp(-idle_s / self.decay_s)
        return estimate * (upstream.in_flight + 1) / upstream.weight


def observe_latency(upstream: Upstream, seconds: float, now: float, decay_s: float) -> None:
    """Peak-EWMA update, kept for every algorithm so a switch to ewma starts informed."""
    if seconds >= upstream.ewma_s:
        upstream.ewma_s = seconds
    else:
        weight = math.exp(-(now - upstream.ewma_at) / decay_s)
        upstream.ewma_s = upstream.ewma_s * weight + seconds * (1.0 - weight)
    upstream.ewma_at = now


def hash64(data: bytes) -> int:
    """The ring's hash; the what-if simulator uses this same function so both rings agree."""
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


class ConsistentHash(Picker):
    """A hash ring (`vnodes` points per upstream) keyed on a request header or, without
    one, on the client's address. The address includes the port: every sandbox client
    is 127.0.0.1, so the IP alone would send all local load to one pod."""

    def __init__(self, options):
        super().__init__(options)
        header = options.get("header")
        self.header = b"\r\n" + header.lower().encode() + b":" if header else None
        self.vnodes = int(options.get("vnodes", 100))
        self.points: list[int] = []
        self.owners: list[Upstream] = []

    def update(self, upstreams):
        super().update(upstreams)
        ring = sorted(
            (hash64(f"{u.name}#{i}".encode()), u) for u in upstreams for i in range(self.vnodes)
        )
        self.points = [point for point, _ in ring]
        self.owners = [owner for _, owner in ring]

    def pick(self, client):
        if not self.points:
            return None
        key = None
        if self.header is not None:
            key = client.header_value(self.header)
        if key is None:
            key = client.address_key
        index = bisect_left(self.points, hash64(key))
        return self.owners[index % len(self.owners)]


class L4Connection(Picker):
    """kube-proxy: one upstream per client TCP connection, kept for the connection's life.

    `pick` is `random` by default (iptables mode) or `round_robin` (IPVS rr). A client
    whose pod left the set is pinned again on its next request, as a client that
    reconnects would be."""

    def __init__(self, options):
        super().__init__(options)
        self.round_robin = options.get("pick", "random") == "round_robin"
        self.index = -1

    def pick(self, client):
        pinned = client.pinned
        if pinned is not None and pinned.eligible:
            return pinned
        upstreams = self.upstreams
        if not upstreams:
            return None
        if self.round_robin:
            self.index = (self.index + 1) % len(upstreams)
            pinned = upstreams[self.index]
        else:
            pinned = upstreams[int(random.random() * len(upstreams))]
        client.pinned = pinned
        return pinned
