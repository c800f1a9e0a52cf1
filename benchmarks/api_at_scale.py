"""The REST API at scale on PostgreSQL or SQLite: server time of the runs list, a run, its recent seconds
and the comparison of four 30-minute runs with 100 pods each.

    .venv/bin/python benchmarks/api_at_scale.py [--backend postgres] [--server postgres://postgres@127.0.0.1:5432/] [--keep]
    .venv/bin/python benchmarks/api_at_scale.py --backend sqlite [--keep]

Creates its own database (PostgreSQL: `lblab_bench_api` on the server named, default the
DATABASE_URL's or the local one; SQLite: a fresh file in a temporary directory, with the options
lbsite/env.py gives every SQLite database), migrates it, and seeds it: one user's 10,000 runs
(realistic summaries: 8 pods, 10 s windows), 1,000,000 MetricSample rows (1,000 runs of about 16
minutes, plus the four runs below), and the 720,000 PodSample rows of four 30-minute runs with 100
pods each (even, two hot pods, a pod killed for a minute, a slow drift). Both backends get the same
rows from the same generators (COPY on PostgreSQL, executemany INSERTs on SQLite), then ANALYZE.
Then it calls the API in-process through DRF's APIClient with a token, as automation would, and
times each call (routing, authentication, throttling, queries, serialisation, JSON: the server's
time, without a network), and prints p50, p95 and the goals: list, detail and samples-since p95
under 50 ms, compare p95 under 300 ms.
The compare is timed cold (the runs' stored series dropped before each call: every run's seconds
read and scored) and as it runs for finished runs (metrics_app.services.compare_series stores a run's
series when it ends: its seconds never change).
The database (or the SQLite file's directory) is removed at the end unless --keep.
`--scale 0.01` seeds about a hundredth of the rows (compared runs at least 2 minutes): a smoke run,
not a figure to quote.

Machines here have 2 cores and noisy neighbours (check `uptime`): differences under 10 % between
two runs of this script are noise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATABASE = "lblab_bench_api"
COMPARE_RUNS, COMPARE_PODS = 4, 100
GOALS_MS = {"list": 50.0, "detail": 50.0, "samples": 50.0, "compare": 300.0}
SQLITE_CHUNK = 50_000  # rows per INSERT transaction on SQLite


@dataclass(frozen=True)
class Size:
    """How much is seeded; the defaults are the benchmark's."""

    runs: int = 10_000
    plain_runs: int = 1_000  # runs with seconds but no pods
    metric_samples: int = 1_000_000
    compare_seconds: int = 1800

    @classmethod
    def scaled(cls, scale: float) -> Size:
        full = cls()
        if scale == 1:
            return full
        compare_seconds = max(120, round(full.compare_seconds * scale))
        plain_runs = max(1, round(full.plain_runs * scale))
        # at least 300 runs (page 3 of the passed ones exists) and 2 minutes a plain run (60 s to read)
        return cls(runs=max(plain_runs + COMPARE_RUNS, 300, round(full.runs * scale)), plain_runs=plain_runs,
                   metric_samples=max(COMPARE_RUNS * compare_seconds + plain_runs * 120,
                                      round(full.metric_samples * scale)),
                   compare_seconds=compare_seconds)


def server_url(raw: str | None) -> str:
    """postgres://user@host:port/ of the server (any database name in `raw` is dropped)."""
    parts = urlsplit(raw or "postgres://postgres@127.0.0.1:5432/")
    if parts.scheme not in ("postgres", "postgresql"):
        sys.exit(f"--backend postgres needs a PostgreSQL server; got {parts.scheme or raw!r} "
                 "(pass --server, or --backend sqlite)")
    return urlunsplit((parts.scheme, parts.netloc, "/", "", ""))


def postgres_database(server: str) -> str:
    """A fresh `lblab_bench_api` database on the server; returns its URL."""
    drop_database(server)
    import psycopg

    with psycopg.connect(server + "postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{DATABASE}"')
    return server + DATABASE


def drop_database(server: str) -> None:
    import psycopg

    with psycopg.connect(server + "postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


# --------------------------------------------------------------------------- seeding


def insert_rows(model, columns: list[str], rows) -> int:
    """Writes rows (tuples of Python values: None, bool, int, float, str, aware datetimes, JSON as the
    Python object) into the model's table, COPY on PostgreSQL, executemany INSERTs on SQLite (one
    transaction per SQLITE_CHUNK rows); returns the row count. Datetimes are stored as Django stores
    them (`adapt_datetimefield_value`: naive UTC text on SQLite) and JSON as its text, so the ORM's
    filters read them as its own."""
    from django.db import connection, models, transaction

    fields = [model._meta.get_field(column) for column in columns]
    adapters = [(i, json.dumps if isinstance(field, models.JSONField) else connection.ops.adapt_datetimefield_value)
                for i, field in enumerate(fields) if isinstance(field, (models.JSONField, models.DateTimeField))]

    def adapted(row):
        row = list(row)
        for i, adapt in adapters:
            row[i] = None if row[i] is None else adapt(row[i])
        return row

    rows = iter(map(adapted, rows) if adapters else rows)
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
        else:
            insert = f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(fields))})"
            while chunk := list(itertools.islice(rows, SQLITE_CHUNK)):
                with transaction.atomic():
                    cursor.executemany(insert, chunk)
                count += len(chunk)
    return count


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


