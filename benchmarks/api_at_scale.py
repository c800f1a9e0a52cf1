"""The REST API at scale on PostgreSQL: server time of the runs list, a run, its recent seconds and
the comparison of four 30-minute runs with 100 pods each.

    .venv/bin/python benchmarks/api_at_scale.py [--server postgres://postgres@127.0.0.1:5432/] [--keep]

Creates its own database (`lblab_bench_api` on the server named, default the DATABASE_URL's or the
local one), migrates it, and seeds with COPY: one user's 10,000 runs (realistic summaries: 8 pods,
10 s windows), 1,000,000 MetricSample rows (1,000 runs of about 16 minutes, plus the four runs
below), and the 720,000 PodSample rows of four 30-minute runs with 100 pods each (even, two hot
pods, a pod killed for a minute, a slow drift). Then it calls the API in-process through DRF's
APIClient with a token, as automation would, and times each call (routing, authentication,
throttling, queries, serialisation, JSON: the server's time, without a network), and prints p50,
p95 and the goals: list, detail and samples-since p95 under 50 ms, compare p95 under 300 ms.
The compare is timed cold (the runs' stored series dropped before each call: every run's seconds
read and scored) and as it runs for finished runs (metrics_app.services.compare_series stores a run's
series when it ends: its seconds never change).
The database is dropped at the end unless --keep.

Machines here have 2 cores and noisy neighbours (check `uptime`): differences under 10 % between
two runs of this script are noise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATABASE = "lblab_bench_api"
RUNS = 10_000
METRIC_SAMPLES = 1_000_000
COMPARE_RUNS, COMPARE_SECONDS, COMPARE_PODS = 4, 1800, 100
GOALS_MS = {"list": 50.0, "detail": 50.0, "samples": 50.0, "compare": 300.0}


def server_url(raw: str | None) -> str:
    """postgres://user@host:port/ of the server (any database name in `raw` is dropped)."""
    parts = urlsplit(raw or "postgres://postgres@127.0.0.1:5432/")
    if parts.scheme not in ("postgres", "postgresql"):
        sys.exit(f"benchmarks/api_at_scale.py needs PostgreSQL; got {parts.scheme or raw!r}")
    return urlunsplit((parts.scheme, parts.netloc, "/", "", ""))


