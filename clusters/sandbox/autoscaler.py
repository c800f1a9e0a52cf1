"""An autoscaler that decides like the HorizontalPodAutoscaler (autoscaling/v2).

Each sync period: utilisation of a pod = mean number of requests it held (queued or in
service, from its `busy_seconds` counter, by Little's law) divided by its capacity;
desired = ceil(replicas x mean utilisation / target), unchanged within the tolerance,
clamped to [min, max]. Recommendations are stabilised as the HPA does: it scales up
only to the lowest recommendation of the scale-up window and down only to the highest
of the scale-down window, so a short lull does not remove pods a spike needs.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from dataclasses import asdict

from clusters.sandbox.config import AutoscalerConfig
from clusters.sandbox.supervisor import Supervisor


def desired_replicas(current: int, utilisation: float, config: AutoscalerConfig) -> int:
    ratio = utilisation / config.target_utilisation
    # Within the tolerance the HPA leaves the replica count alone (avoids flapping).
    desired = current if abs(ratio - 1.0) <= config.tolerance else math.ceil(current * ratio)
    return max(config.min_replicas, min(config.max_replicas, desired))


def stabilised(current: int, recommendations: deque, now: float, config: AutoscalerConfig) -> int:
    up_window = [r for t, r in recommendations if now - t <= config.scale_up_window_s] or [current]
    down_window = [r for t, r in recommendations if now - t <= config.scale_down_window_s] or [current]
    replicas = current
    replicas = max(replicas, min(up_window))
    replicas = min(replicas, max(down_window))
    return replicas


class Autoscaler:
    def __init__(self, supervisor: Supervisor, config: AutoscalerConfig):
        self.supervisor = supervisor
        self.config = config
        self.recommendations: deque = deque()
        self.last_busy: dict[str, float] = {}
        self.last_at = time.monotonic()
        self.utilisation = 0.0
        self.task: asyncio.Task | None = None
        self.events: list[dict] = []

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._loop())

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def status(self) -> dict:
        return {"enabled": True, "config": asdict(self.config), "replicas": self.supervisor.replicas,
                "utilisation": round(self.utilisation, 4), "events": self.events[-20:]}

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.sync_period_s)
            try:
                await self.sync()
            except Exception as exc:  # keep deciding on the next period; report what failed
                self.events.append({"t": time.time(), "error": str(exc)})

    async def sync(self) -> None:
        metrics = await self.supervisor.metrics()
        now = time.monotonic()
        elapsed = max(1e-6, now - self.last_at)
        self.last_at = now
        loads = []
        busy = {}
        for name, m in metrics.items():
            busy[name] = m["busy_seconds"]
            if name in self.last_busy:  # a pod measured twice: its first period is unknown
                loads.append((m["busy_seconds"] - self.last_busy[name]) / elapsed / m["capacity"])
        self.last_busy = busy
        if not loads:
            return
        self.utilisation = sum(loads) / len(loads)
        current = self.supervisor.replicas
        self.recommendations.append((now, desired_replicas(current, self.utilisation, self.config)))
        horizon = max(self.config.scale_up_window_s, self.config.scale_down_window_s)
        while self.recommendations and now - self.recommendations[0][0] > horizon:
            self.recommendations.popleft()
        replicas = stabilised(current, self.recommendations, now, self.config)
        if replicas != current:
            self.events.append({"t": time.time(), "from": current, "to": replicas,
                                "utilisation": round(self.utilisation, 4)})
            self.supervisor.scale(replicas, by="autoscaler", desired=replicas, metrics=[
                {"name": "utilisation", "current": round(self.utilisation, 4),
                 "target": self.config.target_utilisation, "unit": ""}])
