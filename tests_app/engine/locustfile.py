"""The LB Lab Locust plugin: the file passed to `locust -f`. Runs only in Locust's own
processes (never import it from Django or the launcher: gevent monkey-patches).

Config: the JSON file named by env `LBLAB_LOCUST_CONFIG` (tests_app/engine/config.py).
Output: one JSON line per second on the file descriptor in env `LBLAB_RESULTS_FD`
(default 1, stdout), written only by the master (or the single local process):

    {"type": "clock", "t0_unix": 1796537837.3}   first: time.time() at the run's t=0
    {"type": "sample", "t": 1.0, "users": 5, "requests": 812, ..., "pods": {...}, "unattributed": 0}
    ...
    {"type": "sample", "t": 5.0, ...}      last one: after the users stopped, in-flight requests finished
    {"type": "final", "duration_s": 5.0, "requests": ..., "pods": {...}, ...}

Every `t` is seconds since t=0, so `t0_unix + t` is the wall-clock time (the clock the
cluster's events are stamped with). t=0 is on a 100 ms boundary of the wall clock: every
process (workers too, on clocks kept in step) counts each response in the 100 ms bucket of its
completion time (`stats.bucket_key`) without being told when the run started, and the master
places those buckets in the run (`Aggregator`: each sample's `buckets`).

How a run goes (all of it in the shape greenlet, so Locust's own shutdown cannot race
the flush): `LBShape.tick()` is called once and drives the whole run: it starts users
as the shape asks, emits a sample at every whole second, and when the duration is
reached or SIGTERM arrived, stops the users gracefully (`--stop-timeout` lets
requests in flight finish), collects what is left (from the workers too: each sends
its remainder in an `lblab_final` message *before* Locust's `client_stopped`, and the
master's stop waits for those), emits the last sample and the final line, then
returns None so Locust quits.

Workers report per-pod counts and HDR histograms every second (WORKER_REPORT_INTERVAL
= 1 s) through `report_to_master`; the master merges them (`worker_report`). So that
each sample holds its own second, the master also asks every worker for its counts at
each whole second (`lblab_collect` -> `lblab_window`, waiting up to 0.5 s).

SIGTERM: Locust installs its own handler only after a headless shape run, so this file
installs one at `init` (and touches `LBLAB_ARMED_FILE` to tell the launcher); before
the shape starts it writes an empty last sample and final line and exits.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import time
from bisect import bisect_right
from itertools import accumulate

import gevent
import locust.runners
from gevent.event import Event
from gevent.queue import Empty, Queue
from locust import FastHttpUser, LoadTestShape, between, constant, events, task
from locust.clients import HttpSession
from locust.contrib.fasthttp import LocustUserAgent
from locust.runners import MasterRunner, WorkerRunner
from requests.exceptions import RequestException

from tests_app.engine import shapes
from tests_app.engine.attribution import CounterDeltas, header_value, query_prometheus, response_attributor
from tests_app.engine.config import CONFIG_ENV, load_config
from tests_app.engine.redirects import MAX_REDIRECTS, RedirectPolicy, RedirectRefused, checked_opener, redirected_method
from tests_app.engine.stats import (
    BUCKETS_PER_S,
    Aggregator,
    EndpointNames,
    PodNames,
    Window,
    bucket_key,
    dumps,
    failure_of,
    nothing_sent_lines,
)

PROCESSES_ENV = "LBLAB_LOCUST_PROCESSES"  # processes that run users (workers, or 1)
RESULTS_FD_ENV = "LBLAB_RESULTS_FD"
ARMED_ENV = "LBLAB_ARMED_FILE"  # touched once SIGTERM is handled gracefully
FINAL_MESSAGE = "lblab_final"
COLLECT_MESSAGE = "lblab_collect"  # master -> workers at each whole second: send your counts now
WINDOW_MESSAGE = "lblab_window"  # worker -> master: the counts, its users and connections
COLLECT_WAIT_S = 0.5
# Prometheus attribution: how long the last sample waits for a scrape that has seen the last
# requests (scrape intervals up to about this long are settled exactly), and how often it reads.
PROMETHEUS_SETTLE_S = 4.0
PROMETHEUS_POLL_S = 0.25

logger = logging.getLogger("lblab")

# Workers report to the master every second (Locust's default is 3 s).
locust.runners.WORKER_REPORT_INTERVAL = 1.0

CONFIG = load_config(os.environ[CONFIG_ENV])
PROCESSES = max(1, int(os.environ.get(PROCESSES_ENV, "1")))
ATTRIBUTE = response_attributor(CONFIG.attribution)
MIX = CONFIG.request_mix
MIX_CUMULATIVE = list(accumulate(r.weight for r in MIX))
ENDPOINTS = CONFIG.endpoints
# A user's own locustfile: its user classes send the load and every request Locust reports is
# counted (`on_user_request`), its endpoints learnt by name as they come.
USER_FILE = CONFIG.locustfile
ENDPOINT_NAMES = EndpointNames() if USER_FILE is not None else None
REQUEST_HEADERS = {} if CONFIG.keep_alive else {"Connection": "close"}
DROPPED = ("Dropped", None, "arrival dropped: the generator's backlog was full")
# Redirects: a 3xx is the response unless the target follows them, each hop checked first.
REDIRECTS = RedirectPolicy(CONFIG.host, CONFIG.allowed_hosts)
PROMETHEUS_OPENER = checked_opener(RedirectPolicy(CONFIG.attribution.url or CONFIG.host, CONFIG.allowed_hosts))

# The pod names this process keeps for the run (a target naming thousands is capped).
POD_NAMES = PodNames(CONFIG.expected_pods)
# What this process counted since its counts were last taken (a report, or a sample).
WINDOW = Window(len(ENDPOINTS), POD_NAMES, ENDPOINT_NAMES)
STOP = Event()  # SIGTERM: end the run now
STATE = {"started": False, "finished": False, "stopping_users": False, "socket_baseline": None}


def take_window() -> Window:
    global WINDOW
    window, WINDOW = WINDOW, Window(len(ENDPOINTS), POD_NAMES, ENDPOINT_NAMES)
    return window


def count_sockets() -> int:
    """Sockets this process holds open (the load's TCP connections, plus a few of Locust's)."""
    count = 0
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return 0
    for name in names:
        try:
            if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                count += 1
        except OSError:
            pass
    return count


def active_connections() -> int:
    baseline = STATE["socket_baseline"]
    if baseline is None:
        return 0
    return max(0, count_sockets() - baseline)


def _call(request) -> tuple[str, str, dict, int]:
    """What `client.request` gets for one entry of the mix (method, path, keyword arguments),
    and the number of the endpoint it is counted for."""
    kwargs = {"headers": REQUEST_HEADERS, "name": request.name or request.path, "allow_redirects": False}
    if isinstance(request.body, str):
        kwargs["data"] = request.body
    elif request.body is not None:
        kwargs["json"] = request.body
    return request.method, request.path, kwargs, ENDPOINTS.index(request.endpoint)


# Built once: send() runs for every request, and on a fast target each µs it spends is
# about 0.4 % of the generator's throughput (a request costs Locust ~250 µs of CPU).
CALLS = [] if USER_FILE is not None else [_call(request) for request in MIX]
MIX_TOTAL = MIX_CUMULATIVE[-1]


class RequestRefused(RequestException, ConnectionError):
    """A request of a user's own locustfile to an address LB Lab may not contact (an absolute URL
    elsewhere, or a redirect there): never sent, and reported to Locust as a failed request (both
    clients turn this class into an error response)."""

    def __init__(self, message: str):
        super().__init__(message)
        del self.response  # FastHttpUser's client takes an error that has a `response` for an answer


def refuse_elsewhere(url: str) -> None:
    """RequestRefused unless `url` is on the run's own origin or an allow-listed address."""
    problem = REDIRECTS.refusal(url)
    if problem:
        raise RequestRefused(f"request to {url[:120]} refused: {problem}")


