"""The control API: every operation of the Cluster interface as HTTP + JSON, on its own port.

    GET  /status                      balancer, algorithm, options, nodes, replicas, pids (balancer:
                                       nginx/HAProxy master and workers), autoscaler
    GET  /pods                        {"pods": [{name, node, address, ready, weight, slot, pid}]}
    GET  /pods/metrics                {"pods": {name: {requests, failures, in_flight, ...}}}
    GET  /balancer/stats              per pod: what LB Lab's balancer counted; behind nginx/HAProxy,
                                       the pods' own counters (+ HAProxy's `show stat`)
    POST /pods/<name>/kill            the process dies (SIGKILL); its slot restarts
    POST /faults                      {"kind": a fault the pods hold (config.pod_fault_kinds()),
                                       "pods": [...], "duration": s, + the kind's parameters}
    POST /faults/clear                {"kind": k, "pods": [...]}: only that kind on those pods ends now
                                       (what deleting one Chaos Mesh object does); the others stay
    GET  /faults                      {"faults": [applied, not cleared], "held": {pod: [kinds its
                                       process holds]}, "cordoned": [nodes]}: all empty = no fault left
    POST /nodes/<node>/drain          cordon the node; its pods move
    POST /nodes/<node>/cordon         only cordon it: its pods stay, new ones go elsewhere (a
                                      Kubernetes drain evicts them one by one afterwards)
    POST /nodes/<node>/uncordon       the node takes new pods again (its old ones stay moved)
    POST /scale                       {"replicas": n}
    POST /algorithm                   {"name": ..., "options": {...}} (options.weights: {pod: w})
    POST /autoscaler                  AutoscalerConfig fields, or {"enabled": false}
    GET  /retries   POST /retries     {"retries": n}: the balancer's retries of failed idempotent
                                       requests on another pod (0: off)
    POST /restore                     clear every fault, uncordon every node
    GET  /events?since=<seq>          {"events": [the log after seq, oldest first], "last_seq": n}
    GET  /stateful                    the store (`--stateful`): store, durability, primary, sentinels,
                                       servers (name: [host, port]), pids, root (its temp dir); 400
                                       when the sandbox runs none
    POST /stateful/primary/kill       SIGKILL of the primary's server: {"server", "pid"}
    POST /stateful/primary/stop       the primary's server shuts down cleanly: {"server", "pid"}
    POST /stateful/restore            start every downed server again, in the background, once the
                                       Sentinels promoted another (also part of /restore): {"restarted"}

Bad input answers 400 with {"field": ..., "error": ...}; unknown routes 404.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from urllib.parse import parse_qs, urlsplit

from clusters.algorithms import algorithm_named
from clusters.base import ClusterError, EventType
from clusters.sandbox.autoscaler import Autoscaler
from clusters.sandbox.backends import DEFAULT_BACKEND, Front
from clusters.sandbox.balancer import Balancer
from clusters.sandbox.config import (
    AutoscalerConfig,
    pod_fault_kinds,
    validate_algorithm,
    validate_fault,
    validate_replicas,
    validate_retries,
)
from clusters.sandbox.events import EventLog
from clusters.sandbox.stateful import owner as store_owner
from clusters.sandbox.supervisor import PodProcess, Supervisor

REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           500: "Internal Server Error"}


class NotFound(Exception):
    pass


class AppliedFault:
    __slots__ = ("kind", "pods", "duration_s", "params", "until", "timer")

    def __init__(self, kind: str, pods: list[str], duration_s: float, params: dict):
        self.kind = kind
        self.pods = pods
        self.duration_s = duration_s
        self.params = params
        self.until = time.time() + duration_s
        self.timer: asyncio.TimerHandle | None = None

    def to_dict(self) -> dict:
        return {"kind": self.kind, "pods": list(self.pods), "duration_s": self.duration_s,
                "params": self.params, "until": self.until}


class AppliedFaults:
    """The pod faults applied and not yet cleared, as the pods hold them: each is logged as cleared
    when its duration ends (the pods' own timers clear it then), when `clear_all` (restore) does,
    when the same kind is applied again to its pods (a pod holds one of each kind), or when its
    pods are gone (a pod's faults die with its process: its replacement starts clean)."""

    def __init__(self, events: EventLog):
        self.events = events
        self.entries: list[AppliedFault] = []

    def active(self) -> list[dict]:
        return [entry.to_dict() for entry in self.entries]

    def add(self, kind: str, pods: list[str], params: dict) -> dict:
        for pod in pods:
            self._release(pod, "replaced", kind=kind)
        entry = AppliedFault(kind, pods, params["duration"], {k: v for k, v in params.items() if k != "duration"})
        entry.timer = asyncio.get_running_loop().call_later(entry.duration_s, self._expire, entry)
        self.entries.append(entry)
        self.events.record(EventType.FAULT_APPLIED, **entry.to_dict())
        return entry.to_dict()

    def pod_gone(self, pod: PodProcess) -> None:
        self._release(pod.name, "pod_gone")

    def clear_all(self) -> int:
        entries, self.entries = self.entries, []
        for entry in entries:
            entry.timer.cancel()
            self.events.record(EventType.FAULT_CLEARED, kind=entry.kind, pods=entry.pods, reason="restored")
        return len(entries)

    def clear(self, kind: str, pods: list[str]) -> int:
        """`kind` on `pods` ends now (logged `cleared`); other kinds and pods keep theirs."""
        held = [entry for entry in self.entries if entry.kind == kind and set(entry.pods) & set(pods)]
        for pod in pods:
            self._release(pod, "cleared", kind=kind)
        return len(held)

    def _expire(self, entry: AppliedFault) -> None:
        if entry in self.entries:
            self.entries.remove(entry)
            self.events.record(EventType.FAULT_CLEARED, kind=entry.kind, pods=entry.pods, reason="expired")

    def _release(self, pod: str, reason: str, kind: str | None = None) -> None:
        """`pod` no longer holds its faults (of `kind`): logged, and a fault left on no pod ends."""
        for entry in [e for e in self.entries if pod in e.pods and (kind is None or e.kind == kind)]:
            entry.pods = [name for name in entry.pods if name != pod]
            self.events.record(EventType.FAULT_CLEARED, kind=entry.kind, pods=[pod], reason=reason)
            if not entry.pods:
                entry.timer.cancel()
                self.entries.remove(entry)


class ControlApi:
    def __init__(self, supervisor: Supervisor, balancer: Balancer, *, endpoint: str = "",
                 autoscaler_config: AutoscalerConfig | None = None, front: Front | None = None,
                 backend: str = DEFAULT_BACKEND, store: store_owner.StoreOwner | None = None):
        self.supervisor = supervisor
        self.store = store
        self._copying = None
        self.balancer = balancer
        self.front = front
        self.backend = backend
        self.endpoint = endpoint
        self.control_url = ""
        self.events = balancer.events
        self.faults = AppliedFaults(self.events)
        supervisor.exit_listeners.append(self.faults.pod_gone)
        self.autoscaler: Autoscaler | None = None
        if autoscaler_config is not None:
            self.enable_autoscaler(autoscaler_config)
        if store is not None:
            self._copying = asyncio.get_running_loop().create_task(self._copy_store_events())

    async def _copy_store_events(self) -> None:
        while True:
            self.store.copy_events(self.events)
            await asyncio.sleep(0.1)

    def stop_copying(self) -> None:
        if self._copying is not None:
            self._copying.cancel()

    def enable_autoscaler(self, config: AutoscalerConfig | None) -> None:
        if self.autoscaler is not None:
            self.autoscaler.stop()
            self.autoscaler = None
        if config is not None:
            self.autoscaler = Autoscaler(self.supervisor, config)
            self.autoscaler.start()

    async def handle(self, method: str, path: str, body: dict) -> dict:
        url = urlsplit(path)
        parts = [p for p in url.path.split("/") if p]
        route = (method, *parts)
        if route == ("GET", "status"):
            return self.status()
        if route == ("GET", "pods"):
            if self.front is not None:  # what it says of readiness is in force at nginx/HAProxy too
                await self.front.settle()
            return {"pods": self.pods()}
        if route == ("GET", "pods", "metrics"):
            return {"pods": await self.supervisor.metrics()}
        if route == ("GET", "balancer", "stats"):
            stats = await self.front.stats() if self.front is not None else self.balancer.stats()
            return {"algorithm": self.balancer.algorithm, "balancer": self.backend, "pods": stats}
        if method == "POST" and len(parts) == 3 and parts[0] == "pods" and parts[2] == "kill":
            self.supervisor.kill(parts[1])
            return {"killed": parts[1]}
        if route == ("POST", "faults"):
            return await self.add_fault(body)
        if route == ("POST", "faults", "clear"):
            return await self.clear_fault(body)
        if route == ("GET", "faults"):
            return await self.faults_left()
        if route == ("GET", "events"):
            return self.events_since(parse_qs(url.query).get("since", ["0"])[-1])
        if method == "POST" and len(parts) == 3 and parts[0] == "nodes" and parts[2] == "drain":
            return {"node": parts[1], "moved": self.supervisor.drain(parts[1])}
        if method == "POST" and len(parts) == 3 and parts[0] == "nodes" and parts[2] == "cordon":
            self.supervisor.cordon(parts[1])
            return {"node": parts[1], "cordoned": True}
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
            name, options = validate_algorithm(body.get("name"), body.get("options"), pod_names=names,
                                               balancer=self.backend)
            previous = self.balancer.algorithm, self.balancer.options
            self.balancer.set_algorithm(name, options)
            try:
                await self.apply_front()
            except ClusterError:  # the real balancer refused it and keeps the previous config
                self.balancer.set_algorithm(*previous)
                raise
            if (self.front is not None and self.front.reload_keeps_tcp_connections and name != previous[0]
                    and algorithm_named(previous[0]).layer == "L4"):
                # the old workers still pin each kept-alive client to its pod: the pods end those
                # connections after their next answer (Connection: close), so no request is cut
                # and the clients reconnect to the new config
                await self.supervisor.close_connections()
            return {"algorithm": name, "options": options}
        if route == ("GET", "algorithm"):
            return {"algorithm": self.balancer.algorithm, "options": self.balancer.options}
        if route == ("POST", "autoscaler"):
            return self.configure_autoscaler(body)
        if route == ("GET", "autoscaler"):
            return self.autoscaler.status() if self.autoscaler else {"enabled": False}
        if route == ("POST", "retries"):
            retries = validate_retries(body.get("retries"))
            self.balancer.set_retries(retries)
            await self.apply_front()
            return {"retries": retries}
        if route == ("GET", "retries"):
            return {"retries": self.balancer.retries}
        if route == ("POST", "restore"):
            await self.supervisor.clear_faults()
            self.supervisor.uncordon_all()
            restarted = self.store.restore(self.events) if self.store is not None else []
            return {"restored": True, "cleared": self.faults.clear_all(), "restarted": restarted}
        if route == ("GET", "stateful"):
            return await store_owner.require(self.store).status()
        if route == ("POST", "stateful", "primary", "kill"):
            return await store_owner.require(self.store).kill_primary(self.events)
        if route == ("POST", "stateful", "primary", "stop"):
            return await store_owner.require(self.store).stop_primary(self.events)
        if route == ("POST", "stateful", "restore"):
            return {"restarted": store_owner.require(self.store).restore(self.events)}
        raise NotFound(path)

    async def apply_front(self) -> None:
        """A change of algorithm, weights or retries is in force when the API answers, behind nginx
        and HAProxy too (their reload or runtime command is done)."""
        if self.front is not None:
            await self.front.apply()

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
            "retries": self.balancer.retries, "replicas": supervisor.replicas, "restarts": supervisor.restarts,
            "nodes": [{"name": n, "cordoned": n in supervisor.cordoned} for n in supervisor.nodes],
            "balancer": self.backend,
            "pids": {"controller": os.getpid(),
                     "pods": {name: p.pid for name, p in supervisor.processes.items()},
                     "balancer": self.front.pids() if self.front is not None else [],
                     "stateful": self.store.pids() if self.store is not None else {}},
            "balancer_error": getattr(self.front, "last_error", ""),
            "faults": self.faults.active(),
            "autoscaler": self.autoscaler.status() if self.autoscaler else {"enabled": False},
        }

    async def add_fault(self, body: dict) -> dict:
        kind = body.get("kind")
        params = validate_fault(kind, body)
        pods = self.supervisor.find_all(body.get("pods"))
        await self.supervisor.fault(pods, kind, params)
        return self.faults.add(kind, [p.name for p in pods], params)

    async def clear_fault(self, body: dict) -> dict:
        kind = body.get("kind")
        if kind not in pod_fault_kinds():
            raise ClusterError(f"unknown fault {kind!r}; one of {', '.join(pod_fault_kinds())}", field="kind")
        pods = self.supervisor.find_all(body.get("pods"))
        await self.supervisor.clear_fault(pods, kind)
        return {"kind": kind, "pods": [pod.name for pod in pods],
                "cleared": self.faults.clear(kind, [pod.name for pod in pods])}

    async def faults_left(self) -> dict:
        """What is still applied, asked of the pods themselves too: nothing anywhere after a restore."""
        return {"faults": self.faults.active(), "held": await self.supervisor.held_faults(),
                "cordoned": sorted(self.supervisor.cordoned)}

    def events_since(self, since: str) -> dict:
        try:
            seq = int(since)
        except ValueError:
            seq = -1
        if seq < 0:
            raise ClusterError("must be a sequence number, 0 or more", field="since")
        return {"events": self.events.since(seq), "last_seq": self.events.last_seq}

    def uncordon(self, node: str) -> None:
        self.supervisor.uncordon(node)

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