def seed(rng: np.random.Generator, size: Size) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from lbsite.models import ApiToken
    from metrics_app.models import MetricSample, PodSample
    from metrics_app.summary import summarise
    from tests_app.models import LoadTestRun, Scenario, Target

    user = get_user_model().objects.create_user("bench", password="bench-password-1")
    token = ApiToken.issue(owner=user, name="benchmark")[1]
    targets = [Target.objects.create(owner=user, name=f"shop-{i}", pods=8) for i in range(20)]
    scenarios = [Scenario.objects.create(owner=user, name=f"steady-{i}", duration_s=60, users=40) for i in range(5)]
    templates = summary_templates(rng)
    now = dt.datetime.now(dt.UTC)
    statuses = ["passed"] * 6 + ["failed"] * 3 + ["error"]

    def run_rows():
        for index in range(size.runs):
            created = now - dt.timedelta(minutes=52 * (size.runs - index))
            status = statuses[index % len(statuses)]
            summary = {**templates[index % len(templates)], "run_id": index + 1} if status != "error" else {}
            scenario = scenarios[index % len(scenarios)]
            yield (user.pk, targets[index % len(targets)].pk, scenario.pk, scenario.frozen(), [], 1, status, created,
                   created + dt.timedelta(seconds=2), created + dt.timedelta(seconds=62), summary,
                   {"passed": True, "failed": False}.get(status), [], "", 1, False)

    started = time.perf_counter()
    insert_rows(LoadTestRun, ["owner", "target", "scenario", "scenario_config", "chaos", "workers", "status",
                              "created_at", "started_at", "ended_at", "summary", "verdict_passed", "verdict_reasons",
                              "error", "attempt", "stop_requested"], run_rows())
    run_ids = list(LoadTestRun.objects.order_by("pk").values_list("pk", flat=True))
    compare_ids = run_ids[-COMPARE_RUNS:]
    plain_ids = run_ids[: size.plain_runs]
    plain_total = size.metric_samples - COMPARE_RUNS * size.compare_seconds
    plain_seconds = plain_total // len(plain_ids)
    extra = plain_total - plain_seconds * len(plain_ids)
    metric_columns = ["run", "t", "users", "requests", "failures", "rps", "failures_per_s", "p50_ms", "p95_ms",
                      "p99_ms", "max_ms", "active_connections"]

    def metric_rows():
        for number, run_id in enumerate(plain_ids):
            for t in range(plain_seconds + (1 if number < extra else 0)):
                requests = 380 + (t * 7 + number) % 40
                yield run_id, float(t), 40, requests, 0, float(requests), 0.0, 1.1, 3.2, 5.5, 12.0, 40

    metric_count = insert_rows(MetricSample, metric_columns, metric_rows())
    pods = [f"shop-5d8c7b9f4-{rng.integers(36 ** 5):07d}" for _ in range(COMPARE_PODS)]
    pod_count = 0
    for kind, run_id in enumerate(compare_ids):
        counts = compare_counts(rng, kind, size.compare_seconds)
        totals = counts.sum(axis=1)
        metric_count += insert_rows(
            MetricSample, metric_columns,
            ((run_id, float(t), 400, total, 0, float(total), 0.0, 1.3, 3.0 + kind, None, None, 400)
             for t, total in enumerate(totals.tolist())),
        )
        pod_count += insert_rows(
            PodSample, ["run", "t", "pod", "requests", "failures", "p95_ms", "ready"],
            ((run_id, float(t), pod, n, 0, 3.0, True) for t, row in enumerate(counts.tolist())
             for pod, n in zip(pods, row, strict=True)),
        )
        per_second = [dict(zip(pods, row, strict=True)) for row in counts.tolist()]
        final = {"duration_s": float(size.compare_seconds), "requests": int(totals.sum()), "failures": 0,
                 "latency_ms": {"p50": 1.3, "p95": 3.0 + kind, "p99": 9.0, "max": 40.0},
                 "pods": {pod: {"requests": int(n), "failures": 0, "p95_ms": 3.0}
                          for pod, n in zip(pods, counts.sum(axis=0).tolist(), strict=True)}}
        summary = summarise(run_id=run_id, final=final, per_second_pods=per_second, expected_pods=pods, shares=None,
                            threshold=95.0)
        LoadTestRun.objects.filter(pk=run_id).update(summary=summary, status="passed", verdict_passed=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    return {"token": token, "run_ids": run_ids, "plain_ids": plain_ids, "plain_seconds": plain_seconds,
            "compare_ids": compare_ids, "metric_rows": metric_count, "pod_rows": pod_count,
            "seed_s": time.perf_counter() - started}


def compare_counts(rng: np.random.Generator, kind: int, seconds: int) -> np.ndarray:
    """Requests per second per pod of one of the four compared runs (about 40 per pod per second)."""
    counts = rng.poisson(40, size=(seconds, COMPARE_PODS))
    if kind == 1:  # two hot pods
        counts[:, :2] *= 2
    elif kind == 2:  # a pod killed for a minute at 10 minutes (a third of the way in, when scaled down)
        killed = min(600, seconds // 3)
        counts[killed:killed + 60, 7] = 0
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


def open_database(args) -> tuple[str, str, object]:
    """A fresh database of the chosen backend: its DATABASE_URL, what to call it and a function removing it."""
    if args.backend == "postgres":
        server = server_url(args.server or os.environ.get("DATABASE_URL"))
        url = postgres_database(server)
        return url, f"the database {url}", lambda: drop_database(server)
    directory = tempfile.mkdtemp(prefix="lblab-bench-api-")
    path = os.path.join(directory, "bench.sqlite3")
    return "sqlite:///" + path, f"the SQLite file {path}", lambda: shutil.rmtree(directory, ignore_errors=True)


def backend_label() -> str:
    from django.db import connection

    if connection.vendor == "postgresql":
        version = connection.pg_version
        return f"PostgreSQL {version // 10000}.{version % 10000}"
    return f"SQLite {sqlite3.sqlite_version} (WAL)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("postgres", "sqlite"), default="postgres",
                        help="database to seed and query (default postgres)")
    parser.add_argument("--server", default=None,
                        help="PostgreSQL server URL, --backend postgres only (default: DATABASE_URL's, or local)")
    parser.add_argument("--calls", type=int, default=50, help="timed calls of each light request (default 50)")
    parser.add_argument("--compare-calls", type=int, default=20, help="timed compare calls (default 20)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="share of the rows to seed, for a smoke run (default 1: the benchmark's size)")
    parser.add_argument("--keep", action="store_true",
                        help=f"keep the {DATABASE} database or the SQLite file (its path is printed)")
    args = parser.parse_args()
    if args.server and args.backend != "postgres":
        parser.error("--server is for --backend postgres")
    if not 0 < args.scale <= 1:
        parser.error("--scale must be in (0, 1]")
    size = Size.scaled(args.scale)

    os.environ["DATABASE_URL"], database, remove_database = open_database(args)
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
        seeded = seed(rng, size)
        print(f"{backend_label()}: seeded {size.runs:,} runs, {seeded['metric_rows']:,} MetricSample and "
              f"{seeded['pod_rows']:,} PodSample rows in {seeded['seed_s']:.1f} s"
              + ("" if args.scale == 1 else f" (--scale {args.scale:g}: a smoke run)"))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {seeded['token']}")
        picks = [int(i) for i in rng.choice(seeded["run_ids"], size=args.calls)]
        plain = [int(i) for i in rng.choice(seeded["plain_ids"], size=args.calls)]
        since = seeded["plain_seconds"] - 61
        compare_ids = seeded["compare_ids"]
        compare = "/api/runs/compare/?ids=" + ",".join(map(str, compare_ids))
        minutes = f"{size.compare_seconds / 60:g}"

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
            (f"samples since: last 30 s, {COMPARE_PODS} pods", "samples", timed(
                client, f"/api/runs/{compare_ids[0]}/samples/?since={size.compare_seconds - 31}", args.calls)),
            (f"compare 4 x {minutes} min x {COMPARE_PODS} pods: cold", "compare",
             timed(client, compare, args.compare_calls, warm_up=1, before_each=forget_series)),
            (f"compare 4 x {minutes} min x {COMPARE_PODS} pods: series stored", "compare",
             timed(client, compare, args.compare_calls)),
        ]
        print(f"\n{backend_label()}, in-process APIClient, token auth; load average {os.getloadavg()[0]:.2f}")
        print(f"{'request':44} {'calls':>5} {'p50 ms':>8} {'p95 ms':>8} {'goal p95':>9}  ")
        for name, kind, costs in rows:
            goal = GOALS_MS[kind]
            verdict = "met" if p95(costs) <= goal else "MISSED"
            print(f"{name:44} {len(costs):>5} {statistics.median(costs):>8.1f} {p95(costs):>8.1f} {goal:>8.0f}  {verdict}")
    finally:
        connections.close_all()
        if args.keep:
            print(f"kept {database}")
        else:
            remove_database()


if __name__ == "__main__":
    main()
