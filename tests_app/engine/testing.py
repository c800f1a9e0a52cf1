"""Helpers for the engine's tests and benchmarks: run to the end, sum lines, a fake Prometheus.

Django-free, Locust-free (it drives `LocustProcess`).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests_app.engine.launcher import LocustProcess


@dataclass
class RunResult:
    lines: list[dict] = field(default_factory=list)
    returncode: int | None = None
    log: str = ""

    @property
    def samples(self) -> list[dict]:
        return [line for line in self.lines if line["type"] == "sample"]

    @property
    def final(self) -> dict | None:
        return next((line for line in self.lines if line["type"] == "final"), None)

    @property
    def errors(self) -> list[dict]:
        return [line for line in self.lines if line["type"] == "error"]


def run_to_end(config: dict, *, workers: int = 1, timeout: float = 90.0, wait_exit: bool = False,
               on_line: Callable[[LocustProcess, dict], None] | None = None, worker_pods=None) -> RunResult:
    """Start a run, collect every line until `final` or `error`; with `wait_exit`, let Locust
    exit by itself (its own shutdown takes a second or two) before the processes are killed.
    `worker_pods`: LocustProcess's, the workers as a Kubernetes Job's pods."""
    result = RunResult()
    with LocustProcess(config, workers=workers, worker_pods=worker_pods) as run:
        run.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in run.poll(0.5):
                result.lines.append(line)
                if on_line is not None:
                    on_line(run, line)
            if any(line["type"] in ("final", "error") for line in result.lines):
                break
        end = time.monotonic() + (15 if wait_exit else 0)
        while not run.exited and time.monotonic() < end:
            time.sleep(0.05)
        result.returncode = run.returncode
        result.log = run.log_tail(40)
    return result


def sum_samples(samples: list[dict]) -> dict:
    """What the samples add up to, in the final line's terms."""
    pods: dict[str, dict[str, int]] = {}
    for sample in samples:
        for name, pod in sample["pods"].items():
            total = pods.setdefault(name, {"requests": 0, "failures": 0})
            total["requests"] += pod["requests"]
            total["failures"] += pod["failures"]
    return {
        "requests": sum(s["requests"] for s in samples),
        "failures": sum(s["failures"] for s in samples),
        "unattributed": sum(s["unattributed"] for s in samples),
        "pods": pods,
    }


def pod_requests(cluster) -> dict[str, int]:
    """Each pod's own request counter (its /metrics; health checks are not counted)."""
    return {name: metrics.requests for name, metrics in cluster.pod_metrics().items()}


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before.get(name, 0) for name in after}


def scrape_requests(address: str) -> float | None:
    """`lblab_pod_requests_total` from a pod's Prometheus text at http://<address>/metrics."""
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=2) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith("lblab_pod_requests_total{"):
                return float(line.rsplit(" ", 1)[1])
    return None


class QuietHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # tests read results, not access logs
        pass


class LoopbackHTTPServer:
    """A threaded HTTP server with `handler` on 127.0.0.1, port picked by the kernel; `url`
    is its base URL. A context manager: leaving it stops the server."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class FakePrometheus(LoopbackHTTPServer):
    """A loopback Prometheus HTTP API answering every instant query with the pods' current
    `lblab_pod_requests_total`, scraped live from their own /metrics. `pods()` gives
    [(name, "host:port")]."""

    def __init__(self, pods: Callable[[], list[tuple[str, str]]]):
        self.queries: list[str] = []
        fake = self

        class Handler(QuietHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                parts = urlsplit(self.path)
                if parts.path != "/api/v1/query":
                    self.send_error(404)
                    return
                fake.queries.append(parse_qs(parts.query).get("query", [""])[0])
                result = []
                for name, address in pods():
                    value = scrape_requests(address)
                    if value is not None:
                        result.append({"metric": {"__name__": "lblab_pod_requests_total", "pod": name},
                                       "value": [time.time(), repr(value)]})
                body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(Handler)


def base_config(host: str, *, users: int = 4, duration_s: float = 3, spawn_rate: float = 50, **overrides) -> dict:
    """A short steady run against `host`; any config key can be overridden."""
    config = {
        "host": host,
        "shape": {"kind": "steady", "users": users, "spawn_rate": spawn_rate, "duration_s": duration_s},
        "arrival_rate": None, "request_mix": [], "think_time_ms": [0, 0], "keep_alive": True,
        "attribution": {"method": "header", "header": "X-Pod"}, "expected_pods": [], "timeout_s": 5.0,
    }
    config.update(overrides)
    return config


class PodEchoServer(LoopbackHTTPServer):
    """A loopback HTTP/1.1 server that answers each request as the next pod of `pods`
    (cycling) in header `header` spelled exactly as given (e.g. HAProxy's lower case; None: in the
    JSON body only), and in the body's `hostname`; a None pod answers without the header.
    `served` counts answers per pod (None too).
    `failing` maps a path to the error status every request to it is answered with (by its
    pod all the same, as a broken endpoint behind a balancer would be)."""

    def __init__(self, pods: list[str | None], *, header: str | None = "x-pod", failing: dict[str, int] | None = None):
        failing = dict(failing or {})
        self.served: dict[str | None, int] = {}
        self.requests: dict[tuple[str, str], int] = {}  # (method, path) -> count
        self.bodies: list[bytes] = []  # the first few request bodies
        lock = threading.Lock()
        state = {"i": 0}
        echo = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # head and body go in separate writes: no 40 ms delayed-ACK stalls

            def do_POST(self):  # noqa: N802 - http.server's name
                self.do_GET()

            def do_GET(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                payload = self.rfile.read(length) if length else b""
                with lock:
                    pod = pods[state["i"] % len(pods)]
                    state["i"] += 1
                    echo.served[pod] = echo.served.get(pod, 0) + 1
                    key = (self.command, self.path)
                    echo.requests[key] = echo.requests.get(key, 0) + 1
                    if payload and len(echo.bodies) < 10:
                        echo.bodies.append(payload)
                body = json.dumps({"hostname": pod}).encode()
                self.send_response(failing.get(self.path, 200))
                if pod is not None and header is not None:
                    self.send_header(header, pod)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(Handler)


class RedirectServer(LoopbackHTTPServer):
    """A loopback HTTP/1.1 server that answers every request with `status` and `Location:
    location` + the request's path (a target sending the load elsewhere); `requests` counts them."""

    def __init__(self, location: str, *, status: int = 302):
        self.requests = 0
        lock = threading.Lock()
        redirect = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 - http.server's name
                self.do_GET()

            def do_GET(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                with lock:
                    redirect.requests += 1
                self.send_response(status)
                self.send_header("Location", location + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()

        super().__init__(Handler)