def create_database(server: str) -> None:
    import psycopg

    with psycopg.connect(server + "postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DATABASE}"')


def drop_database(server: str) -> None:
    import psycopg

    with psycopg.connect(server + "postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


# --------------------------------------------------------------------------- seeding


def copy_rows(model, columns: list[str], lines) -> int:
    """COPY text lines (tab-separated, \\N for null) into the model's table; returns the row count."""
    from django.db import connection

    table = model._meta.db_table
    names = ", ".join(f'"{model._meta.get_field(c).column}"' for c in columns)
    count = 0
    buffer = io.StringIO()
    with connection.cursor() as cursor, cursor.cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
        for line in lines:
            buffer.write(line)
            count += 1
            if count % 50_000 == 0:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())
    return count


def json_cell(value) -> str:
    import json

    return json.dumps(value).replace("\\", "\\\\")  # COPY text format: a backslash escapes


def summary_templates(rng: np.random.Generator, count: int = 40) -> list[dict]:
    """Real summaries (metrics_app.summary) of short 8-pod runs, good and bad, to give the runs."""
    from metrics_app.summary import summarise

    templates = []
    pods = [f"shop-7d9f8b6c5-{i:05d}" for i in range(8)]
    for index in range(count):
        skew = np.ones(len(pods))
        skew[: index % 3] = 1.0 + (index % 5) * 0.3
        per_second = [dict(zip(pods, rng.poisson(50 * skew).tolist(), strict=True)) for _ in range(60)]
        totals = {pod: sum(second[pod] for second in per_second) for pod in pods}
        requests = sum(totals.values())
        final = {"duration_s": 60.0, "requests": requests, "failures": index % 4,
                 "latency_ms": {"p50": 1.2, "p95": 3.0 + index % 7, "p99": 8.0, "max": 30.0},
                 "pods": {pod: {"requests": n, "failures": 0, "p95_ms": 3.1} for pod, n in totals.items()}}
        templates.append(summarise(run_id=0, final=final, per_second_pods=per_second, expected_pods=pods,
                                   shares=None, threshold=95.0))
    return templates


def seed(rng: np.random.Generator) -> dict:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from metrics_app.models import MetricSample, PodSample
    from tests_app.models import LoadTestRun, Scenario, Target

    user = get_user_model().objects.create_user("bench", password="bench-password-1")
    token = Token.objects.create(user=user).key
    targets = [Target.objects.create(owner=user, name=f"shop-{i}", pods=8) for i in range(20)]
    scenarios = [Scenario.objects.create(owner=user, name=f"steady-{i}", duration_s=60, users=40) for i in range(5)]
    templates = summary_templates(rng)
    now = dt.datetime.now(dt.UTC)
    statuses = ["passed"] * 6 + ["failed"] * 3 + ["error"]

    def run_lines():
        for index in range(RUNS):
            created = now - dt.timedelta(minutes=52 * (RUNS - index))
            status = statuses[index % len(statuses)]
            summary = {**templates[index % len(templates)], "run_id": index + 1} if status != "error" else {}
            passed = {"passed": "t", "failed": "f"}.get(status, r"\N")
            scenario = scenarios[index % len(scenarios)]
            config = json_cell(scenario.frozen())
            yield (f"{user.pk}\t{targets[index % len(targets)].pk}\t{scenario.pk}\t{config}\t[]\t1\t{status}\t"
                   f"{created.isoformat()}\t{(created + dt.timedelta(seconds=2)).isoformat()}\t"
                   f"{(created + dt.timedelta(seconds=62)).isoformat()}\t{json_cell(summary)}\t{passed}\t[]\t\t1\tf\n")

    started = time.perf_counter()
    copy_rows(LoadTestRun, ["owner", "target", "scenario", "scenario_config", "chaos", "workers", "status", "created_at",
                            "started_at", "ended_at", "summary", "verdict_passed", "verdict_reasons", "error", "attempt",
                            "stop_requested"], run_lines())
    run_ids = list(LoadTestRun.objects.order_by("pk").values_list("pk", flat=True))
    compare_ids = run_ids[-COMPARE_RUNS:]
    plain_ids = run_ids[:1000]
    plain_seconds = (METRIC_SAMPLES - COMPARE_RUNS * COMPARE_SECONDS) // len(plain_ids)
    extra = (METRIC_SAMPLES - COMPARE_RUNS * COMPARE_SECONDS) - plain_seconds * len(plain_ids)

    def metric_lines():
        for number, run_id in enumerate(plain_ids):
            for t in range(plain_seconds + (1 if number < extra else 0)):
                requests = 380 + (t * 7 + number) % 40
                yield f"{run_id}\t{t}.0\t40\t{requests}\t0\t{requests}.0\t0.0\t1.1\t3.2\t5.5\t12.0\t40\n"

    metric_rows = copy_rows(MetricSample, ["run", "t", "users", "requests", "failures", "rps", "failures_per_s", "p50_ms",
                                           "p95_ms", "p99_ms", "max_ms", "active_connections"], metric_lines())
    pods = [f"shop-5d8c7b9f4-{rng.integers(36 ** 5):07d}" for _ in range(COMPARE_PODS)]
    pod_rows = 0
    for kind, run_id in enumerate(compare_ids):
        counts = compare_counts(rng, kind)
        totals = counts.sum(axis=1)
        metric_rows += copy_rows(
            MetricSample, ["run", "t", "users", "requests", "failures", "rps", "failures_per_s", "p50_ms", "p95_ms",
                           "active_connections"],
            (f"{run_id}\t{t}.0\t400\t{total}\t0\t{total}.0\t0.0\t1.3\t{3.0 + kind}\t400\n"
             for t, total in enumerate(totals.tolist())),
        )
        pod_rows += copy_rows(
            PodSample, ["run", "t", "pod", "requests", "failures", "p95_ms", "ready"],
            (f"{run_id}\t{t}.0\t{pod}\t{n}\t0\t3.0\tt\n" for t, row in enumerate(counts.tolist())
             for pod, n in zip(pods, row, strict=True)),
        )
        from metrics_app.summary import summarise

        per_second = [dict(zip(pods, row, strict=True)) for row in counts.tolist()]
        final = {"duration_s": float(COMPARE_SECONDS), "requests": int(totals.sum()), "failures": 0,
                 "latency_ms": {"p50": 1.3, "p95": 3.0 + kind, "p99": 9.0, "max": 40.0},
                 "pods": {pod: {"requests": int(n), "failures": 0, "p95_ms": 3.0}
                          for pod, n in zip(pods, counts.sum(axis=0).tolist(), strict=True)}}
        summary = summarise(run_id=run_id, final=final, per_second_pods=per_second, expected_pods=pods, shares=None,
                            threshold=95.0)
        LoadTestRun.objects.filter(pk=run_id).update(summary=summary, status="passed", verdict_passed=True)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return {"token": token, "run_ids": run_ids, "plain_ids": plain_ids, "plain_seconds": plain_seconds,
            "compare_ids": compare_ids, "metric_rows": metric_rows, "pod_rows": pod_rows,
            "seed_s": time.perf_counter() - started}


def compare_counts(rng: np.random.Generator, kind: int) -> np.ndarray:
    """Requests per second per pod of one of the four compared runs (about 40 per pod per second)."""
    counts = rng.poisson(40, size=(COMPARE_SECONDS, COMPARE_PODS))
    if kind == 1:  # two hot pods
        counts[:, :2] *= 2
    elif kind == 2:  # a pod killed for a minute at 10 minutes
        counts[600:660, 7] = 0
    elif kind == 3:  # a slow drift towards the first pods
        counts = (counts * np.linspace(1.0, 1.6, COMPARE_PODS)[::-1][None, :]).astype(np.int64)
    return counts


# --------------------------------------------------------------------------- timing


def timed(client, url: str, calls: int, warm_up: int = 2, before_each=None) -> list[float]:
    for _ in range(warm_up):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
    costs = []
    for _ in range(calls):
        if before_each is not None:
            before_each()
        started = time.perf_counter()
        response = client.get(url)
        costs.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return costs


def timed_each(client, urls: list[str]) -> list[float]:
    timed(client, urls[0], 0)
    costs = []
    for url in urls:
        started = time.perf_counter()
        response = client.get(url)
        costs.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return costs


def p95(costs: list[float]) -> float:
    ordered = sorted(costs)
    return ordered[max(0, int(round(len(ordered) * 0.95)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=None, help="PostgreSQL server URL (default: DATABASE_URL's, or local)")
    parser.add_argument("--calls", type=int, default=50, help="timed calls of each light request (default 50)")
    parser.add_argument("--compare-calls", type=int, default=20, help="timed compare calls (default 20)")
    parser.add_argument("--keep", action="store_true", help=f"keep the {DATABASE} database")
    args = parser.parse_args()

    server = server_url(args.server or os.environ.get("DATABASE_URL"))
    create_database(server)
    os.environ["DATABASE_URL"] = server + DATABASE
    os.environ.pop("REDIS_URL", None)  # a local cache: nothing shared with other processes
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lbsite.settings")
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connections
    from django.test.utils import setup_test_environment
    from rest_framework.test import APIClient

    from metrics_app.models import CompareSeries

    try:
        setup_test_environment(debug=False)  # the test client's host; DEBUG off: no query log
        call_command("migrate", verbosity=0)
        rng = np.random.default_rng(7)
        seeded = seed(rng)
        print(f"seeded {RUNS:,} runs, {seeded['metric_rows']:,} MetricSample and {seeded['pod_rows']:,} PodSample "
              f"rows in {seeded['seed_s']:.1f} s")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {seeded['token']}")
        picks = [int(i) for i in rng.choice(seeded["run_ids"], size=args.calls)]
        plain = [int(i) for i in rng.choice(seeded["plain_ids"], size=args.calls)]
        since = seeded["plain_seconds"] - 61
        compare_ids = seeded["compare_ids"]
        compare = "/api/runs/compare/?ids=" + ",".join(map(str, compare_ids))

        def forget_series():
            CompareSeries.objects.filter(run_id__in=compare_ids).delete()
            cache.clear()  # the throttle's history: the timed calls must not be throttled
        rows = [
            ("list: first page (50 runs)", "list", timed(client, "/api/runs/", args.calls)),
            ("list: filtered (status, date), page 3", "list", timed(
                client, "/api/runs/?status=passed&created_after=2000-01-01&page=3", args.calls)),
            ("list: filtered, by balance score, page 3", "list", timed(
                client, "/api/runs/?status=passed&created_after=2000-01-01&ordering=-balance_score&page=3", args.calls)),
            ("detail", "detail", timed_each(client, [f"/api/runs/{pk}/" for pk in picks])),
            ("samples since: last 60 s, no pods", "samples",
             timed_each(client, [f"/api/runs/{pk}/samples/?since={since}" for pk in plain])),
            ("samples since: last 30 s, 100 pods", "samples", timed(
                client, f"/api/runs/{compare_ids[0]}/samples/?since={COMPARE_SECONDS - 31}", args.calls)),
            (f"compare 4 x {COMPARE_SECONDS // 60} min x {COMPARE_PODS} pods: cold", "compare",
             timed(client, compare, args.compare_calls, warm_up=1, before_each=forget_series)),
            (f"compare 4 x {COMPARE_SECONDS // 60} min x {COMPARE_PODS} pods: series stored", "compare",
             timed(client, compare, args.compare_calls)),
        ]
        print(f"\nPostgreSQL, in-process APIClient, token auth; load average {os.getloadavg()[0]:.2f}")
        print(f"{'request':44} {'calls':>5} {'p50 ms':>8} {'p95 ms':>8} {'goal p95':>9}  ")
        for name, kind, costs in rows:
            goal = GOALS_MS[kind]
            verdict = "met" if p95(costs) <= goal else "MISSED"
            print(f"{name:44} {len(costs):>5} {statistics.median(costs):>8.1f} {p95(costs):>8.1f} {goal:>8.0f}  {verdict}")
    finally:
        connections.close_all()
        if not args.keep:
            drop_database(server)


if __name__ == "__main__":
    main()
