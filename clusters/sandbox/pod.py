"""A sandbox pod: one process serving HTTP/1.1 on asyncio, like one replica of a service.

Every answer carries `X-Pod: <name>` and a small JSON body with `pod`/`hostname`, so
load generators can attribute each request. A pod has a service time (fixed,
exponential or lognormal, divided by its speed factor) and a capacity: at most
`capacity` requests are served at once, later ones queue. `/metrics` (Prometheus text),
`/healthz` and `/readyz` are answered at once, outside the queue.

With a stateful store (the sandbox's `--stateful redis|postgres`, settings `store`), `/kv` is backed
by it through a Sentinel-aware client or libpq's multi-host connection to Patroni's primary
(clusters/sandbox/stateful/store.py), after the service time and the pod's faults like any
request: `POST /kv/<id>` adds the record and answers 200 only once the store confirmed it (`WAIT 1`
for a Redis replica, the synchronous standby's flush under Patroni's synchronous_mode, in `sync`
mode), `POST /kv` adds one with an id of the pod's own, `GET /kv/<id>` says whether it is there
(404 when not); 503 when the store did not confirm.

The supervisor hands over an already listening socket (so the port is known before
the process starts) and drives faults through JSON lines on stdin; answers go to
stdout. Faults clear themselves after their duration. Reading EOF on stdin means the
supervisor is gone, and the pod exits: a second guard next to the parent-death signal.

Run by the supervisor as `python -m clusters.sandbox.pod '<json settings>'`.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import math
import os
import random
import resource
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import NamedTuple

from clusters import procs
from clusters.sandbox.httpwire import content_length

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MAX_HEADER_BYTES = 64 * 1024
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
REASONS = {200: "OK", 404: "Not Found", 413: "Payload Too Large", 429: "Too Many Requests",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
           504: "Gateway Timeout"}


def response_bytes(pod: str, status: int, body: bytes, *, content_type: bytes = b"application/json",
                   close: bool = False) -> bytes:
    reason = REASONS.get(status, "Error").encode()
    head = (b"HTTP/1.1 %d %s\r\nX-Pod: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
            % (status, reason, pod.encode(), content_type, len(body)))
    return head + (b"Connection: close\r\n\r\n" if close else b"\r\n") + body


def wants_keep_alive(head: bytes, line_end: int, lower: bytes) -> bool:
    """HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 only when asked to keep it."""
    if head[line_end - 8:line_end] == b"HTTP/1.0":
        return b"connection: keep-alive" in lower
    return b"connection: close" not in lower


class Faults:
    """The faults currently applied to this pod, each cleared by its own timer."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.latency_ms = 0.0
        self.jitter_ms = 0.0
        self.error_rate = 0.0
        self.error_status = 500
        self.blackhole = False
        self.not_ready = False
        self.stress_stop: threading.Event | None = None
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def apply(self, kind: str, params: dict) -> None:
        self.clear(kind)  # applying the same kind again replaces it (and its timer)
        fault = POD_FAULTS.get(kind)
        if fault is None:
            raise ValueError(f"unknown fault {kind}")
        fault.hold(self, params)
        self._timers[kind] = self.loop.call_later(float(params["duration"]), self.clear, kind)

    def clear(self, kind: str) -> None:
        timer = self._timers.pop(kind, None)
        if timer is not None:
            timer.cancel()
        fault = POD_FAULTS.get(kind)
        if fault is not None:
            fault.release(self)

    def clear_all(self) -> None:
        for kind in POD_FAULTS:
            self.clear(kind)

    def active(self) -> list[str]:
        return sorted(self._timers)


class PodFault(NamedTuple):
    """What holding one kind of fault does to a pod, and how letting it go undoes that."""

    hold: Callable[[Faults, dict], None]
    release: Callable[[Faults], None]


def _hold_latency(faults: Faults, params: dict) -> None:
    faults.latency_ms, faults.jitter_ms = float(params["ms"]), float(params.get("jitter", 0.0))


def _release_latency(faults: Faults) -> None:
    faults.latency_ms = faults.jitter_ms = 0.0


def _hold_errors(faults: Faults, params: dict) -> None:
    faults.error_rate, faults.error_status = float(params["rate"]), int(params.get("status", 500))


def _release_errors(faults: Faults) -> None:
    faults.error_rate = 0.0


