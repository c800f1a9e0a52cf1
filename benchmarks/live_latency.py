"""How long from a second's commit to its arrival in a browser's WebSocket, pushed or tailed?

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lblab_bench REDIS_URL=redis://127.0.0.1:6379/3 \\
        .venv/bin/python benchmarks/live_latency.py [--seconds 20] [--pods 8]

For each mode, starts daphne on a free port with the project's ASGI app (its own process group,
stopped by group, gone with this script even if it dies), logs a client in (a session cookie)
and opens `/ws/runs/<id>/`, then writes seconds from this process as the run driver does (one
transaction, then the LiveSeries messages published to the run's group) about once a second,
with jitter so the tail loop's 0.5 s phase varies, and measures each second's time from its
commit to its `sample` message's arrival:

- push: daphne and this process share channels_redis (REDIS_URL); skipped without REDIS_URL;
- tail: daphne without REDIS_URL (the in-memory layer), so the consumer reads the database.

The database is the one DATABASE_URL names (required: never the development SQLite file);
it is migrated first, and the user, runs and rows made here are deleted at the end. The
WebSocket client is simple-websocket (installed with Locust's python-engineio; nothing extra).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lbsite.settings")
if not os.environ.get("DATABASE_URL"):
    sys.exit("live_latency: set DATABASE_URL to a database of its own (it writes and deletes a run there)")

import django  # noqa: E402

django.setup()

import simple_websocket  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.sessions.models import Session  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

from clusters import procs  # noqa: E402
from metrics_app.services import record_second  # noqa: E402
from tests_app.execution import SecondsFeed  # noqa: E402
from tests_app.models import LoadTestRun, Scenario, Target  # noqa: E402

START_TIMEOUT_S = 60.0
ARRIVAL_TIMEOUT_S = 10.0
IN_MEMORY = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Daphne:
    """daphne serving lbsite.asgi on a free port, in its own process group (procs.start)."""

    def __init__(self, env: dict[str, str]):
        self.port = free_port()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - open as long as daphne runs; closed in stop()
        self.process = procs.start(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "lbsite.asgi:application"],
            cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited with {self.process.returncode}: {self.output()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1.0):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"daphne did not listen within {START_TIMEOUT_S:g} s: {self.output()}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-2000:]

    def stop(self) -> None:
        procs.stop(self.process, grace_s=10)  # the group daphne leads
        self.log.close()


class Listener:
    """A WebSocket client on a run's live stream; notes when each sample arrives."""

    def __init__(self, url: str, cookie: str, origin: str):
        self.ws = simple_websocket.Client.connect(url, headers={"Cookie": cookie, "Origin": origin})
        self.arrivals: dict[float, float] = {}
        self.opened = threading.Event()
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            while True:
                text = self.ws.receive()
                arrived = time.perf_counter()
                message = json.loads(text)
                if message["type"] == "events":
                    self.opened.set()  # status, then events: the backlog (empty) and live follow
                elif message["type"] == "sample":
                    self.arrivals[message["t"]] = arrived
        except simple_websocket.ConnectionClosed:
            pass
        except BaseException as error:  # reported by the main thread
            self.failure = error
        finally:
            self.opened.set()

    def close(self) -> None:
        self.ws.close()
        self.thread.join(timeout=5)


def write_second(feed: SecondsFeed, t: float, pods: list[str]) -> float:
    """One second through the run driver's own path (its live messages from the run's LiveSeries,
    then `record_second`); returns when it committed, before it was published."""
    line = {"type": "sample", "t": t, "users": len(pods) * 4, "requests": 40 * len(pods), "failures": 0,
            "rps": 40.0 * len(pods), "failures_per_s": 0.0, "p50_ms": 1.0, "p95_ms": 3.0, "p99_ms": 5.0,
            "max_ms": 9.0, "active_connections": len(pods) * 4,
            "pods": {pod: {"requests": 40, "failures": 0, "p95_ms": 3.0} for pod in pods}, "unattributed": 0}
    second = feed.next(line)
    committed: list[float] = []
    with transaction.atomic():
        transaction.on_commit(lambda: committed.append(time.perf_counter()))  # runs before the publish's own
        record_second(run_id=feed.run.pk, t=second.t, totals=second.totals, pods=second.pods,
                      unattributed=second.unattributed, messages=second.messages)
    return committed[0]


