"""Simulated requests per second of the what-if simulator, per algorithm, on one core.

Goals (issue 4): >= 10 M simulated requests/s for the stateless algorithms, >= 50 M/s
for p2c. Each figure is the best of a few warm runs (numba compiled, cache loaded) of
`clusters.simulate.simulate()` end to end: pod choices, queues, latency histograms,
summary. The process is pinned to one core and timed in CPU seconds (process time), so
other processes on the machine inflate the figures less than wall time would.
Run: `.venv/bin/python benchmarks/simulator_throughput.py [--requests N]`.
Machines here have 2 cores and noisy neighbours: differences under 10 % are noise.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# one core: numba's kernels are single-threaded; keep numpy's BLAS (unused here) to one too
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from clusters.algorithms import ALGORITHMS  # noqa: E402
from clusters.simulate import PodSpec, Workload, simulate  # noqa: E402

GOAL_STATELESS = 10e6
GOAL_P2C = 50e6


def measure(algorithm: str, workload: Workload, pods, repeats: int) -> tuple[float, float]:
    options = {"header": "X-Key"} if algorithm == "consistent_hash" else None
    simulate(pods, Workload(requests=1000, rate_rps=workload.rate_rps, users=workload.users,
                            connections=workload.connections), algorithm, options=options)  # warm
    best = float("inf")
    score = 0.0
    for seed in range(repeats):
        start = time.process_time()
        prediction = simulate(pods, workload, algorithm, seed=seed, options=options)
        best = min(best, time.process_time() - start)
        score = prediction.score
    return workload.requests / best, score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5_000_000)
    parser.add_argument("--pods", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the goal says
    pods = [PodSpec(f"pod-{i}", speed=0.5 if i == 0 else 1.0) for i in range(args.pods)]
    # open model, 1 ms exponential service, about 70 % utilisation of the pool
    rate = 0.7 * 1000.0 * (args.pods - 0.5)
    workloads = {
        "open": Workload(requests=args.requests, rate_rps=rate, connections=64),
        "closed": Workload(requests=args.requests, users=64, think_time_ms=10.0),
    }
    print(f"{args.requests:,} requests, {args.pods} pods (one at half speed), exponential 1 ms service, "
          f"best of {args.repeats}, one core")
    print(f"{'algorithm':<22}{'model':<8}{'M req/s':>10}{'goal':>8}{'met':>6}{'score':>8}")
    failed = []
    for model, workload in workloads.items():
        for algorithm in ALGORITHMS:
            rate_per_s, score = measure(algorithm, workload, pods, args.repeats)
            goal = GOAL_P2C if algorithm == "p2c" else GOAL_STATELESS if ALGORITHMS[algorithm].stateless else None
            met = "" if goal is None or model != "open" else ("yes" if rate_per_s >= goal else "NO")
            if met == "NO":
                failed.append(algorithm)
            goal_text = f"{goal / 1e6:.0f}" if goal and model == "open" else "-"
            print(f"{algorithm:<22}{model:<8}{rate_per_s / 1e6:>10.1f}{goal_text:>8}{met:>6}{score:>8.1f}")
    print("goals are for the open model; " + ("all met" if not failed else f"missed: {', '.join(failed)}"))


if __name__ == "__main__":
    main()