def guard_user_file_clients() -> None:
    """Every request a user's own locustfile sends, each redirect hop its client follows included,
    is checked against the allow-list before it goes out: HttpUser's session sends every hop through
    `send`, FastHttpUser's agent through `_urlopen`."""
    session_send = HttpSession.send
    agent_urlopen = LocustUserAgent._urlopen

    def checked_send(self, request, **kwargs):
        refuse_elsewhere(request.url)
        return session_send(self, request, **kwargs)

    def checked_urlopen(self, request):
        refuse_elsewhere(str(request.url))
        return agent_urlopen(self, request)

    HttpSession.send = checked_send
    LocustUserAgent._urlopen = checked_urlopen


if USER_FILE is not None:
    guard_user_file_clients()


def on_user_request(request_type, name, response_time, response_length, response=None, context=None,
                    exception=None, **_kwargs) -> None:
    """One request of a user's own locustfile, as Locust reports it (`events.request`, fired when
    the answer, error or timeout came): counted with its pod (the response's headers or body, as
    the target attributes) under `"<method> <name>"`, failed when Locust says so (`exception`)."""
    pod = None
    status = 0
    try:
        status = int(getattr(response, "status_code", 0) or 0)
        headers = getattr(response, "headers", None)
        if headers is not None and (status or exception is None):
            pod = ATTRIBUTE(headers, lambda: response.content)
    except Exception:  # noqa: BLE001 - a strange response is an unattributed one, never a lost count
        pod = None
    endpoint = WINDOW.endpoint(f"{request_type} {name}")
    failed = exception is not None
    latency = None if response_time is None else max(0.0, float(response_time)) / 1000.0
    WINDOW.record(pod, latency, failed, endpoint)
    if failed:
        WINDOW.record_error(endpoint, *failure_of(status, exception), time.time())