def _hold_partition(faults: Faults, params: dict) -> None:
    faults.blackhole = True


def _release_partition(faults: Faults) -> None:
    faults.blackhole = False


def _hold_not_ready(faults: Faults, params: dict) -> None:
    faults.not_ready = True


def _release_not_ready(faults: Faults) -> None:
    faults.not_ready = False


def _hold_cpu_stress(faults: Faults, params: dict) -> None:
    faults.stress_stop = threading.Event()
    for _ in range(int(params.get("workers", 1))):
        threading.Thread(target=_burn_cpu, args=(faults.stress_stop,), daemon=True).start()


def _release_cpu_stress(faults: Faults) -> None:
    if faults.stress_stop is not None:
        faults.stress_stop.set()
        faults.stress_stop = None


def _burn_cpu(stop: threading.Event) -> None:
    # Pure-Python work holds the GIL, so the pod's own loop is starved as a pod sharing
    # its CPU limit with a stressor would be; cpu_seconds shows the extra work.
    while not stop.is_set():
        total = 0
        for i in range(20_000):
            total += i


# How a sandbox pod holds each fault the control API sends it: the timed pod faults of
# clusters.faults, validated before they get here (tests/clusters/test_fault_registry.py keeps
# the two in step). They live here rather than in the registry's entries because they are this
# adapter's way of doing the Cluster methods; Kubernetes does the same faults with Chaos Mesh.
POD_FAULTS: dict[str, PodFault] = {
    "latency": PodFault(_hold_latency, _release_latency),
    "errors": PodFault(_hold_errors, _release_errors),
    "partition": PodFault(_hold_partition, _release_partition),
    "not_ready": PodFault(_hold_not_ready, _release_not_ready),
    "cpu_stress": PodFault(_hold_cpu_stress, _release_cpu_stress),
}


