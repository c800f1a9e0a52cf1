"""Overhead of the LB Lab Locust plugin against raw Locust, and 1 vs 2 workers, in one run.

    .venv/bin/python benchmarks/generator_overhead.py [--target nginx|sandbox|both] [--pods 4]
        [--users 32] [--duration 8] [--rounds 4]

Two targets (nginx: Debian package, installed with apt-get if missing; one worker
process; its config in a temp dir, loopback only):

- nginx:    nginx alone answers as N pods (`X-Pod: pod-<i>`, equal shares; see
            sandbox_vs_nginx.Nginx), so the target costs ~30 µs of CPU per request
            against the generator's ~250: the generator is the bottleneck, which a
            generator's overhead and its scaling with workers need;
- sandbox:  a sandbox (N pods, instant service time, large capacity) with nginx in front
            of the pods (keep-alive to them): LB Lab's own target, Python pods, which on
            a 2-core machine is the bottleneck (so it cannot show a generator's scaling).

For each target, alternating rounds so drift on the machine hits all alike, for the same
users and duration:

- raw:      plain Locust, a FastHttpUser doing GET / with no wait (`locust --headless -u U -t D`);
- plugin:   `LocustProcess` (tests_app/engine) with the same users, header attribution, 1 process;
- plugin2:  the same with `workers=2` (a master and two workers).

Throughput is what the target itself counted (nginx's stub_status, or the sandbox pods'
/metrics; sampled every 0.2 s) over the middle 60 % of the time it was receiving load:
the same measure for all three, blind to start-up and shutdown. Prints each round (with
the load average), the medians, the ratios plugin / raw (goal >= 0.90) and plugin2 /
plugin (goal >= 1.6), both of the medians and as the median of each round's ratio (the
variants of a round ran side by side), and the CPU time per request of the generator's
processes and of the target's. CPU per request moves less than throughput when other
jobs share the machine, but it moves too (a generator that waits for a slow target
wakes up more often per request): compare rounds run side by side, and mind the load
average. Every process started here runs in its own process group with a parent-death
signal and is stopped by group.
"""

from __future__ import annotations

import argparse
import os
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

from sandbox_vs_nginx import CpuTime, Nginx, ensure_installed  # noqa: E402

