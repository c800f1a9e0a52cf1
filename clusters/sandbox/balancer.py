"""The sandbox balancer: an asyncio HTTP/1.1 reverse proxy in front of the pods.

Built for throughput (the benchmark compares it with nginx): protocols instead of
streams, upstream connections kept alive in a per-pod pool, only the bytes needed to
find where a message ends are parsed (request line, Content-Length, Connection), and
answers are forwarded unchanged so the pod's `X-Pod` reaches the client.

Robustness, as nginx's defaults: a request that fails before any answer byte arrived
(refused connection, a pooled connection the pod closed) is retried on another pod up to
`retries` times when its method is idempotent (`retries` 0: never, as `proxy_next_upstream off`);
an upstream that does not answer within `upstream_timeout_s` gives 504. Active health checks on
`/readyz` take pods out and put them back; a refused connection takes a pod out at once.

Every failed response a client gets (a 5xx generated or passed on, a connection cut mid-answer)
goes to the event log's failure streaks, as do pods leaving and joining the rotation. Successful
requests log nothing: the log costs the hot path nothing.
"""

from __future__ import annotations

import asyncio
import json
import time

from clusters.algorithms import ALGORITHMS
from clusters.base import EventType
from clusters.sandbox.algorithms import observe_latency
from clusters.sandbox.config import DEFAULT_RETRIES
from clusters.sandbox.events import EventLog, FailureStreaks
from clusters.sandbox.httpwire import content_length

MAX_REQUEST_BYTES = 16 * 1024 * 1024
IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE"})


def plain_response(status: int, reason: str, message: str, *, close: bool) -> bytes:
    body = json.dumps({"error": message}).encode()
    return (b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n"
            % (status, reason.encode(), len(body), b"Connection: close\r\n" if close else b"")) + body


class Upstream:
    """One pod as the balancer sees it: address, weight, health, counters, idle connections."""

    __slots__ = ("name", "host", "port", "weight", "ready", "terminating", "eligible", "in_flight",
                 "requests", "failures", "ewma_s", "ewma_at", "idle", "fails_in_row", "checked")

    def __init__(self, name: str, host: str, port: int, weight: float = 1.0):
        self.name = name
        self.host = host
        self.port = port
        self.weight = weight
        self.ready = False  # until the first readiness check passes
        self.terminating = False
        self.eligible = False  # ready and not terminating: in the pickers' list
        self.in_flight = 0
        self.requests = 0
        self.failures = 0
        self.ewma_s = 0.0
        self.ewma_at = time.monotonic()
        self.idle: list[UpstreamConnection] = []
        self.fails_in_row = 0
        self.checked = False

    def stats(self) -> dict:
        return {"requests": self.requests, "failures": self.failures, "in_flight": self.in_flight,
                "ready": self.ready, "eligible": self.eligible, "weight": self.weight,
                "ewma_ms": round(self.ewma_s * 1000, 3), "address": f"{self.host}:{self.port}"}