def pick_call() -> tuple[str, str, dict, int]:
    if len(CALLS) == 1:
        return CALLS[0]
    return CALLS[bisect_right(MIX_CUMULATIVE, random.random() * MIX_TOTAL)]


def send(client, scheduled: float | None = None) -> None:
    """One request from the mix, counted with its pod. `scheduled`: the open model's
    intended start, so the latency includes the time it waited for a free slot."""
    method, path, kwargs, endpoint = pick_call()
    start = time.perf_counter()
    response = client.request(method, path, **kwargs)
    refused = None
    if CONFIG.follow_redirects:
        response, refused = follow(client, method, CONFIG.host + path, kwargs, response)
    latency = time.perf_counter() - (start if scheduled is None else scheduled)
    pod = None
    try:
        status = response.status_code or 0
        error = refused or getattr(response, "error", None)
        failed = status == 0 or status >= 400 or error is not None
        headers = response.headers
        if headers is not None:
            pod = ATTRIBUTE(headers, lambda: response.content)
    except Exception as strange:  # noqa: BLE001 - a strange response is an unattributed failure, never a lost count
        status, error, failed = 0, strange, True
    WINDOW.record(pod, latency, failed, endpoint)
    if failed:
        WINDOW.record_error(endpoint, *failure_of(status, error), time.time())


def follow(client, method: str, url: str, kwargs: dict, response):
    """The answer at the end of the redirects a target sends, each `Location` checked before it is
    contacted (redirects.py), and the refusal that stopped it there, if any."""
    for _ in range(MAX_REDIRECTS):
        try:
            hop = REDIRECTS.next_hop(url, response.status_code or 0, header_value(response.headers, "location"))
        except RedirectRefused as refused:
            return response, refused
        if hop is None:
            break
        method = redirected_method(method, response.status_code)
        if method == "GET":  # 301/302 of a POST, and 303: the body is not sent again
            kwargs = {key: value for key, value in kwargs.items() if key not in ("data", "json")}
        response = client.request(method, hop, **kwargs)
        url = hop
    return response, None


def _wait_time():
    low, high = CONFIG.think_time_ms
    if high <= 0:
        return constant(0)
    return between(low / 1000.0, high / 1000.0)


class ClosingUser(FastHttpUser):
    """A user whose connections end with it: a user stopped by the shape (a spike's end) or at
    the end of the run closes its keep-alive sockets, so active connections follow the users
    instead of staying at their peak until the process exits."""

    abstract = True

    def on_stop(self):
        self.client.client.close()


class LBUser(ClosingUser):
    """Closed model: each user sends a request, waits for it, thinks, and again."""

    abstract = CONFIG.open_model or USER_FILE is not None
    host = CONFIG.host
    wait_time = _wait_time()
    network_timeout = CONFIG.timeout_s
    connection_timeout = CONFIG.timeout_s

    @task
    def hit(self):
        send(self.client)


# Open model: arrivals at a fixed Poisson rate, each taken by a free user (users = max
# concurrency). A backlog beyond this many arrivals is dropped and counted as failures.
ARRIVALS: Queue = Queue()
BACKLOG_CAP = max(1000, int(10 * (CONFIG.arrival_rate or 0) / PROCESSES))
ARRIVAL_STATE = {"greenlet": None, "stop": False}