class Pod:
    """Counters, the service queue and the canned answers of one pod."""

    def __init__(self, settings: dict, loop: asyncio.AbstractEventLoop):
        self.name: str = settings["name"]
        self.node: str = settings.get("node", "node-0")
        service = settings.get("service_time", {})
        self.distribution: str = service.get("distribution", "fixed")
        self.mean_s: float = float(service.get("mean_ms", 0.0)) / 1000.0
        self.sigma: float = float(service.get("sigma", 0.5))
        self.capacity: int = int(settings.get("capacity", 8))
        self.speed: float = float(settings.get("speed", 1.0))
        self.drain_grace_s: float = float(settings.get("drain_grace_s", 5.0))
        self.loop = loop
        self.faults = Faults(loop)
        self.connections: set[PodConnection] = set()
        self.serving = 0  # requests in service (<= capacity)
        self.queue: deque = deque()  # (connection, keep_alive, enqueued_at) waiting for capacity
        self.in_flight = 0
        self.requests = 0
        self.failures = 0
        self.busy_seconds = 0.0  # sum of time requests spent queued or served: Little's law gives load
        self.latency_sum = 0.0
        self.histogram = [0] * (len(LATENCY_BUCKETS_S) + 1)
        self.terminating = False
        self.started = time.time()
        body = json.dumps({"pod": self.name, "hostname": self.name, "node": self.node}).encode()
        self.ok_keep = response_bytes(self.name, 200, body)
        self.ok_close = response_bytes(self.name, 200, body, close=True)
        self.instant = self.mean_s == 0.0
        self.store = None
        self.records = 0  # ids this pod made up for `POST /kv`
        self.store_tasks: set[asyncio.Task] = set()
        if settings.get("store"):
            from clusters.sandbox.stateful.store import store_client  # only a stateful pod needs its client
            self.store = store_client(settings["store"])

    async def store_answer(self, write: bool, record: str | None) -> tuple[int, bytes]:
        """The status and body of a `/kv` request, from the store."""
        from clusters.sandbox.stateful.store import StoreUnavailable

        if record is None:
            if not write:
                return 404, b'{"error": "GET /kv/<id>"}'
            self.records += 1
            record = f"{self.name}-{self.records}"
        try:
            result = await (self.store.write(record) if write else self.store.read(record))
        except StoreUnavailable as exc:
            return 503, json.dumps({"pod": self.name, "hostname": self.name, "error": str(exc)}).encode()
        status = 200 if write or result["present"] else 404
        return status, json.dumps({"pod": self.name, "hostname": self.name, **result}).encode()

    def service_time_s(self) -> float:
        mean = self.mean_s / self.speed
        if mean <= 0:
            return 0.0
        if self.distribution == "exponential":
            return random.expovariate(1.0 / mean)
        if self.distribution == "lognormal":
            # mu chosen so the distribution's mean is `mean`, whatever sigma is.
            return random.lognormvariate(math.log(mean) - self.sigma**2 / 2, self.sigma)
        return mean

    def observe(self, seconds: float, failed: bool) -> None:
        self.requests += 1
        if failed:
            self.failures += 1
        self.latency_sum += seconds
        self.histogram[bisect.bisect_left(LATENCY_BUCKETS_S, seconds)] += 1

    def metrics(self) -> dict:
        return {"pod": self.name, "node": self.node, "requests": self.requests, "failures": self.failures,
                "in_flight": self.in_flight, "queued": len(self.queue),
                "request_seconds": self.latency_sum, "cpu_seconds": time.process_time(),
                "memory_bytes": _rss_bytes(), "ready": self.ready, "busy_seconds": self.busy_seconds,
                "capacity": self.capacity, "faults": self.faults.active(), "pid": os.getpid()}

    @property
    def ready(self) -> bool:
        return not (self.faults.not_ready or self.terminating)

    def prometheus_text(self) -> bytes:
        label = f'pod="{self.name}",node="{self.node}"'
        lines = [
            "# HELP lblab_pod_requests_total Requests answered by the pod.",
            "# TYPE lblab_pod_requests_total counter",
            f"lblab_pod_requests_total{{{label}}} {self.requests}",
            "# HELP lblab_pod_failures_total Requests answered with an error status.",
            "# TYPE lblab_pod_failures_total counter",
            f"lblab_pod_failures_total{{{label}}} {self.failures}",
            "# HELP lblab_pod_in_flight Requests queued or in service.",
            "# TYPE lblab_pod_in_flight gauge",
            f"lblab_pod_in_flight{{{label}}} {self.in_flight}",
            "# HELP lblab_pod_ready 1 when the pod passes readiness.",
            "# TYPE lblab_pod_ready gauge",
            f"lblab_pod_ready{{{label}}} {int(self.ready)}",
            "# HELP lblab_pod_request_duration_seconds Time from arrival to answer.",
            "# TYPE lblab_pod_request_duration_seconds histogram",
        ]
        cumulative = 0
        for bound, count in zip(LATENCY_BUCKETS_S, self.histogram, strict=False):
            cumulative += count
            lines.append(f'lblab_pod_request_duration_seconds_bucket{{{label},le="{bound:g}"}} {cumulative}')
        cumulative += self.histogram[-1]
        lines += [
            f'lblab_pod_request_duration_seconds_bucket{{{label},le="+Inf"}} {cumulative}',
            f"lblab_pod_request_duration_seconds_sum{{{label}}} {self.latency_sum:.6f}",
            f"lblab_pod_request_duration_seconds_count{{{label}}} {cumulative}",
            "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.",
            "# TYPE process_cpu_seconds_total counter",
            f"process_cpu_seconds_total {time.process_time():.6f}",
            "# HELP process_resident_memory_bytes Resident memory size in bytes.",
            "# TYPE process_resident_memory_bytes gauge",
            f"process_resident_memory_bytes {_rss_bytes()}",
            "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.",
            "# TYPE process_start_time_seconds gauge",
            f"process_start_time_seconds {self.started:.3f}",
        ]
        return ("\n".join(lines) + "\n").encode()

    # The service queue: `capacity` requests are served at once, the rest wait in order.
    def admit(self, conn: PodConnection, keep: bool, arrived: float) -> None:
        if self.serving < self.capacity:
            self._serve(conn, keep, arrived, time.monotonic())
        else:
            self.queue.append((conn, keep, arrived, time.monotonic()))

    def _serve(self, conn: PodConnection, keep: bool, arrived: float, enqueued: float) -> None:
        self.serving += 1
        self.loop.call_later(self.service_time_s(), self._served, conn, keep, arrived, enqueued)

    def _served(self, conn: PodConnection, keep: bool, arrived: float, enqueued: float) -> None:
        self.serving -= 1
        self.busy_seconds += time.monotonic() - enqueued
        while self.queue and self.serving < self.capacity:
            self._serve(*self.queue.popleft())
        conn.answer(keep, arrived)


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * PAGE_SIZE
    except OSError:  # pragma: no cover - non-Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PodConnection(asyncio.Protocol):
    """One client connection; requests on it are answered strictly in order."""

    __slots__ = ("pod", "transport", "buffer", "busy", "store_op", "close_after_answer")

    def __init__(self, pod: Pod):
        self.pod = pod
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.busy = False
        self.store_op: tuple[bool, str | None] | None = None  # (write, id) of a `/kv` request in service
        self.close_after_answer = False  # the controller asked: end this connection after its next answer

    def connection_made(self, transport):
        self.transport = transport
        self.pod.connections.add(self)
        if self.pod.terminating:
            transport.close()

    def connection_lost(self, exc):
        self.pod.connections.discard(self)
        self.transport = None

    def data_received(self, data):
        if self.pod.faults.blackhole:
            return  # partitioned: the bytes arrive and nothing ever answers
        self.buffer = self.buffer + data if self.buffer else data
        if not self.busy:
            self.next_request()

    def next_request(self) -> None:
        pod = self.pod
        while not self.busy and self.transport is not None:
            buffer = self.buffer
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEADER_BYTES:
                    self.transport.close()
                return
            head = buffer[:end]
            length, lower = content_length(head)
            total = end + 4 + length
            if len(buffer) < total:
                return
            self.buffer = buffer[total:]
            if lower is None:
                lower = head.lower()
            line_end = head.find(b"\r\n")
            if line_end < 0:
                line_end = len(head)
            keep = wants_keep_alive(head, line_end, lower)
            space = head.find(b" ")
            path = head[space + 1:head.find(b" ", space + 1)]
            if path.startswith(b"/metrics") or path.startswith(b"/healthz") or path.startswith(b"/readyz"):
                self.answer_admin(path, keep)
                continue
            self.busy = True
            pod.in_flight += 1
            arrived = time.monotonic()
            if pod.store is not None and path.startswith(b"/kv"):
                record = path[3:].split(b"?", 1)[0].strip(b"/").decode(errors="replace")
                self.store_op = (not head.startswith(b"GET "), record or None)
            faults = pod.faults
            if pod.instant and not faults.latency_ms and not faults.error_rate:
                self.answer(keep, arrived)
                continue
            delay = faults.latency_ms
            if faults.jitter_ms:
                delay = max(0.0, delay + random.uniform(-faults.jitter_ms, faults.jitter_ms))
            if delay:
                pod.loop.call_later(delay / 1000.0, self.after_network_delay, keep, arrived)
            else:
                self.after_network_delay(keep, arrived)

    def after_network_delay(self, keep: bool, arrived: float) -> None:
        pod = self.pod
        if pod.faults.error_rate and random.random() < pod.faults.error_rate:
            self.answer(keep, arrived, status=pod.faults.error_status)
        else:
            pod.admit(self, keep, arrived)

    def answer(self, keep: bool, arrived: float, status: int = 200) -> None:
        op, self.store_op = self.store_op, None
        if op is not None and status == 200:  # served: now the store's part, then the answer
            task = self.pod.loop.create_task(self._answer_from_store(op, keep, arrived))
            self.pod.store_tasks.add(task)  # held until done: the loop keeps only a weak reference
            task.add_done_callback(self.pod.store_tasks.discard)
            return
        self._send(keep, arrived, status)

    async def _answer_from_store(self, op: tuple[bool, str | None], keep: bool, arrived: float) -> None:
        status, body = await self.pod.store_answer(*op)
        self._send(keep, arrived, status, body)

    def _send(self, keep: bool, arrived: float, status: int, body: bytes | None = None) -> None:
        pod = self.pod
        pod.in_flight -= 1
        if pod.faults.blackhole:
            return  # partition began while it was in service: the answer never leaves
        pod.observe(time.monotonic() - arrived, status >= 500)
        transport = self.transport
        self.busy = False
        if transport is None:
            return
        keep = keep and not pod.terminating and not self.close_after_answer
        if body is not None:
            transport.write(response_bytes(pod.name, status, body, close=not keep))
        elif status == 200:
            transport.write(pod.ok_keep if keep else pod.ok_close)
        else:
            body = json.dumps({"pod": pod.name, "hostname": pod.name, "error": "injected fault"}).encode()
            transport.write(response_bytes(pod.name, status, body, close=not keep))
        if not keep:
            transport.close()
            self.transport = None
        elif self.buffer:
            self.next_request()

    def answer_admin(self, path: bytes, keep: bool) -> None:
        pod = self.pod
        if path.startswith(b"/metrics"):
            data = response_bytes(pod.name, 200, pod.prometheus_text(),
                                  content_type=b"text/plain; version=0.0.4", close=not keep)
        elif path.startswith(b"/readyz"):
            status = 200 if pod.ready else 503
            data = response_bytes(pod.name, status, b'{"ready": %s}' % (b"true" if pod.ready else b"false"),
                                  close=not keep)
        else:
            data = response_bytes(pod.name, 200, b'{"healthy": true}', close=not keep)
        self.transport.write(data)
        if not keep:
            self.transport.close()
            self.transport = None