def measure(mode: str, *, user, target: Target, cookie: str, seconds: int, pods: int, rng: random.Random,
            daphne_env: dict[str, str]) -> list[float]:
    """Latencies (ms) of `seconds` seconds through a daphne started with `daphne_env`."""
    scenario = Scenario(name=f"live latency {mode}", duration_s=seconds + 2)
    run = LoadTestRun.objects.create(owner=user, target=target, scenario_config=scenario.frozen(),
                                     status=LoadTestRun.Status.RUNNING)
    pod_names = [f"pod-{i}-bench" for i in range(pods)]
    feed = SecondsFeed(run, None)
    daphne = Daphne(daphne_env)
    listener = None
    try:
        origin = f"http://127.0.0.1:{daphne.port}"
        listener = Listener(f"ws://127.0.0.1:{daphne.port}/ws/runs/{run.pk}/", cookie, origin)
        if not listener.opened.wait(START_TIMEOUT_S) or listener.failure:
            raise RuntimeError(f"{mode}: the stream did not open ({listener.failure}): {daphne.output()}")
        committed: dict[float, float] = {}
        for index in range(seconds + 1):  # second 0 warms up the path (connections, imports) and is not counted
            t = float(index)
            committed[t] = write_second(feed, t, pod_names)
            time.sleep(rng.uniform(0.7, 1.3))
        deadline = time.monotonic() + ARRIVAL_TIMEOUT_S
        while len(listener.arrivals) < len(committed) and time.monotonic() < deadline:
            time.sleep(0.05)
        missing = sorted(set(committed) - set(listener.arrivals))
        if missing:
            raise RuntimeError(f"{mode}: seconds {missing} never arrived: {daphne.output()}")
        return [(listener.arrivals[t] - committed[t]) * 1000 for t in sorted(committed) if t > 0]
    finally:
        if listener is not None:
            listener.close()
        daphne.stop()
        run.delete()


def describe(latencies_ms: list[float]) -> str:
    ordered = sorted(latencies_ms)
    p95 = ordered[math.ceil(len(ordered) * 0.95) - 1]  # nearest rank
    return f"mean {statistics.mean(ordered):7.1f} ms, p95 {p95:7.1f} ms, max {ordered[-1]:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20, help="seconds measured per mode (default 20)")
    parser.add_argument("--pods", type=int, default=8, help="pods per second (default 8)")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    rng = random.Random(7)
    user, _ = get_user_model().objects.get_or_create(username="lblab-live-latency-benchmark")
    target, _ = Target.objects.get_or_create(owner=user, name="live latency benchmark", defaults={"pods": args.pods})
    client = Client()
    client.force_login(user)
    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    cookie = f"{settings.SESSION_COOKIE_NAME}={session_key}"
    base_env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    results: dict[str, list[float]] = {}
    try:
        if settings.REDIS_URL:
            results["push"] = measure("push", user=user, target=target, cookie=cookie, seconds=args.seconds,
                                      pods=args.pods, rng=rng, daphne_env=base_env)
        else:
            print("push: skipped (set REDIS_URL to measure channels_redis)")
        tail_env = {key: value for key, value in base_env.items() if key != "REDIS_URL"}
        with override_settings(CHANNEL_LAYERS=IN_MEMORY):  # this process publishes nothing, as a worker would not
            results["tail"] = measure("tail", user=user, target=target, cookie=cookie, seconds=args.seconds,
                                      pods=args.pods, rng=rng, daphne_env=tail_env)
    finally:
        Session.objects.filter(session_key=session_key).delete()
        LoadTestRun.objects.filter(owner=user).delete()
        target.delete()
        user.delete()
    print(f"{connection.vendor}: {args.seconds} seconds x {args.pods} pods per mode, commit -> WebSocket message")
    labels = {"push": "push (channels_redis)", "tail": "tail (database every 0.5 s)"}
    for mode, latencies in results.items():
        print(f"  {labels[mode]:28} {describe(latencies)}")
    if len(results) == 2:
        print(f"  tail / push mean latency: {statistics.mean(results['tail']) / statistics.mean(results['push']):.1f}x")


if __name__ == "__main__":
    main()
