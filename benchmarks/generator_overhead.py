"""Overhead of the LB Lab Locust plugin against raw Locust, and 1 vs 2 workers, in one run.

    .venv/bin/python benchmarks/generator_overhead.py [--pods 4] [--users 32] [--duration 8] [--rounds 4]

Starts a sandbox (N pods, instant service time, large capacity) and nginx in front of
the pods (Debian package, installed with apt-get if missing; one worker process, keep-
alive to the pods; its config in a temp dir, loopback only). Then, alternating rounds
so drift on the machine hits all alike, for the same users and duration:

- raw:      plain Locust, a FastHttpUser doing GET / with no wait (`locust --headless -u U -t D`);
- plugin:   `LocustProcess` (tests_app/engine) with the same users, header attribution, 1 process;
- plugin2:  the same with `workers=2` (a master and two workers).

Throughput is what the pods themselves counted (their /metrics, sampled every 0.2 s),
over the middle 60 % of the time they were receiving load: the same measure for all
three, blind to start-up and shutdown. Prints each round, the medians, and the
ratios plugin / raw (goal >= 0.90) and plugin2 / plugin, and the generator's CPU time
per request (raw / plugin: the overhead without the noise of other jobs). Every process started here
runs in its own process group with a parent-death signal and is stopped by group.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from sandbox_vs_nginx import Nginx, ensure_installed  # noqa: E402

from clusters.sandbox import SandboxCluster, SandboxConfig, ServiceTime  # noqa: E402
from tests_app.engine.launcher import LocustProcess, die_with_parent_preexec  # noqa: E402
from tests_app.engine.testing import base_config  # noqa: E402

RAW_LOCUSTFILE = """
from locust import FastHttpUser, constant, task


class Raw(FastHttpUser):
    wait_time = constant(0)

    @task
    def hit(self):
        self.client.get("/")