class UpstreamConnection(asyncio.Protocol):
    """A kept-alive connection to one pod, carrying one request at a time."""

    __slots__ = ("balancer", "upstream", "transport", "client", "head", "remaining", "got_bytes",
                 "started", "reusable", "no_body", "status", "closed")

    def __init__(self, balancer: Balancer, upstream: Upstream):
        self.balancer = balancer
        self.upstream = upstream
        self.transport = None
        self.client: ClientConnection | None = None
        self.head = b""
        self.remaining = -1
        self.got_bytes = False
        self.started = 0.0
        self.reusable = True
        self.no_body = False
        self.status = 0
        self.closed = False

    def connection_made(self, transport):
        self.transport = transport

    def send(self, client: ClientConnection, request: bytes, no_body: bool) -> None:
        self.client = client
        self.head = b""
        self.remaining = -1
        self.got_bytes = False
        self.no_body = no_body
        self.started = time.monotonic()
        self.balancer.busy.add(self)
        self.transport.write(request)

    def data_received(self, data):
        client = self.client
        if client is None:
            self.transport.close()  # bytes nobody asked for: the connection is not trustworthy
            return
        self.got_bytes = True
        if self.remaining < 0:
            head = self.head + data if self.head else data
            end = head.find(b"\r\n\r\n")
            if end < 0:
                self.head = head
                return
            self.head = b""
            header = head[:end]
            self.status = int(head[9:12])
            length, lower = content_length(header)
            if b"onnection: close" in header or (lower is not None and b"connection: close" in lower):
                self.reusable = False
            if self.no_body or self.status < 200 or self.status in (204, 304):
                length = 0
            self.remaining = length - (len(head) - end - 4)
            client.transport.write(head)
        else:
            self.remaining -= len(data)
            client.transport.write(data)
        if self.remaining == 0:
            self.finish()
        elif self.remaining < 0:
            self.reusable = False
            self.finish()

    def finish(self) -> None:
        client = self.client
        self.client = None
        upstream = self.upstream
        balancer = self.balancer
        balancer.busy.discard(self)
        now = time.monotonic()
        upstream.in_flight -= 1
        upstream.requests += 1
        if self.status >= 500:
            upstream.failures += 1
            if client.transport is not None:
                balancer.streaks.failed(upstream.name, str(self.status))
        observe_latency(upstream, now - self.started, now, balancer.ewma_decay_s)
        if self.reusable and not upstream.terminating and not self.closed:
            upstream.idle.append(self)
        else:
            self.transport.close()
        client.response_done()

    def connection_lost(self, exc):
        self.closed = True
        upstream = self.upstream
        try:
            upstream.idle.remove(self)
        except ValueError:
            pass
        client = self.client
        if client is None:
            return
        self.client = None
        self.balancer.busy.discard(self)
        upstream.in_flight -= 1
        if self.got_bytes:
            upstream.failures += 1
            client.cut(upstream)  # half an answer was forwarded: only closing tells the client
        else:
            client.retry_or_fail(upstream)

    def time_out(self) -> None:
        client = self.client
        if client is None:
            return
        self.client = None
        self.balancer.busy.discard(self)
        self.upstream.in_flight -= 1
        self.upstream.failures += 1
        self.transport.abort()
        if self.got_bytes:
            client.cut(self.upstream)
        else:
            client.fail(self.upstream, 504, "Gateway Timeout", "upstream timed out")


