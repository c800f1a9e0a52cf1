"""Can the run task keep up writing 100 pods every second for an hour, alone and beside other runs?

    .venv/bin/python benchmarks/persistence.py [--writers 4]        # DATABASE_URL unset: a temporary SQLite file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lblab_bench .venv/bin/python benchmarks/persistence.py [--writers 4]

Each of N writer processes (--writers, default 1) writes S seconds of samples for its own run with
P pods through what records each second of a run (metrics_app.services.record_second, which the
run driver's recording listener calls: one MetricSample + P PodSamples per second, one transaction
each). The writers start together (a barrier, after each has set Django up and
connected) and write back to back, not paced to one second: a harsher load than N real runs.
The database is the one DATABASE_URL names (migrated first) or, when DATABASE_URL is unset, a fresh
SQLite file in a temporary directory (with lbsite/env.py's SQLite options: WAL, busy timeout,
IMMEDIATE transactions), never the developer's lblab.sqlite3, removed at the end.
It prints each writer's cost of one second's write (mean, p95, max) against the one-second budget it
has, the errors each met (a write that fails, e.g. "database is locked", is counted and the writer
goes on), and the seconds written per wall-clock second by all writers together. The runs and their
rows are deleted at the end; the exit status is 1 when any write failed.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import queue
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BARRIER_TIMEOUT_S = 300


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lbsite.settings")
    import django

    django.setup()


def second(t: int, pods: list[str]) -> dict:
    """One second as the run driver records it: 40 requests a second on every pod, no cluster readings."""
    return {"t": float(t), "unattributed": 0,
            "totals": {"users": 100, "requests": 40 * len(pods), "failures": 0, "rps": 40.0 * len(pods),
                       "failures_per_s": 0.0, "p50_ms": 1.0, "p95_ms": 3.0, "p99_ms": 5.0, "max_ms": 9.0,
                       "active_connections": 100},
            "pods": {pod: {"requests": 40, "failures": 0, "p95_ms": 3.0, "cpu": None, "memory_bytes": None,
                           "ready": True} for pod in pods}}


def write_seconds(number: int, run_id: int, pods: int, seconds: int, barrier, results) -> None:
    """One writer process: sets Django up, waits for the others, writes its run's seconds, puts its outcome
    on `results` (costs of the seconds written, errors by message, wall time, or what stopped it)."""
    outcome = {"writer": number, "costs": [], "errors": Counter(), "longest_failure_s": 0.0, "wall_s": 0.0,
               "fatal": None}
    try:
        setup_django()
        from django.db import connection

        from metrics_app.services import record_second

        names = [f"pod-{i}-bench" for i in range(pods)]
        connection.ensure_connection()
        barrier.wait(timeout=BARRIER_TIMEOUT_S)
        began = time.perf_counter()
        for t in range(1, seconds + 1):
            figures = second(t, names)
            started = time.perf_counter()
            try:
                record_second(run_id=run_id, **figures)
            except Exception as error:  # counted and reported: the other seconds still tell their cost
                outcome["errors"][f"{type(error).__name__}: {error}"] += 1
                outcome["longest_failure_s"] = max(outcome["longest_failure_s"], time.perf_counter() - started)
                continue
            outcome["costs"].append(time.perf_counter() - started)
        outcome["wall_s"] = time.perf_counter() - began
    except BaseException as error:
        barrier.abort()  # the others stop waiting for this one
        outcome["fatal"] = f"{type(error).__name__}: {error}"
    finally:
        results.put(outcome)


def run_writers(run_ids: list[int], pods: int, seconds: int) -> list[dict]:
    """Starts one spawned writer process per run and collects their outcomes (a writer that died without
    one is reported as such)."""
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(len(run_ids)), context.Queue()
    processes = [context.Process(target=write_seconds, args=(number, run_id, pods, seconds, barrier, results))
                 for number, run_id in enumerate(run_ids, start=1)]
    for process in processes:
        process.start()
    outcomes = {}
    while len(outcomes) < len(processes):
        try:
            outcome = results.get(timeout=1)
            outcomes[outcome["writer"]] = outcome
        except queue.Empty:
            if not any(process.is_alive() for process in processes) and results.empty():
                break
    for number, process in enumerate(processes, start=1):
        process.join()
        outcomes.setdefault(number, {"writer": number, "costs": [], "errors": Counter(), "wall_s": 0.0,
                                     "longest_failure_s": 0.0,
                                     "fatal": f"exited with code {process.exitcode} without a result"})
    return [outcomes[number] for number in sorted(outcomes)]


def p95_ms(costs_ms: list[float]) -> float:
    return sorted(costs_ms)[max(0, math.ceil(len(costs_ms) * 0.95) - 1)]  # nearest rank


def report(outcomes: list[dict], args) -> bool:
    """Prints each writer's figures and errors and the totals; returns whether every second was written."""
    clean = True
    for outcome in outcomes:
        costs_ms = [c * 1000 for c in outcome["costs"]]
        figures = (f"mean {statistics.mean(costs_ms):7.2f} ms, p95 {p95_ms(costs_ms):7.2f} ms, "
                   f"max {max(costs_ms):7.2f} ms" if costs_ms else "no second written")
        errors = sum(outcome["errors"].values())
        print(f"writer {outcome['writer']}: {len(costs_ms)}/{args.seconds} seconds written in "
              f"{outcome['wall_s']:.1f} s; one second's write: {figures}; errors: {errors or 'none'}")
        for message, count in outcome["errors"].most_common():
            print(f"    {count} x {message} (longest wait before failing {outcome['longest_failure_s']:.1f} s)")
        if outcome["fatal"]:
            print(f"    stopped: {outcome['fatal']}")
        clean = clean and not errors and not outcome["fatal"] and len(costs_ms) == args.seconds
    written = sum(len(outcome["costs"]) for outcome in outcomes)
    wall = max(outcome["wall_s"] for outcome in outcomes)
    errors = sum(sum(outcome["errors"].values()) for outcome in outcomes)
    worst = max((p95_ms([c * 1000 for c in outcome["costs"]]) for outcome in outcomes if outcome["costs"]), default=0)
    print(f"all writers: {written:,} seconds written" + (f" in {wall:.1f} s, {written / wall:.1f} seconds written "
                                                          "per wall-clock second" if wall else "")
          + f"; {errors} failed writes")
    print(f"share of the 1 s budget used (p95, worst writer): {worst / 1000:.1%}; "
          f"rows per hour per run: {3600 * (args.pods + 1):,}")
    return clean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=600, help="seconds of samples each writer writes (default 600)")
    parser.add_argument("--writers", type=int, default=1, help="processes writing their own run at once (default 1)")
    args = parser.parse_args()
    if args.writers < 1 or args.seconds < 1 or args.pods < 1:
        parser.error("--writers, --seconds and --pods must be at least 1")
    temporary = None
    if os.environ.get("DATABASE_URL") is None:  # never the developer's lblab.sqlite3
        temporary = tempfile.mkdtemp(prefix="lblab-bench-persistence-")
        path = os.path.join(temporary, "persistence.sqlite3")
        os.environ["DATABASE_URL"] = "sqlite:///" + path  # the writers inherit it
        print(f"DATABASE_URL unset: a fresh SQLite file {path}, removed at the end")
    setup_django()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection, connections

    from tests_app.models import LoadTestRun, Scenario, Target

    run_ids = []
    try:
        call_command("migrate", verbosity=0)
        user, _ = get_user_model().objects.get_or_create(username="lblab-benchmark")
        target, _ = Target.objects.get_or_create(owner=user, name="benchmark", defaults={"pods": min(args.pods, 64)})
        config = Scenario(name="benchmark", duration_s=args.seconds).frozen()
        run_ids = [LoadTestRun.objects.create(owner=user, target=target, scenario_config=config).pk
                   for _ in range(args.writers)]
        vendor = connection.vendor
        connections.close_all()  # the writers open their own; none held here while they write
        print(f"{vendor}: {args.writers} writer(s) x {args.seconds} seconds x {args.pods} pods, started together, "
              f"written back to back; load average {os.getloadavg()[0]:.2f}")
        clean = report(run_writers(run_ids, args.pods, args.seconds), args)
    finally:
        if run_ids and temporary is None:
            LoadTestRun.objects.filter(pk__in=run_ids).delete()
        connections.close_all()
        if temporary:
            shutil.rmtree(temporary, ignore_errors=True)
    sys.exit(0 if clean else 1)


if __name__ == "__main__":
    main()