def generate_arrivals(rate: float) -> None:
    next_at = time.perf_counter()
    while not ARRIVAL_STATE["stop"]:
        next_at += random.expovariate(rate)
        delay = next_at - time.perf_counter()
        if delay > 0:
            gevent.sleep(delay)
        if ARRIVAL_STATE["stop"]:
            return
        if ARRIVALS.qsize() >= BACKLOG_CAP:
            endpoint = pick_call()[3]  # the one it would have gone to: endpoints still add up to the total
            WINDOW.record(None, None, True, endpoint)
            WINDOW.record_error(endpoint, *DROPPED, time.time())
            continue
        ARRIVALS.put_nowait(next_at)


class LBOpenUser(ClosingUser):
    """Open model: takes the next arrival; never sends on its own schedule."""

    abstract = not CONFIG.open_model or USER_FILE is not None
    host = CONFIG.host
    wait_time = constant(0)
    network_timeout = CONFIG.timeout_s
    connection_timeout = CONFIG.timeout_s

    def on_start(self):
        if ARRIVAL_STATE["greenlet"] is None and not ARRIVAL_STATE["stop"]:
            ARRIVAL_STATE["greenlet"] = gevent.spawn(generate_arrivals, CONFIG.arrival_rate / PROCESSES)

    @task
    def hit(self):
        try:
            scheduled = ARRIVALS.get(timeout=0.2)
        except Empty:
            return  # lets a stopping user notice it should stop
        send(self.client, scheduled)


def _stop_arrivals(**_kwargs) -> None:
    ARRIVAL_STATE["stop"] = True
    while True:
        try:
            ARRIVALS.get_nowait()
        except Empty:
            break


# Output (master / local process only).
def emit(line: dict) -> None:
    data = dumps(line)
    fd = int(os.environ.get(RESULTS_FD_ENV, "1"))
    while data:
        written = os.write(fd, data)
        data = data[written:]