class ClientConnection(asyncio.Protocol):
    """One client connection: parse a request, hand it to an upstream, relay the answer."""

    __slots__ = ("balancer", "transport", "buffer", "request", "head_lower", "keep", "no_body",
                 "idempotent", "attempts", "pinned", "peer", "_address_key", "upstream_conn")

    def __init__(self, balancer: Balancer):
        self.balancer = balancer
        self.transport = None
        self.buffer = b""
        self.request: bytes | None = None
        self.head_lower: bytes | None = None
        self.keep = True
        self.no_body = False
        self.idempotent = True
        self.attempts = 0
        self.pinned: Upstream | None = None
        self.peer = None
        self._address_key: bytes | None = None
        self.upstream_conn: UpstreamConnection | None = None

    def connection_made(self, transport):
        self.transport = transport
        self.balancer.clients.add(self)

    def connection_lost(self, exc):
        self.balancer.clients.discard(self)
        self.transport = None
        conn = self.upstream_conn
        if conn is not None and conn.client is self:
            # The client left mid-request: that upstream connection now carries an answer
            # nobody reads, so it cannot go back to the pool.
            conn.client = None
            self.balancer.busy.discard(conn)
            conn.upstream.in_flight -= 1
            conn.transport.abort()

    @property
    def address_key(self) -> bytes:
        if self._address_key is None:
            peer = self.transport.get_extra_info("peername") if self.transport else None
            self._address_key = repr(peer).encode()
        return self._address_key

    def header_value(self, name_lower: bytes) -> bytes | None:
        lower = self.head_lower
        if lower is None:
            return None
        start = lower.find(name_lower)
        if start < 0:
            return None
        start += len(name_lower)
        stop = lower.find(b"\r\n", start)
        return self.request[start:stop if stop >= 0 else len(lower)].strip()

    def data_received(self, data):
        self.buffer = self.buffer + data if self.buffer else data
        if self.request is None:
            self.next_request()

    def next_request(self) -> None:
        buffer = self.buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > 64 * 1024:
                self.reply_error(431, "Request Header Fields Too Large", "header too large", close=True)
            return
        head = buffer[:end]
        lower = head.lower()
        length = 0
        cl = lower.find(b"content-length:")
        if cl >= 0:
            stop = lower.find(b"\r\n", cl)
            try:
                length = int(head[cl + 15:stop if stop >= 0 else len(head)])
            except ValueError:
                self.reply_error(400, "Bad Request", "bad content-length", close=True)
                return
        elif b"transfer-encoding:" in lower:
            self.reply_error(411, "Length Required", "chunked requests are not supported", close=True)
            return
        if length > MAX_REQUEST_BYTES:
            self.reply_error(413, "Payload Too Large", "request too large", close=True)
            return
        total = end + 4 + length
        if len(buffer) < total:
            return
        self.request = buffer[:total] if len(buffer) != total else buffer
        self.buffer = buffer[total:]
        line_end = head.find(b"\r\n")
        if line_end < 0:
            line_end = len(head)
        if head[line_end - 8:line_end] == b"HTTP/1.0":
            self.keep = b"connection: keep-alive" in lower
        else:
            self.keep = b"connection: close" not in lower
        method = head[:head.find(b" ")]
        self.no_body = method == b"HEAD"
        self.idempotent = method in IDEMPOTENT
        self.head_lower = lower
        self.attempts = 0
        self.dispatch()

    def dispatch(self) -> None:
        balancer = self.balancer
        upstream = balancer.picker.pick(self)
        if upstream is None:
            self.fail(None, 503, "Service Unavailable", "no ready pods")
            return
        self.attempts += 1
        upstream.in_flight += 1
        idle = upstream.idle
        if idle:
            conn = idle.pop()
            self.upstream_conn = conn
            conn.send(self, self.request, self.no_body)
        else:
            balancer.loop.create_task(self.connect_and_send(upstream))

    async def connect_and_send(self, upstream: Upstream) -> None:
        balancer = self.balancer
        try:
            _, conn = await asyncio.wait_for(
                balancer.loop.create_connection(lambda: UpstreamConnection(balancer, upstream),
                                                upstream.host, upstream.port),
                timeout=balancer.connect_timeout_s)
        except (TimeoutError, OSError):
            upstream.in_flight -= 1
            balancer.mark_down(upstream)
            self.retry_or_fail(upstream, count=False)
            return
        if self.transport is None:  # the client left while we connected
            upstream.in_flight -= 1
            upstream.idle.append(conn)
            return
        self.upstream_conn = conn
        conn.send(self, self.request, self.no_body)

    def retry_or_fail(self, upstream: Upstream, count: bool = True) -> None:
        if self.transport is None:
            return
        if self.idempotent and self.attempts < self.balancer.max_attempts:
            self.dispatch()
        else:
            if count:
                upstream.failures += 1
            self.fail(upstream, 502, "Bad Gateway", "upstream failed")

    def response_done(self) -> None:
        self.upstream_conn = None
        self.request = None
        self.head_lower = None
        transport = self.transport
        if transport is None:
            return
        if not self.keep:
            transport.close()
            self.transport = None
        elif self.buffer:
            self.next_request()

    def reply_error(self, status: int, reason: str, message: str, close: bool = False) -> None:
        transport = self.transport
        if transport is None:
            return
        close = close or not self.keep
        transport.write(plain_response(status, reason, message, close=close))
        if close:
            self.buffer = b""
            self.request = None
            transport.close()
            self.transport = None
        else:
            self.response_done()

    def fail(self, upstream: Upstream | None, status: int, reason: str, message: str) -> None:
        """Answer a failure the balancer generates, logged against `upstream` (None: no pod)."""
        if self.transport is not None:
            self.balancer.streaks.failed(upstream.name if upstream is not None else None, str(status))
            self.reply_error(status, reason, message)

    def cut(self, upstream: Upstream) -> None:
        """Close the client's connection mid-answer: a failure the client sees as a reset."""
        if self.transport is not None:
            self.balancer.streaks.failed(upstream.name, "reset")
            self.abort()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()
            self.transport = None


