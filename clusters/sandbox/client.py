"""Python client of the sandbox control API (see control.py for the routes).

A 400 answer becomes `ClusterError(error, field=field)`, so callers handle bad input
from the API exactly as they handle it from local validation.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Sequence
from urllib.parse import quote, urlsplit

from clusters.base import ClusterError, ClusterEvent, Fault, Pod, PodMetrics


class ControlClient:
    def __init__(self, control_url: str, *, timeout: float = 15.0):
        parts = urlsplit(control_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.timeout = timeout

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            payload = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": "application/json"} if payload is not None else {}
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            raw = response.read()
        except OSError as exc:
            where = f"{self.host}:{self.port}"
            raise ConnectionError(f"sandbox control API at {where} unreachable: {exc}") from exc
        finally:
            connection.close()
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {"error": raw.decode(errors="replace")}
        if response.status == 400:
            raise ClusterError(data.get("error", "bad request"), field=data.get("field"))
        if response.status != 200:
            raise RuntimeError(f"control API {method} {path}: {response.status} {data.get('error', '')}")
        return data

    # Reading.
    def status(self) -> dict:
        return self.call("GET", "/status")

    def stateful(self) -> dict:
        return self.call("GET", "/stateful")

    def take_primary_down(self, how: str) -> dict:
        """`how`: kill (SIGKILL) or stop (a clean shutdown)."""
        return self.call("POST", f"/stateful/primary/{how}")

    def pods(self) -> list[Pod]:
        return [Pod(name=p["name"], node=p["node"], address=p["address"], ready=p["ready"],
                    weight=p["weight"]) for p in self.call("GET", "/pods")["pods"]]

    def pod_metrics(self) -> dict[str, PodMetrics]:
        return {name: PodMetrics(pod=name, requests=m["requests"], failures=m["failures"],
                                 in_flight=m["in_flight"], queued=m.get("queued"),
                                 request_seconds=m.get("request_seconds"), server_seconds=m.get("busy_seconds"),
                                 cpu_seconds=m["cpu_seconds"],
                                 memory_bytes=m["memory_bytes"], ready=m["ready"])
                for name, m in self.call("GET", "/pods/metrics")["pods"].items()}

    def balancer_stats(self) -> dict[str, dict]:
        return self.call("GET", "/balancer/stats")["pods"]

    def faults(self) -> dict:
        """{"faults": [applied, not cleared], "held": {pod: [kinds]}, "cordoned": [nodes]}."""
        return self.call("GET", "/faults")

    def events(self, since: int = 0) -> list[ClusterEvent]:
        """The sandbox's events after sequence number `since`, oldest first."""
        return [ClusterEvent.from_dict(event) for event in self.call("GET", f"/events?since={int(since)}")["events"]]

    def retries(self) -> int:
        return self.call("GET", "/retries")["retries"]

    # Acting.
    def kill_pod(self, pod: str) -> None:
        self.call("POST", f"/pods/{quote(pod, safe='')}/kill", {})

    def add_fault(self, kind: str, pods: Sequence[str], duration: float, **params) -> Fault:
        body = {"kind": kind, "pods": list(pods) if not isinstance(pods, str) else pods,
                "duration": duration, **params}
        answer = self.call("POST", "/faults", body)
        return Fault(kind=answer["kind"], pods=tuple(answer["pods"]), duration_s=answer["duration_s"],
                     params=answer["params"])

    def clear_fault(self, kind: str, pods: Sequence[str]) -> int:
        """End `kind` on `pods` now, leaving every other fault; how many applied faults it touched."""
        return self.call("POST", "/faults/clear", {"kind": kind, "pods": list(pods)})["cleared"]

    def drain(self, node: str) -> list[str]:
        return self.call("POST", f"/nodes/{quote(node, safe='')}/drain", {})["moved"]

    def cordon(self, node: str) -> None:
        self.call("POST", f"/nodes/{quote(node, safe='')}/cordon", {})

    def uncordon(self, node: str) -> None:
        self.call("POST", f"/nodes/{quote(node, safe='')}/uncordon", {})

    def scale(self, replicas: int) -> None:
        self.call("POST", "/scale", {"replicas": replicas})

    def set_algorithm(self, name: str, options: dict | None = None) -> None:
        self.call("POST", "/algorithm", {"name": name, "options": options or {}})

    def set_retries(self, retries: int) -> None:
        self.call("POST", "/retries", {"retries": retries})

    def set_autoscaler(self, **settings) -> dict:
        """AutoscalerConfig fields to enable (or replace) it; `enabled=False` to stop it."""
        return self.call("POST", "/autoscaler", settings)

    def restore(self) -> None:
        self.call("POST", "/restore", {})