from clusters import procs  # noqa: E402
from clusters.sandbox import SandboxCluster, SandboxConfig, ServiceTime  # noqa: E402
from tests_app.engine.launcher import LocustProcess  # noqa: E402
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
    """Samples a request counter, and the CPU time of the generator's processes and of the
    target's, every 0.2 s while a run goes. `rate()` is requests/s, `cpu_us()` generator CPU
    µs per request and `target_cpu_us()` the target's, all over the middle 60 % of the time
    the counter was moving, so start-up, ramp-up and shutdown (which differ between raw
    Locust and the launcher) weigh on none. CPU per request is far less sensitive than
    throughput to other jobs on the machine: on a shared 2-core box it is the steadier
    overhead figure."""

    def __init__(self, counter, target_pids: list[int]):
        self.counter = counter
        self.pids: list[int] = []  # the generator's, set once it started
        self.target_pids = target_pids
        self._cpu_seconds = CpuTime()
        self.points: list[tuple[float, int, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _point(self):
        return time.monotonic(), self.counter(), self._cpu_seconds(self.pids), self._cpu_seconds(self.target_pids)

    def _run(self):
        while not self._stop.is_set():
            self.points.append(self._point())
            self._stop.wait(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.points.append(self._point())

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
        (t0, c0, *_), (t1, c1, *_) = window
        return (c1 - c0) / (t1 - t0)

    def _per_request_us(self, field: int) -> float:
        window = self._window()
        if window is None:
            return float("nan")
        first, last = window
        return (last[field] - first[field]) / max(1, last[1] - first[1]) * 1e6

    def cpu_us(self) -> float:
        return self._per_request_us(2)

    def target_cpu_us(self) -> float:
        return self._per_request_us(3)


def run_raw(url: str, users: int, duration: float, workdir: Path, meter: Throughput) -> None:
    locustfile = workdir / "raw_locustfile.py"
    locustfile.write_text(RAW_LOCUSTFILE)
    cmd = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", str(users), "-r", str(users),
           "-t", f"{duration:g}s", "--host", url, "--only-summary", "--stop-timeout", "2", "--exit-code-on-error", "0"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    with open(workdir / "raw.log", "ab") as log:
        proc = procs.start(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd=workdir, env=env)
    meter.pids = [proc.pid]
    try:
        proc.wait(duration + 60)
    finally:
        procs.kill(proc)


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


VARIANTS = ("raw", "plugin", "plugin2")


def measure(target: str, url: str, counter, args, workdir: Path) -> tuple[dict, dict]:
    """Alternating rounds of every variant against `url`; requests/s and generator CPU µs per
    request. The target's processes: every process this script has started so far."""
    target_pids = [child.pid for child in psutil.Process().children(recursive=True)]
    results: dict[str, list[float]] = {name: [] for name in VARIANTS}
    cpu: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for round_ in range(args.rounds):
        for name in VARIANTS:
            with Throughput(counter, target_pids) as meter:
                if name == "raw":
                    run_raw(url, args.users, args.duration, workdir, meter)
                    note = ""
                else:
                    final = run_plugin(url, args.users, args.duration, 2 if name == "plugin2" else 1, meter)
                    attributed = sum(p["requests"] for p in final["pods"].values())
                    note = f"  (final line: {final['requests']} requests, {attributed} attributed)"
            results[name].append(meter.rate())
            cpu[name].append(meter.cpu_us())
            print(f"  {target:<7} round {round_ + 1}  {name:<8} {results[name][-1]:>9.0f} req/s  "
                  f"{cpu[name][-1]:>6.0f} µs CPU/req (target {meter.target_cpu_us():.0f})  "
                  f"({meter.total()} served){note}  load {os.getloadavg()[0]:.2f}", flush=True)
    return results, cpu


def report(target: str, results: dict, cpu: dict) -> None:
    medians = {name: statistics.median(values) for name, values in results.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpu.items()}
    print(f"\n{target} target, medians:")
    for name, value in medians.items():
        print(f"  {name:<8} {value:>9.0f} req/s  {cpu_medians[name]:>6.0f} µs CPU/req")
    def paired(top: str, bottom: str) -> str:
        # Each round's variants ran side by side: their ratio is blind to drift between rounds.
        ratios = [a / b for a, b in zip(results[top], results[bottom], strict=True) if b]
        return f"median of the rounds' ratios {statistics.median(ratios):.2f}" if ratios else ""

    print(f"  throughput ratio plugin / raw locust:   {medians['plugin'] / medians['raw']:.2f}  "
          f"({paired('plugin', 'raw')}; goal >= 0.90)")
    print(f"  CPU-per-request ratio raw / plugin:     {cpu_medians['raw'] / cpu_medians['plugin']:.2f}  "
          "(the same ratio when the generator is the bottleneck)")
    print(f"  throughput ratio 2 workers / 1 worker:  {medians['plugin2'] / medians['plugin']:.2f}  "
          f"({paired('plugin2', 'plugin')}; goal >= 1.6 with two cores free for the generator)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=("nginx", "sandbox", "both"), default="both",
                        help="nginx-only pods (the generator is the bottleneck), sandbox pods behind nginx, or both")
    parser.add_argument("--pods", type=int, default=4)
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()

    nginx_bin = ensure_installed("nginx", "nginx")
    workdir = Path(tempfile.mkdtemp(prefix="lblab-overhead-"))
    print(f"{args.pods} pods, {args.users} users, {args.duration:g} s per run, {args.rounds} alternating rounds, "
          f"cores: {os.cpu_count()}, load: {os.getloadavg()}", flush=True)
    measured = {}
    if args.target in ("nginx", "both"):
        nginx = Nginx(nginx_bin, [], "1", static_pods=[f"pod-{i}" for i in range(args.pods)])
        try:
            measured["nginx"] = measure("nginx", nginx.url, nginx.served, args, workdir)
        finally:
            nginx.stop()
    if args.target in ("sandbox", "both"):
        config = SandboxConfig(pods=args.pods, algorithm="round_robin", capacity=1000,
                               service_time=ServiceTime(distribution="fixed", mean_ms=0.0))
        with SandboxCluster(config) as cluster:
            nginx = Nginx(nginx_bin, [p.address for p in cluster.pods()], "1")
            try:
                measured["sandbox"] = measure("sandbox", nginx.url, lambda: served(cluster), args, workdir)
            finally:
                nginx.stop()
    for target, (results, cpu) in measured.items():
        report(target, results, cpu)
    print(f"load: {os.getloadavg()}")


if __name__ == "__main__":
    main()