class Driver:
    """Runs the shape, the per-second samples and the final flush (master or local)."""

    def __init__(self, environment):
        self.environment = environment
        self.prometheus = CONFIG.attribution.method == "prometheus"
        self.aggregator = Aggregator(CONFIG.expected_pods, endpoints=ENDPOINT_NAMES or ENDPOINTS,
                                     counted_by_counters=self.prometheus, pod_names=POD_NAMES)
        self.user_shape = self.find_user_shape()
        self.deltas: CounterDeltas | None = None
        self.worker_sockets: dict[str, int] = {}
        self.worker_users: dict[str, int] = {}
        self.finals: set[str] = set()
        self.seq = 0
        self.replies: set[str] = set()
        self._warned = False

    def find_user_shape(self) -> LoadTestShape | None:
        """The `LoadTestShape` of the user's own locustfile, if it has one: it drives the users
        instead of the scenario's shape (the scenario's duration still ends the run at the latest)."""
        if USER_FILE is None or USER_FILE.shape is None:
            return None
        shapes_found = getattr(self.environment, "available_shape_classes", None) or {}
        shape = shapes_found.get(USER_FILE.shape)
        if shape is None:
            raise RuntimeError(f"the locustfile's shape {USER_FILE.shape} was not loaded")
        shape.runner = self.environment.runner
        return shape

    def goal(self, now: float):
        """(users, spawn rate[, user classes]) the run should have now; None: the user's shape ended it."""
        if self.user_shape is None:
            return shapes.target(CONFIG.shape, now)
        return self.user_shape.tick()

    # Workers' data, merged in the master.
    def on_worker_report(self, client_id, data):
        if "lblab" in data:
            WINDOW.merge_wire(data["lblab"])
            self.worker_sockets[client_id] = int(data.get("lblab_sockets", 0))

    def on_window_message(self, environment, msg, **_kwargs):
        WINDOW.merge_wire(msg.data["window"])
        self.worker_sockets[msg.node_id] = int(msg.data.get("sockets", 0))
        self.worker_users[msg.node_id] = int(msg.data.get("users", 0))
        if msg.data.get("seq") == self.seq:
            self.replies.add(msg.node_id)

    def start_users(self, users: int, spawn_rate: float, user_classes=None) -> None:
        """Locust's runner.start; a user's shape may name the user classes to run."""
        if user_classes is None:
            self.environment.runner.start(users, spawn_rate)
        else:
            self.environment.runner.start(users, spawn_rate, user_classes=user_classes)

    def collect(self) -> int:
        """Master: have every worker send its counts now, so each second's sample holds that
        second's requests (the 1 s periodic reports alone lag by up to a second). Returns users."""
        runner = self.environment.runner
        if not isinstance(runner, MasterRunner):
            return runner.user_count
        self.seq += 1
        self.replies = set()
        expected = runner.worker_count
        runner.send_message(COLLECT_MESSAGE, {"seq": self.seq})
        deadline = time.perf_counter() + COLLECT_WAIT_S
        while len(self.replies) < expected and time.perf_counter() < deadline:
            gevent.sleep(0.002)
        return sum(self.worker_users.values()) if self.worker_users else runner.user_count

    def on_final_message(self, environment, msg, **_kwargs):
        WINDOW.merge_wire(msg.data["window"])
        self.worker_sockets[msg.node_id] = 0
        self.finals.add(msg.node_id)

    def read_counters(self) -> dict[str, float] | None:
        try:
            return query_prometheus(CONFIG.attribution.url, CONFIG.attribution.query,
                                    timeout=min(2.0, CONFIG.timeout_s), opener=PROMETHEUS_OPENER)
        except Exception as exc:  # noqa: BLE001 - a missed reading is carried into the next window
            if not self._warned:
                logger.warning("prometheus query failed: %s", exc)
                self._warned = True
            return None

    def connections(self) -> int:
        if isinstance(self.environment.runner, MasterRunner):
            return sum(self.worker_sockets.values())
        return active_connections()

    def sample(self, t: float, users: int, *, last: bool = False) -> dict:
        window = take_window()
        if self.prometheus:
            reading = self.settled_counters(window) if last else self.read_counters()
            window.pod_counts = self.deltas.update(reading)
        return self.aggregator.sample(window, t=t, users=users, active_connections=self.connections(), last=last)

    def settled_counters(self, window: Window) -> dict[str, float] | None:
        """The counters once Prometheus has scraped the pods after the last request: a real one
        scrapes every few seconds, so read again until the counters account for every request the
        users made, for at most PROMETHEUS_SETTLE_S (what is still missing then is unattributed)."""
        made = self.aggregator.requests + window.requests
        counted = self.aggregator.counter_pod_total
        deadline = time.perf_counter() + PROMETHEUS_SETTLE_S
        while True:
            reading = self.read_counters()
            if reading is not None:
                grown = sum(CounterDeltas(self.deltas.baseline).update(reading).values())
                if counted + grown >= made or time.perf_counter() >= deadline:
                    return reading
            elif time.perf_counter() >= deadline:
                return None
            gevent.sleep(PROMETHEUS_POLL_S)

    def run(self) -> None:
        """The whole run; returns when the final line is out."""
        runner = self.environment.runner
        shape = CONFIG.shape
        if self.prometheus:
            self.deltas = CounterDeltas(self.read_counters())
        STATE["socket_baseline"] = count_sockets()
        t0_unix, t0 = start_clock()
        self.aggregator.epoch = t0_unix  # buckets and errors' first and last seen are counted from here
        emit({"type": "clock", "t0_unix": t0_unix})
        if self.user_shape is not None:
            self.user_shape.reset_time()
        starter = None
        last_target = None
        next_sample = 1.0
        reason = "duration"
        try:
            while True:
                now = time.perf_counter() - t0
                if STOP.is_set():
                    reason = "stopped"
                    break
                if now >= shape.duration_s:
                    break
                if now >= next_sample:
                    users = self.collect()
                    emit(self.sample(next_sample, users))
                    next_sample += 1.0
                    continue
                goal = self.goal(now)
                if goal is None and self.user_shape is not None:
                    break  # the user's shape says the run is over
                if goal is not None and goal != last_target and (goal[0] > 0 or last_target is not None):
                    if starter is not None:
                        starter.kill(block=True)
                    starter = gevent.spawn(self.start_users, *goal)
                    last_target = goal
                wake = min(next_sample, shape.duration_s, now + 0.2)
                STOP.wait(max(0.0, wake - (time.perf_counter() - t0)))
            elapsed = round(time.perf_counter() - t0, 3)
            end = shape.duration_s if reason == "duration" and self.user_shape is None else elapsed
            if reason == "duration":
                end = min(end, shape.duration_s)
            # The last sample covers the rest; it never shares its t with the one before it.
            end = max(end, round(self.aggregator.last_t + 0.001, 3))
            users = self.collect()
            if starter is not None:
                starter.kill(block=True)
            # Stop users gracefully: requests in flight finish (--stop-timeout) and are counted.
            runner.stop()
            if isinstance(runner, MasterRunner):
                # Each worker's remainder arrives before its client_stopped; be safe anyway.
                deadline = time.perf_counter() + 2.0
                while runner.clients.all and len(self.finals) < len(self.worker_sockets) \
                        and time.perf_counter() < deadline:
                    gevent.sleep(0.05)
            emit(self.sample(end, users, last=True))
            emit(self.aggregator.final(duration_s=end, reason=reason))
        except Exception as exc:
            logger.exception("lblab driver failed")
            emit({"type": "error", "message": f"load driver failed: {exc!r}"})
        finally:
            STATE["finished"] = True