"""


def served(cluster) -> int:
    return sum(m.requests for m in cluster.pod_metrics().values())


class Throughput:
    """Samples a request counter, and the CPU time of the generator's processes, every
    0.2 s while a run goes. `rate()` is requests/s and `cpu_us()` generator CPU µs per
    request, both over the middle 60 % of the time the counter was moving, so start-up,
    ramp-up and shutdown (which differ between raw Locust and the launcher) weigh on
    neither. CPU per request is far less sensitive than throughput to other jobs on the
    machine: on a shared 2-core box it is the steadier overhead figure."""

    def __init__(self, counter):
        self.counter = counter
        self.pids: list[int] = []
        self._cpu: dict[int, float] = {}
        self.points: list[tuple[float, int, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _cpu_total(self) -> float:
        for pid in self.pids:
            try:
                times = psutil.Process(pid).cpu_times()
                self._cpu[pid] = times.user + times.system
            except psutil.Error:
                pass  # exited: keep its last reading
        return sum(self._cpu.values())

    def _run(self):
        while not self._stop.is_set():
            self.points.append((time.monotonic(), self.counter(), self._cpu_total()))
            self._stop.wait(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.points.append((time.monotonic(), self.counter(), self._cpu_total()))

    def total(self) -> int:
        return self.points[-1][1] - self.points[0][1]

    def _window(self):
        moving = [i for i in range(1, len(self.points)) if self.points[i][1] > self.points[i - 1][1]]
        if len(moving) < 3:
            return None
        start, end = self.points[moving[0] - 1][0], self.points[moving[-1]][0]
        lo, hi = start + 0.2 * (end - start), start + 0.8 * (end - start)
        inside = [p for p in self.points if lo <= p[0] <= hi]
        return (inside[0], inside[-1]) if len(inside) >= 2 else None

    def rate(self) -> float:
        window = self._window()
        if window is None:
            return 0.0
        (t0, c0, _), (t1, c1, _) = window
        return (c1 - c0) / (t1 - t0)

    def cpu_us(self) -> float:
        window = self._window()
        if window is None:
            return float("nan")
        (_, c0, u0), (_, c1, u1) = window
        return (u1 - u0) / max(1, c1 - c0) * 1e6


def run_raw(url: str, users: int, duration: float, workdir: Path, meter: Throughput) -> None:
    locustfile = workdir / "raw_locustfile.py"
    locustfile.write_text(RAW_LOCUSTFILE)
    cmd = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", str(users), "-r", str(users),
           "-t", f"{duration:g}s", "--host", url, "--only-summary", "--stop-timeout", "2", "--exit-code-on-error", "0"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    with open(workdir / "raw.log", "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd=workdir, env=env,
                                process_group=0, preexec_fn=die_with_parent_preexec(os.getpid()))
    meter.pids = [proc.pid]
    try:
        proc.wait(duration + 60)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def run_plugin(url: str, users: int, duration: float, workers: int, meter: Throughput) -> dict:
    config = base_config(url, users=users, spawn_rate=users, duration_s=duration, timeout_s=10.0)
    with LocustProcess(config, workers=workers) as run:
        run.start()
        meter.pids = run.pids
        deadline = time.monotonic() + duration + 90
        while time.monotonic() < deadline:
            for line in run.poll(0.5):
                if line["type"] == "error":
                    sys.exit(f"plugin run failed: {line['message']}")
                if line["type"] == "final":
                    return line
        sys.exit(f"plugin run did not finish; log:\n{run.log_tail(20)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=4)
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()

    nginx_bin = ensure_installed("nginx", "nginx")
    config = SandboxConfig(pods=args.pods, algorithm="round_robin", capacity=1000,
                           service_time=ServiceTime(distribution="fixed", mean_ms=0.0))
    results: dict[str, list[float]] = {"raw": [], "plugin": [], "plugin2": []}
    cpu: dict[str, list[float]] = {name: [] for name in results}
    workdir = Path(tempfile.mkdtemp(prefix="lblab-overhead-"))
    with SandboxCluster(config) as cluster:
        nginx = Nginx(nginx_bin, [p.address for p in cluster.pods()], "1")
        try:
            print(f"{args.pods} pods behind nginx (1 worker), {args.users} users, {args.duration:g} s per run, "
                  f"{args.rounds} alternating rounds, cores: {os.cpu_count()}", flush=True)
            for round_ in range(args.rounds):
                for name in results:
                    with Throughput(lambda: served(cluster)) as meter:
                        if name == "raw":
                            run_raw(nginx.url, args.users, args.duration, workdir, meter)
                            note = ""
                        else:
                            final = run_plugin(nginx.url, args.users, args.duration, 2 if name == "plugin2" else 1,
                                               meter)
                            attributed = sum(p["requests"] for p in final["pods"].values())
                            note = f"  (final line: {final['requests']} requests, {attributed} attributed)"
                    rps = meter.rate()
                    results[name].append(rps)
                    cpu[name].append(meter.cpu_us())
                    print(f"  round {round_ + 1}  {name:<8} {rps:>9.0f} req/s  {cpu[name][-1]:>6.0f} µs CPU/req  "
                          f"({meter.total()} served){note}", flush=True)
        finally:
            nginx.stop()
    medians = {name: statistics.median(values) for name, values in results.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpu.items()}
    print()
    for name, value in medians.items():
        print(f"{name:<8} {value:>9.0f} req/s  {cpu_medians[name]:>6.0f} µs CPU/req (medians)")
    print(f"throughput ratio plugin / raw locust:        {medians['plugin'] / medians['raw']:.2f}  (goal >= 0.90)")
    print(f"CPU-per-request ratio raw / plugin:          {cpu_medians['raw'] / cpu_medians['plugin']:.2f}  "
          "(the same ratio when the generator is the bottleneck)")
    print(f"throughput ratio 2 workers / 1 worker:       {medians['plugin2'] / medians['plugin']:.2f}  "
          "(goal >= 1.6 with two cores free for the generator)")
    print(f"load: {os.getloadavg()}")


if __name__ == "__main__":
    main()