class ControlPipe(asyncio.Protocol):
    """JSON lines from the supervisor on stdin; one JSON answer line per command on stdout."""

    def __init__(self, pod: Pod, on_eof):
        self.pod = pod
        self.on_eof = on_eof
        self.buffer = b""

    def data_received(self, data):
        self.buffer += data
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            if line.strip():
                self.handle(json.loads(line))

    def handle(self, command: dict) -> None:
        op = command.get("op")
        reply: dict = {"id": command.get("id"), "ok": True}
        try:
            if op == "fault":
                self.pod.faults.apply(command["kind"], command["params"])
            elif op == "clear":
                self.pod.faults.clear(command["kind"])
            elif op == "clear_all":
                self.pod.faults.clear_all()
            elif op == "close_connections":
                # After its next answer, not now: closing an idle kept-alive connection races a
                # request the client may be sending on it, and that request would be lost.
                for connection in self.pod.connections:
                    connection.close_after_answer = True
            elif op == "metrics":
                reply["metrics"] = self.pod.metrics()
            else:
                raise ValueError(f"unknown op {op!r}")
        except Exception as exc:  # answer the supervisor instead of dying on a bad command
            reply = {"id": command.get("id"), "ok": False, "error": str(exc)}
        os.write(1, json.dumps(reply).encode() + b"\n")

    def eof_received(self):
        self.on_eof()

    def connection_lost(self, exc):
        self.on_eof()


