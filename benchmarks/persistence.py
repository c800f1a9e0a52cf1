"""Can the run task keep up writing 100 pods every second for an hour?

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lblab_bench .venv/bin/python benchmarks/persistence.py

Writes N seconds of samples for a run with P pods through the run driver's own
Recorder (one MetricSample + P PodSamples per second, one transaction each), on the
database DATABASE_URL names (migrated first), and prints the cost of one second's
write against the one-second budget it has. The run and its rows are deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lbsite.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from tests_app.execution import Recorder  # noqa: E402
from tests_app.models import LoadTestRun, Scenario, Target  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=600, help="seconds of samples to write (default 600)")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    user, _ = get_user_model().objects.get_or_create(username="lblab-benchmark")
    target, _ = Target.objects.get_or_create(owner=user, name="benchmark", defaults={"pods": min(args.pods, 64)})
    scenario = Scenario(name="benchmark", duration_s=args.seconds)
    run = LoadTestRun.objects.create(owner=user, target=target, scenario_config=scenario.frozen())
    pods = [f"pod-{i}-bench" for i in range(args.pods)]
    recorder = Recorder(run=run, cluster=None)
    costs = []
    try:
        for t in range(1, args.seconds + 1):
            line = {"type": "sample", "t": float(t), "users": 100, "requests": 40 * args.pods, "failures": 0,
                    "rps": 40.0 * args.pods, "failures_per_s": 0.0, "p50_ms": 1.0, "p95_ms": 3.0, "p99_ms": 5.0,
                    "max_ms": 9.0, "active_connections": 100,
                    "pods": {pod: {"requests": 40, "failures": 0, "p95_ms": 3.0} for pod in pods}, "unattributed": 0}
            started = time.perf_counter()
            recorder.record(line)
            costs.append(time.perf_counter() - started)
    finally:
        run.delete()
    costs_ms = sorted(c * 1000 for c in costs)
    p95 = costs_ms[int(len(costs_ms) * 0.95) - 1]
    print(f"{connection.vendor}: {args.seconds} seconds x {args.pods} pods written")
    print(f"one second's write: mean {statistics.mean(costs_ms):.2f} ms, p95 {p95:.2f} ms, max {costs_ms[-1]:.2f} ms")
    print(f"share of the 1 s budget used (p95): {p95 / 1000:.1%}; rows per hour: {3600 * (args.pods + 1):,}")


if __name__ == "__main__":
    main()