class Balancer:
    """Owns the upstream set, the current picker, health checks and the listening server."""

    def __init__(self, *, algorithm: str, options: dict, health_interval_s: float = 0.5,
                 unhealthy_threshold: int = 2, upstream_timeout_s: float = 10.0,
                 retries: int = DEFAULT_RETRIES, events: EventLog | None = None):
        self.loop = asyncio.get_running_loop()
        self.events = events if events is not None else EventLog()
        self.streaks = FailureStreaks(self.events)
        self.retries = retries
        self.max_attempts = 1 + retries
        self.upstreams: dict[str, Upstream] = {}
        self.weights: dict[str, float] = {}
        self.algorithm = algorithm
        self.options = options
        self.picker = ALGORITHMS[algorithm].sandbox_picker(options)
        self.ewma_decay_s = float(options.get("decay_s", 10.0))
        self.health_interval_s = health_interval_s
        self.unhealthy_threshold = unhealthy_threshold
        self.upstream_timeout_s = upstream_timeout_s
        self.connect_timeout_s = 2.0
        self.busy: set[UpstreamConnection] = set()
        self.clients: set[ClientConnection] = set()
        self.server: asyncio.AbstractServer | None = None
        self._tasks: list[asyncio.Task] = []
        self._checking: set[str] = set()
        # Called after every change of what the pods' front must do (the pod set, readiness,
        # weights, algorithm, retries): nginx and HAProxy rewrite their config from it.
        self.listeners: list = []

    def changed(self) -> None:
        for listener in self.listeners:
            listener()

    async def start(self, host: str, port: int) -> int:
        """Serve on host:port (the `lblab` backend) and check the pods; returns the port."""
        self.server = await self.loop.create_server(lambda: ClientConnection(self), host, port,
                                                    backlog=4096, reuse_address=True)
        self.start_checks()
        self._tasks.append(self.loop.create_task(self._timeout_loop()))
        return self.server.sockets[0].getsockname()[1]

    def start_checks(self) -> None:
        """Only the readiness checks: behind nginx or HAProxy this object serves nothing and keeps
        the pod set, readiness, weights and the algorithm that their configs are written from."""
        self._tasks.append(self.loop.create_task(self._health_loop()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self.server is not None:
            self.server.close()
        for client in list(self.clients):
            client.abort()
        for upstream in self.upstreams.values():
            for conn in list(upstream.idle):
                conn.transport.close()

    # The upstream set. Pickers only ever see `eligible` upstreams.
    def weight_of(self, name: str) -> float:
        # A weight names a pod, or a slot (`pod-2`) so it survives the pod's restarts.
        return self.weights.get(name, self.weights.get(name.rsplit("-", 1)[0], 1.0))

    def add(self, name: str, host: str, port: int) -> None:
        self.upstreams[name] = Upstream(name, host, port, self.weight_of(name))
        self.loop.create_task(self._startup_probe(name))

    def set_terminating(self, name: str) -> None:
        upstream = self.upstreams.get(name)
        if upstream is not None:
            upstream.terminating = True
            for conn in list(upstream.idle):
                conn.transport.close()
            self.refresh()

    def remove(self, name: str) -> None:
        upstream = self.upstreams.pop(name, None)
        self.weights.pop(name, None)  # a slot's weight (`pod-2`) stays for its next pod
        if upstream is not None:
            upstream.terminating = True
            for conn in list(upstream.idle):
                conn.transport.close()
            self.refresh()

    def mark_down(self, upstream: Upstream) -> None:
        if upstream.ready:
            upstream.ready = False
            if self.upstreams.get(upstream.name) is upstream:  # a pod already gone is not news
                self.events.record(EventType.POD_NOT_READY, pod=upstream.name, reason="connect_failed")
            self.refresh()

    def refresh(self) -> None:
        eligible = []
        for upstream in self.upstreams.values():
            upstream.eligible = upstream.ready and not upstream.terminating
            if upstream.eligible:
                eligible.append(upstream)
        eligible.sort(key=lambda u: u.name)
        self.picker.update(eligible)
        self.changed()

    def set_algorithm(self, name: str, options: dict) -> None:
        weights = options.get("weights")
        if weights is not None:
            self.weights.update(weights)
            for upstream in self.upstreams.values():
                upstream.weight = self.weight_of(upstream.name)
        self.ewma_decay_s = float(options.get("decay_s", 10.0))
        picker = ALGORITHMS[name].sandbox_picker(options)
        self.algorithm, self.options = name, options
        self.picker = picker
        self.refresh()
        self.events.record(EventType.ALGORITHM_SET, algorithm=name, options=options)

    def set_retries(self, retries: int) -> None:
        """Retries of a failed idempotent request on another pod from now on (0: none)."""
        self.retries = retries
        self.max_attempts = 1 + retries
        self.events.record(EventType.RETRIES_SET, retries=retries)
        self.changed()

    def stats(self) -> dict:
        return {name: upstream.stats() for name, upstream in sorted(self.upstreams.items())}

    # Health checks: a GET /readyz per upstream per interval, on a fresh connection.
    async def _startup_probe(self, name: str) -> None:
        # A new pod is probed often until it first answers, so it joins within ~50 ms of
        # listening instead of one full health interval later.
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline:
            upstream = self.upstreams.get(name)
            if upstream is None or upstream.checked:
                return
            if name not in self._checking and await self._check(upstream):
                return
            await asyncio.sleep(0.05)

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(self.health_interval_s)
            checks = [self._check(u) for u in list(self.upstreams.values()) if u.name not in self._checking]
            if checks:
                await asyncio.gather(*checks, return_exceptions=True)

    async def _check(self, upstream: Upstream) -> bool:
        self._checking.add(upstream.name)
        try:
            ok = await asyncio.wait_for(self._probe(upstream), timeout=max(0.2, self.health_interval_s))
        except (TimeoutError, OSError, ValueError):
            ok = False
        finally:
            self._checking.discard(upstream.name)
        if self.upstreams.get(upstream.name) is not upstream:
            return ok
        if ok:
            upstream.fails_in_row = 0
            first = not upstream.checked
            upstream.checked = True
            if not upstream.ready:
                upstream.ready = True
                self.events.record(EventType.POD_READY, pod=upstream.name, first=first)
                self.refresh()
        else:
            upstream.fails_in_row += 1
            if upstream.ready and (upstream.fails_in_row >= self.unhealthy_threshold or not upstream.checked):
                upstream.ready = False
                self.events.record(EventType.POD_NOT_READY, pod=upstream.name, reason="health_check")
                self.refresh()
        return ok

    async def _probe(self, upstream: Upstream) -> bool:
        reader, writer = await asyncio.open_connection(upstream.host, upstream.port)
        try:
            writer.write(b"GET /readyz HTTP/1.1\r\nHost: pod\r\nConnection: close\r\n\r\n")
            line = await reader.readline()
            return line.split(b" ", 2)[1] == b"200"
        finally:
            writer.close()

    async def _timeout_loop(self) -> None:
        # One sweep instead of a timer per request: cheaper on the hot path.
        while True:
            await asyncio.sleep(min(0.25, self.upstream_timeout_s / 4))
            limit = time.monotonic() - self.upstream_timeout_s
            for conn in [c for c in self.busy if c.started < limit]:
                conn.time_out()
            self.streaks.close_quiet()

