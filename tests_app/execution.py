"""Driving one run: the cluster, the Locust subprocess, one second at a time.

`services.execute_run` (the run task, and `manage.py loadtest` in the foreground) hands
a claimed run to `drive`. Each second Locust's plugin sends a sample line; the driver
writes it (one MetricSample, its PodSamples, in one transaction) with the pods' CPU and
memory from the cluster adapter, beats the heartbeat, and checks for a stop. At the
end it builds the summary and the verdict. Whatever happens, Locust and the sandbox
it started are stopped before it returns.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction

from clusters.base import Cluster
from metrics_app import balance
from metrics_app.live import LiveSeries
from metrics_app.models import MetricSample, PodSample
from metrics_app.services import layer_is_cross_process, live_series_for, publish_to_run, recorded_second
from metrics_app.summary import summarise
from tests_app.engine.launcher import LocustProcess
from tests_app.models import LoadTestRun, Target
from tests_app.verdict import judge

log = logging.getLogger(__name__)

UNATTRIBUTED = balance.UNATTRIBUTED  # the pseudo-pod of requests no pod was named for
# Above Locust's own --stop-timeout (the plugin's timeout_s + 1 = 11 s), so a hung request
# cannot make us kill it before it flushes its last sample and final line.
STOP_GRACE_S = 15.0
# Locust gets this long past the scenario's duration before the run is called stuck.
OVERRUN_S = 60.0
LOG_TAIL_LINES = 5


class RunFailed(Exception):
    """The run could not go on (Locust crashed, the target kind is unsupported)."""


ProgressCallback = Callable[[dict, LoadTestRun], None]


def open_cluster(target: Target) -> Cluster | None:
    """The cluster adapter of a target, started when LB Lab owns it (the sandbox)."""
    if target.kind == Target.Kind.SANDBOX:
        from clusters.sandbox import SandboxCluster
        from clusters.sandbox.config import SandboxConfig, ServiceTime

        options = {"weights": dict(target.weights)} if target.weights else {}
        return SandboxCluster(SandboxConfig(
            pods=target.pods, nodes=target.nodes, algorithm=target.algorithm, algorithm_options=options,
            service_time=ServiceTime(distribution="exponential", mean_ms=target.service_time_ms),
        ))
    if target.kind == Target.Kind.URL:
        return None
    raise RunFailed("Kubernetes targets need the Kubernetes adapter, which this build does not include yet")


def locust_config(run: LoadTestRun, host: str) -> dict:
    """The plugin's configuration (tests_app/engine) from the run's frozen scenario and target."""
    scenario, target = run.scenario_config, run.target
    if target.attribution == Target.Attribution.HEADER:
        attribution = {"method": "header", "header": target.pod_header}
    elif target.attribution == Target.Attribution.JSON_FIELD:
        attribution = {"method": "json_field", "field": target.pod_json_field}
    else:
        attribution = {"method": "prometheus", "url": target.prometheus_url, "query": target.prometheus_query}
    return {
        "host": host.rstrip("/"),  # a trailing slash doubles every path's (ARCHITECTURE.md s9)
        "shape": {key: scenario.get(key) for key in (
            "users", "spawn_rate", "duration_s", "spike_factor", "spike_at_s", "spike_length_s", "stages")}
        | {"kind": scenario["shape"]},
        "arrival_rate": scenario.get("arrival_rate"),
        "request_mix": scenario.get("request_mix") or [],
        "think_time_ms": [scenario.get("think_time_min_ms", 0), scenario.get("think_time_max_ms", 0)],
        "keep_alive": scenario.get("keep_alive", True),
        "attribution": attribution,
        "expected_pods": list(target.expected_pods),
        "timeout_s": 10.0,
    }


def expected_shares(target: Target, pods: list[str]) -> dict[str, float] | None:
    """Expected share per pod from the target's weights; None for equal shares.

    Sandbox weights name slots (`pod-0`), pods are `pod-0-x2k4p`: match by slot.
    """
    if not target.weights:
        return None
    by_slot = {pod.rsplit("-", 1)[0]: pod for pod in pods} if target.kind == Target.Kind.SANDBOX else {}
    shares = {by_slot.get(key, key): float(weight) for key, weight in target.weights.items()}
    return {pod: shares.get(pod, 1.0) for pod in pods} if pods else shares


def pods_to_judge(target: Target, known: list[str], seen: set[str]) -> list[str]:
    """Every pod expected to get traffic: known and seen ones, plus placeholders up to the
    declared count, so a pod that got nothing counts as a zero instead of being invisible."""
    pods = sorted(set(known) | set(seen))
    missing = (target.expected_pod_count or 0) - len(pods)
    return pods + [f"missing-pod-{index}" for index in range(1, missing + 1)]


@dataclass
class Recorder:
    """Writes each second and keeps what the summary needs, nothing that grows per request."""

    run: LoadTestRun
    cluster: Cluster | None
    per_second_pods: list[dict] = field(default_factory=list)
    pods_seen: set = field(default_factory=set)
    cpu_totals: dict = field(default_factory=dict)  # pod -> [sum of cores, seconds measured]
    _cpu_seconds: dict = field(default_factory=dict)
    _cpu_at: float | None = None
    live: LiveSeries | None = None  # the live view's messages, when they can be pushed to the consumers

    def record(self, line: dict) -> dict:
        """Write one second; returns the line with every known pod in it (idle ones as zeros)."""
        t = float(line["t"])
        pods = {name: dict(figures) for name, figures in (line.get("pods") or {}).items()}
        self.pods_seen.update(pods)
        resources = self._resources()
        for name in resources:
            pods.setdefault(name, {"requests": 0, "failures": 0, "p95_ms": None})
        rows = [
            PodSample(
                run=self.run, t=t, pod=name, requests=figures.get("requests", 0), failures=figures.get("failures", 0),
                p95_ms=figures.get("p95_ms"), cpu=resources.get(name, {}).get("cpu"),
                memory_bytes=resources.get(name, {}).get("memory_bytes"), ready=resources.get(name, {}).get("ready", True),
            )
            for name, figures in pods.items()
        ]
        if line.get("unattributed"):
            rows.append(PodSample(run=self.run, t=t, pod=UNATTRIBUTED, requests=line["unattributed"]))
        with transaction.atomic():
            sample = MetricSample.objects.create(
                run=self.run, t=t, users=line.get("users", 0), requests=line.get("requests", 0),
                failures=line.get("failures", 0), rps=line.get("rps", 0.0), failures_per_s=line.get("failures_per_s", 0.0),
                p50_ms=line.get("p50_ms"), p95_ms=line.get("p95_ms"), p99_ms=line.get("p99_ms"), max_ms=line.get("max_ms"),
                active_connections=line.get("active_connections", 0),
            )
            PodSample.objects.bulk_create(rows)
        self._publish(sample, rows)
        self.per_second_pods.append({name: figures.get("requests", 0) for name, figures in pods.items()})
        for name, reading in resources.items():
            if reading["cpu"] is not None:
                total = self.cpu_totals.setdefault(name, [0.0, 0])
                total[0] += reading["cpu"]
                total[1] += 1
        return {**line, "pods": pods}

    def _publish(self, sample: MetricSample, rows: list[PodSample]) -> None:
        """Push the second to the run's live viewers once it is committed (push mode only: without a
        cross-process channel layer the consumers read it from the database themselves)."""
        if self.live is None and not layer_is_cross_process():
            return
        second = recorded_second(sample, rows)
        self.live = self.live or live_series_for(self.run, second)
        messages = self.live.feed(second)
        transaction.on_commit(lambda: publish_to_run(self.run.pk, messages))

    def mean_cpu(self) -> dict[str, float]:
        """Mean cores each pod used over the seconds it was measured (the utilisation view)."""
        return {name: cores / seconds for name, (cores, seconds) in self.cpu_totals.items() if seconds}

    def _resources(self) -> dict[str, dict]:
        """CPU (cores, from the change in CPU seconds) and memory per pod, when the adapter has them."""
        if self.cluster is None:
            return {}
        try:
            metrics = self.cluster.pod_metrics()
        except Exception as error:  # a pod restarting must not end the run
            log.warning("pod metrics unavailable this second: %s", error)
            return {}
        now = time.monotonic()
        elapsed = (now - self._cpu_at) if self._cpu_at else None
        resources = {}
        for name, reading in metrics.items():
            previous = self._cpu_seconds.get(name)
            cpu = None
            if elapsed and previous is not None and reading.cpu_seconds >= previous:
                cpu = (reading.cpu_seconds - previous) / elapsed
            self._cpu_seconds[name] = reading.cpu_seconds
            resources[name] = {"cpu": cpu, "memory_bytes": reading.memory_bytes or None, "ready": reading.ready}
        self._cpu_at = now
        return resources


def drive(
    run: LoadTestRun, *, beat: Callable[[LoadTestRun], bool], progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> tuple[str, dict, bool | None, list[str]]:
    """Run the load; returns (status, summary, passed, reasons). Raises RunFailed."""
    cluster = open_cluster(run.target)
    try:
        host = cluster.endpoint if cluster else run.target.base_url
        known_pods = [pod.name for pod in cluster.pods()] if cluster else list(run.target.expected_pods)
        recorder = Recorder(run=run, cluster=cluster)
        deadline = time.monotonic() + run.scenario_config["duration_s"] + OVERRUN_S
        final, stopped, last_beat = None, None, 0.0
        with LocustProcess(locust_config(run, host), workers=run.workers) as locust:
            locust.start()
            while final is None:
                lines = locust.poll(timeout=1.0)
                for line in lines:
                    if line["type"] == "sample":
                        line = recorder.record(line)
                        if progress:
                            progress(line, run)
                    elif line["type"] == "final":
                        final = line
                    elif line["type"] == "error":
                        raise RunFailed(f"Locust: {line.get('message', 'unknown error')}")
                if final is not None:
                    break
                if stopped is None and time.monotonic() - last_beat >= 1.0:
                    last_beat = time.monotonic()
                    if beat(run) or should_stop():
                        stopped = "stop"
                    elif last_beat > deadline:
                        stopped = "overrun"
                    if stopped:
                        locust.stop(grace_s=STOP_GRACE_S)  # Locust flushes its last sample and final line
                        continue
                if locust.exited and not lines:
                    tail = locust.log_tail(LOG_TAIL_LINES)
                    raise RunFailed(f"Locust ended without its final report (exit {locust.returncode}): {tail}")
        pods = pods_to_judge(run.target, known_pods, recorder.pods_seen)
        summary = summarise(
            run_id=run.pk, final=final, per_second_pods=recorder.per_second_pods, expected_pods=pods,
            shares=expected_shares(run.target, pods), threshold=run.scenario_config["threshold_balance"],
            cpu_by_pod=recorder.mean_cpu(), keep_alive=run.scenario_config.get("keep_alive", True),
            algorithm=run.target.algorithm if run.target.kind == Target.Kind.SANDBOX else None,
            users=run.scenario_config["users"],
        )
        passed, reasons = judge(
            requests=summary["requests"], failures=summary["failures"], balance_score=summary["balance"]["score"],
            p95_ms=summary["latency_ms"]["p95"], threshold_balance=run.scenario_config["threshold_balance"],
            threshold_error_rate=run.scenario_config["threshold_error_rate"],
            threshold_p95_ms=run.scenario_config.get("threshold_p95_ms"),
        )
        if stopped == "overrun":
            return LoadTestRun.Status.ERROR, summary, False, [*reasons, "Locust ran past the scenario's duration"]
        if stopped == "stop":
            return LoadTestRun.Status.CANCELLED, summary, None, []
        return (LoadTestRun.Status.PASSED if passed else LoadTestRun.Status.FAILED), summary, passed, reasons
    finally:
        if cluster is not None:
            cluster.close()