async def serve(settings: dict) -> None:
    loop = asyncio.get_running_loop()
    pod = Pod(settings, loop)
    done = asyncio.Event()
    sock = socket.socket(fileno=int(settings["fd"]))
    sock.setblocking(False)
    server = await loop.create_server(lambda: PodConnection(pod), sock=sock, backlog=1024)

    def terminate():
        # Graceful stop, as a pod gets SIGTERM: fail readiness, stop accepting, close idle
        # keep-alive connections, let requests in service finish (up to the grace period).
        if pod.terminating:
            return
        pod.terminating = True
        server.close()
        for conn in list(pod.connections):
            if not conn.busy and conn.transport is not None:
                conn.transport.close()
        loop.create_task(_finish(pod, done))

    loop.add_signal_handler(signal.SIGTERM, terminate)
    loop.add_signal_handler(signal.SIGINT, terminate)
    await loop.connect_read_pipe(lambda: ControlPipe(pod, done.set), os.fdopen(0, "rb", buffering=0))
    os.write(1, json.dumps({"event": "started", "pod": pod.name, "pid": os.getpid()}).encode() + b"\n")
    await done.wait()
    pod.faults.clear_all()
    if pod.store is not None:
        await pod.store.close()


async def _finish(pod: Pod, done: asyncio.Event) -> None:
    deadline = time.monotonic() + pod.drain_grace_s
    while pod.in_flight > 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.05)  # let the last answers leave the socket buffers
    done.set()


def main(argv: list[str] | None = None) -> None:
    procs.die_with_parent(signal.SIGKILL)
    settings = json.loads((argv if argv is not None else sys.argv[1:])[0])
    procs.run_loop(lambda: serve(settings))


if __name__ == "__main__":
    main()
