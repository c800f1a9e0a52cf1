"""LB Lab's own balancer (clusters/sandbox/balancer.py) serves the endpoint: every algorithm of the
registry, retries, active `/readyz` checks, its own per-pod counters and the failure streaks of
the event log."""

from __future__ import annotations

from clusters.algorithms import Algorithm
from clusters.sandbox.backends import BalancerBackend, Front, register


class LblabFront(Front):
    def __init__(self, balancer):
        self.balancer = balancer

    async def start(self, host: str, port: int) -> int:
        return await self.balancer.start(host, port)

    async def stats(self) -> dict[str, dict]:
        return self.balancer.stats()


@register
class Lblab(BalancerBackend):
    name = "lblab"
    label = "LB Lab's balancer"
    help = "LB Lab's own Python balancer: every algorithm, per-pod counters and failure streaks."

    def equivalent(self, algorithm: Algorithm) -> str | None:
        return algorithm.name  # it implements every entry of the registry

    def front(self, balancer, supervisor, config) -> Front:
        return LblabFront(balancer)