def start_clock() -> tuple[float, float]:
    """The run's t=0: the next 100 ms boundary of the wall clock (time.time(), which the workers
    and the cluster's events read too), waited for (under 0.1 s before any user starts).
    Returns (t0_unix, the perf_counter() reading at that instant), so seconds are timed with the
    monotonic clock and still land on the wall clock as t0_unix + t."""
    t0_key = bucket_key(time.time()) + 1
    t0_unix = t0_key / BUCKETS_PER_S
    gevent.sleep(max(0.0, t0_unix - time.time()))
    # perf_counter at the boundary: now, less how far past it the sleep woke
    return t0_unix, time.perf_counter() - (time.time() - t0_unix)


DRIVER: Driver | None = None


class LBShape(LoadTestShape):
    """Drives the whole run from its first tick (see the module docstring)."""

    def tick(self):
        if STATE["finished"] or DRIVER is None:
            return None
        if not STATE["started"]:
            STATE["started"] = True
            DRIVER.run()
        return None


def _on_sigterm() -> None:
    STOP.set()
    if not STATE["started"]:
        # Still waiting for workers: nothing ran, say so and leave (the launcher kills the workers).
        STATE["started"] = STATE["finished"] = True
        emit({"type": "clock", "t0_unix": time.time()})
        for line in nothing_sent_lines(CONFIG.expected_pods, ENDPOINTS):
            emit(line)
        os._exit(0)


@events.init.add_listener
def on_init(environment, **_kwargs):
    global DRIVER
    runner = environment.runner
    if USER_FILE is not None and not isinstance(runner, MasterRunner):
        environment.events.request.add_listener(on_user_request)  # the processes that run users
    environment.events.test_stopping.add_listener(_stop_arrivals)
    if isinstance(runner, WorkerRunner):
        STATE["socket_baseline"] = count_sockets()  # connected to the master already, no users yet

        def on_report(client_id, data):
            data["lblab"] = take_window().to_wire()
            data["lblab_sockets"] = active_connections()

        def on_collect(environment, msg, **_kw):
            runner.send_message(WINDOW_MESSAGE, {"seq": msg.data["seq"], "window": take_window().to_wire(),
                                                 "sockets": active_connections(), "users": runner.user_count})

        def on_worker_stop(environment, **_kw):
            # Users have stopped (gracefully): ship the remainder before Locust's client_stopped.
            runner.send_message(FINAL_MESSAGE, {"window": take_window().to_wire()})

        environment.events.report_to_master.add_listener(on_report)
        environment.events.test_stop.add_listener(on_worker_stop)
        runner.register_message(COLLECT_MESSAGE, on_collect)
        return
    DRIVER = Driver(environment)
    if isinstance(runner, MasterRunner):
        environment.events.worker_report.add_listener(DRIVER.on_worker_report)
        runner.register_message(FINAL_MESSAGE, DRIVER.on_final_message)
        runner.register_message(WINDOW_MESSAGE, DRIVER.on_window_message)
    # Locust installs its own SIGTERM handler only after a headless shape run ends, so
    # until then this one makes SIGTERM a graceful stop with the last sample and final line.
    gevent.signal_handler(signal.SIGTERM, _on_sigterm)
    armed = os.environ.get(ARMED_ENV)
    if armed:
        # Tells the launcher SIGTERM is handled now (before, it kills: nothing was sent yet).
        with open(armed, "w"):
            pass
