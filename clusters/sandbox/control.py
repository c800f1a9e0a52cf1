"""The control API: every operation of the Cluster interface as HTTP + JSON, on its own port.

    GET  /status                      algorithm, options, nodes, replicas, pids, autoscaler
    GET  /pods                        {"pods": [{name, node, address, ready, weight, slot, pid}]}
    GET  /pods/metrics                {"pods": {name: {requests, failures, in_flight, ...}}}
    GET  /balancer/stats              what the balancer counted per pod
    POST /pods/<name>/kill            the process dies (SIGKILL); its slot restarts
    POST /faults                      {"kind": a fault the pods hold (config.pod_fault_kinds()),
                                       "pods": [...], "duration": s, + the kind's parameters}
    POST /nodes/<node>/drain          cordon the node; its pods move
    POST /nodes/<node>/uncordon       the node takes new pods again (its old ones stay moved)
    POST /scale                       {"replicas": n}
    POST /algorithm                   {"name": ..., "options": {...}} (options.weights: {pod: w})
    POST /autoscaler                  AutoscalerConfig fields, or {"enabled": false}
    POST /restore                     clear every fault, uncordon every node

Bad input answers 400 with {"field": ..., "error": ...}; unknown routes 404.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

from clusters.base import ClusterError
from clusters.sandbox.autoscaler import Autoscaler
from clusters.sandbox.balancer import Balancer
from clusters.sandbox.config import AutoscalerConfig, validate_algorithm, validate_fault, validate_replicas
from clusters.sandbox.supervisor import Supervisor

REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           500: "Internal Server Error"}


class NotFound(Exception):
    pass


class ControlApi:
    def __init__(self, supervisor: Supervisor, balancer: Balancer, *, endpoint: str = "",
                 autoscaler_config: AutoscalerConfig | None = None):
        self.supervisor = supervisor
        self.balancer = balancer
        self.endpoint = endpoint
        self.control_url = ""
        self.faults: list[dict] = []
        self.autoscaler: Autoscaler | None = None
        if autoscaler_config is not None:
            self.enable_autoscaler(autoscaler_config)

    def enable_autoscaler(self, config: AutoscalerConfig | None) -> None:
        if self.autoscaler is not None:
            self.autoscaler.stop()
            self.autoscaler = None
        if config is not None:
            self.autoscaler = Autoscaler(self.supervisor, config)
            self.autoscaler.start()

    async def handle(self, method: str, path: str, body: dict) -> dict:
        parts = [p for p in path.split("?")[0].split("/") if p]
        route = (method, *parts)
        if route == ("GET", "status"):
            return self.status()
        if route == ("GET", "pods"):
            return {"pods": self.pods()}
        if route == ("GET", "pods", "metrics"):
            return {"pods": await self.supervisor.metrics()}
        if route == ("GET", "balancer", "stats"):
            return {"algorithm": self.balancer.algorithm, "pods": self.balancer.stats()}
        if method == "POST" and len(parts) == 3 and parts[0] == "pods" and parts[2] == "kill":
            self.supervisor.kill(parts[1])
            return {"killed": parts[1]}
        if route == ("POST", "faults"):
            return await self.add_fault(body)
        if method == "POST" and len(parts) == 3 and parts[0] == "nodes" and parts[2] == "drain":
            return {"node": parts[1], "moved": self.supervisor.drain(parts[1])}
        if method == "POST" and len(parts) == 3 and parts[0] == "nodes" and parts[2] == "uncordon":
            self.uncordon(parts[1])
            return {"node": parts[1], "cordoned": False}
        if route == ("POST", "scale"):
            replicas = validate_replicas(body.get("replicas"))
            self.supervisor.scale(replicas)
            return {"replicas": replicas}
        if route == ("POST", "algorithm"):
            running = self.supervisor.running()
            names = {p.name for p in running} | {f"pod-{p.slot}" for p in running}
            name, options = validate_algorithm(body.get("name"), body.get("options"), pod_names=names)
            self.balancer.set_algorithm(name, options)
            return {"algorithm": name, "options": options}
        if route == ("GET", "algorithm"):
            return {"algorithm": self.balancer.algorithm, "options": self.balancer.options}
        if route == ("POST", "autoscaler"):
            return self.configure_autoscaler(body)
        if route == ("GET", "autoscaler"):
            return self.autoscaler.status() if self.autoscaler else {"enabled": False}
        if route == ("POST", "restore"):
            await self.supervisor.clear_faults()
            self.supervisor.uncordon_all()
            cleared = len(self.active_faults())
            self.faults.clear()
            return {"restored": True, "cleared": cleared}
        raise NotFound(path)

    def pods(self) -> list[dict]:
        stats = self.balancer.upstreams
        result = []
        for pod in self.supervisor.running():
            upstream = stats.get(pod.name)
            result.append({"name": pod.name, "node": pod.node, "address": pod.address, "slot": pod.slot,
                           "pid": pod.pid, "ready": bool(upstream and upstream.eligible),
                           "weight": upstream.weight if upstream else 1.0})
        return result

    def status(self) -> dict:
        supervisor = self.supervisor
        return {
            "endpoint": self.endpoint, "control_url": self.control_url,
            "algorithm": self.balancer.algorithm, "options": self.balancer.options,
            "replicas": supervisor.replicas, "restarts": supervisor.restarts,
            "nodes": [{"name": n, "cordoned": n in supervisor.cordoned} for n in supervisor.nodes],
            "pids": {"controller": os.getpid(),
                     "pods": {name: p.pid for name, p in supervisor.processes.items()}},
            "faults": self.active_faults(),
            "autoscaler": self.autoscaler.status() if self.autoscaler else {"enabled": False},
        }

    def active_faults(self) -> list[dict]:
        now = time.time()
        self.faults = [f for f in self.faults if f["until"] > now]
        return list(self.faults)

    async def add_fault(self, body: dict) -> dict:
        kind = body.get("kind")
        params = validate_fault(kind, body)
        pods = self.supervisor.find_all(body.get("pods"))
        await self.supervisor.fault(pods, kind, params)
        fault = {"kind": kind, "pods": [p.name for p in pods], "duration_s": params["duration"],
                 "params": {k: v for k, v in params.items() if k != "duration"},
                 "until": time.time() + params["duration"]}
        self.faults.append(fault)
        return fault

    def uncordon(self, node: str) -> None:
        supervisor = self.supervisor
        if node not in supervisor.nodes:
            raise ClusterError(f"unknown node {node!r}; one of {', '.join(supervisor.nodes)}", field="node")
        supervisor.cordoned.discard(node)
        supervisor.fill_pending()  # slots left pending while every node was cordoned start now

    def configure_autoscaler(self, body: dict) -> dict:
        if body.get("enabled") is False:
            self.enable_autoscaler(None)
            return {"enabled": False}
        fields = {k: v for k, v in body.items() if k != "enabled"}
        known = set(AutoscalerConfig.__dataclass_fields__)
        for key in fields:
            if key not in known:
                raise ClusterError("not an autoscaler setting", field=f"autoscaler.{key}")
        self.enable_autoscaler(AutoscalerConfig(**fields))
        return self.autoscaler.status()


class ControlServer:
    """A small HTTP/1.1 server for the control API; one request per connection."""

    def __init__(self, api: ControlApi):
        self.api = api
        self.server: asyncio.AbstractServer | None = None

    async def start(self, host: str, port: int) -> int:
        self.server = await asyncio.start_server(self._serve, host, port, reuse_address=True)
        return self.server.sockets[0].getsockname()[1]

    def close(self) -> None:
        if self.server is not None:
            self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, payload = await self._answer(reader)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            writer.close()
            return
        body = json.dumps(payload).encode()
        writer.write(b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                     b"Connection: close\r\n\r\n" % (status, REASONS.get(status, "Error").encode(), len(body))
                     + body)
        try:
            await writer.drain()
        except ConnectionError:
            pass
        writer.close()

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[int, dict]:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        length = 0
        for line in lines[1:]:
            if line.lower().startswith("content-length:"):
                length = int(line.split(":", 1)[1])
        raw = await reader.readexactly(length) if length else b""
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return 400, {"field": None, "error": "body is not JSON"}
        if not isinstance(body, dict):
            return 400, {"field": None, "error": "body must be a JSON object"}
        try:
            return 200, await self.api.handle(method, path, body)
        except ClusterError as exc:
            return 400, {"field": exc.field, "error": exc.args[0] if exc.args else str(exc)}
        except TypeError as exc:  # e.g. AutoscalerConfig(**fields) with a wrong type
            return 400, {"field": None, "error": str(exc)}
        except NotFound:
            return 404, {"error": f"no route {method} {path}"}
        except Exception as exc:  # report, keep the controller alive
            return 500, {"error": f"{type(exc).__name__}: {exc}"}
