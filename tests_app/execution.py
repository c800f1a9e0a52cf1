"""Driving one run: the cluster, the Locust subprocess, one second at a time.

`services.execute_run` (the run task, and `manage.py loadtest` in the foreground) hands a
claimed run and its `RunEvents` to `drive`. Each second Locust's plugin sends a sample line;
the driver completes it with the cluster's readings of the pods, computes the live messages
once (the run's one `LiveSeries`), and fires `events.second` (recording, publishing, the CLI
panel listen). It beats the heartbeat and checks for a stop. At the end it builds the summary
and the verdict. Whatever happens, `events.stop` is fired and Locust and the sandbox it
started are stopped before it returns.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from chaos_app.run_listeners import roll_back_open_injections
from chaos_app.schedule import ChaosPlan
from chaos_app.selectors import injections as chaos_injections
from chaos_app.services import store_figures
from clusters.balance import UNATTRIBUTED
from clusters.base import Cluster, ClusterError, EventType
from clusters.targets import TargetKind, TargetSpec, target_kind
from clusters.tuning.controller import TuningPlan
from clusters.tuning.state import TargetState
from metrics_app.live import POD_FIELDS, SECOND_FIELDS, LiveSeries, request_stats_message
from metrics_app.selectors import tuning_decisions
from metrics_app.summary import summarise
from tests_app.engine.launcher import LocustProcess
from tests_app.live_recovery import RecoveryTerms, cluster_events_on_load_clock
from tests_app.models import LoadTestRun, Target
from tests_app.run_events import TICK_S, RunContext, RunEvents, Second
from tests_app.scenario_spec import ScenarioSpec
from tests_app.selectors import live_series_for, run_events
from tests_app.verdict import judge, judge_chaos

log = logging.getLogger(__name__)

# Above Locust's own --stop-timeout (the plugin's timeout_s + 1 = 11 s) and the last sample's
# wait for Prometheus' scrape (PROMETHEUS_SETTLE_S, 4 s), so a hung request cannot make us kill it
# before it flushes its last sample and final line.
STOP_GRACE_S = 20.0
# Locust gets this long past the scenario's duration before the run is called stuck.
OVERRUN_S = 60.0
LOG_TAIL_LINES = 5


class RunFailed(Exception):
    """The run could not go on (Locust crashed, the target's cluster cannot be opened)."""


class RunInterrupted(Exception):
    """The user stopped the run and would not wait for Locust's last report (a second Ctrl-C):
    it ends at once as cancelled, with the seconds recorded so far."""


@dataclass(frozen=True)
class Outcome:
    status: str
    summary: dict
    passed: bool | None
    reasons: list[str]


def locust_config(target: Target, scenario: ScenarioSpec, host: str, locustfile: dict | None = None) -> dict:
    """The plugin's configuration (tests_app/engine) from the run's frozen scenario and target, and
    the run's own locustfile if it has one (`LoadTestRun.locustfile`: its users send the load)."""
    if target.attribution == Target.Attribution.HEADER:
        attribution = {"method": "header", "header": target.pod_header}
    elif target.attribution == Target.Attribution.JSON_FIELD:
        attribution = {"method": "json_field", "field": target.pod_json_field}
    else:
        attribution = {"method": "prometheus", "url": target.prometheus_url, "query": target.attribution_query()}
    return {
        "host": host.rstrip("/"),  # a trailing slash doubles every path's (ARCHITECTURE.md s9)
        "shape": {"kind": scenario.shape, "users": scenario.users, "spawn_rate": scenario.spawn_rate,
                  "duration_s": scenario.duration_s, "spike_factor": scenario.spike_factor,
                  "spike_at_s": scenario.spike_at_s, "spike_length_s": scenario.spike_length_s,
                  "stages": [dict(stage) for stage in scenario.stages]},
        "arrival_rate": scenario.arrival_rate,
        "request_mix": [dict(entry) for entry in scenario.request_mix],
        "think_time_ms": [scenario.think_time_min_ms, scenario.think_time_max_ms],
        "keep_alive": scenario.keep_alive,
        "attribution": attribution,
        "expected_pods": list(target.expected_pods),
        "timeout_s": 10.0,
        "follow_redirects": target.follow_redirects,
        "allowed_hosts": list(settings.LBLAB_ALLOWED_TARGETS),  # where a followed redirect may go
        "locustfile": None if not locustfile else {
            "path": locustfile["path"], "user_classes": list(locustfile["user_classes"]) if locustfile.get("named") else [],
            "shape": locustfile.get("shape")},
    }


def checked_locustfile(run: LoadTestRun) -> None:
    """RunFailed unless the run's locustfile still has the text it was checked with: the run must
    send what it records (LoadTestRun.locustfile_text), or nothing."""
    if not run.locustfile:
        return
    path = run.locustfile["path"]
    try:
        with open(path, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
    except OSError as error:
        raise RunFailed(f"locustfile {path}: cannot be read: {error.strerror or error}") from error
    if digest != run.locustfile_sha256:
        raise RunFailed(f"locustfile {path} changed since the run was submitted (sha256 {digest[:12]}, "
                        f"checked {run.locustfile_sha256[:12]}): submit it again")


def locustfile_summary(run: LoadTestRun, summary: dict) -> None:
    """The summary's `locustfile` (what ran) and, when the file's LoadTestShape drove the users, a note
    saying so (the scenario's shape did not apply; its duration still ended the run at the latest)."""
    if not run.locustfile:
        return
    info = run.locustfile
    # a registered file by its name: the operator's directory on the server is not the users' to see
    summary["locustfile"] = {"path": info.get("registered") or info["path"], "sha256": run.locustfile_sha256,
                             "user_classes": list(info["user_classes"]), "shape": info.get("shape")}
    if info.get("shape"):
        summary.setdefault("notes", []).append(
            f"The locustfile's LoadTestShape {info['shape']} drove the users, not the scenario's shape "
            f"(the run ends when it says, or at {run.scenario_spec.duration_s:g} s at the latest).")


class PodReadings:
    """The cluster's CPU (cores, from the change in CPU seconds), memory and readiness per pod,
    read once a second, and each pod's mean CPU over the run (the utilisation view)."""

    def __init__(self, cluster: Cluster | None):
        self.cluster = cluster
        self._cpu_seconds: dict[str, float] = {}
        self._cpu_at: float | None = None
        self.cpu_totals: dict[str, list] = {}  # pod -> [sum of cores, seconds measured]
        self.reported: set[str] = set()  # every pod the cluster reported: they were there

    def read(self) -> dict[str, dict]:
        if self.cluster is None:
            return {}
        try:
            metrics = self.cluster.pod_metrics()
        except Exception as error:  # a pod restarting must not end the run
            log.warning("pod metrics unavailable this second: %s", error)
            return {}
        now = time.monotonic()
        elapsed = (now - self._cpu_at) if self._cpu_at else None
        readings = {}
        for name, reading in metrics.items():
            previous = self._cpu_seconds.get(name)
            cpu = None
            if elapsed and previous is not None and reading.cpu_seconds >= previous:
                cpu = (reading.cpu_seconds - previous) / elapsed
                total = self.cpu_totals.setdefault(name, [0.0, 0])
                total[0] += cpu
                total[1] += 1
            self._cpu_seconds[name] = reading.cpu_seconds
            self.reported.add(name)
            readings[name] = {"cpu": cpu, "memory_bytes": reading.memory_bytes or None, "ready": reading.ready}
        self._cpu_at = now
        return readings

    def mean_cpu(self) -> dict[str, float]:
        return {name: cores / seconds for name, (cores, seconds) in self.cpu_totals.items() if seconds}


# The cluster's events a run's charts mark (metrics_app.figures MARKS["timeline"]), kept as they happen.
TIMELINE = frozenset({EventType.SCALED, EventType.FAILOVER})


def on_timeline(event) -> bool:
    """Whether the run's timeline keeps `event`: a type of TIMELINE, or a fault a chaos tool ended on
    its own (a Chaos Mesh object whose duration elapsed: `fault_cleared` with `by`), which LB Lab
    did not end itself."""
    return event.type in TIMELINE or (event.type == EventType.FAULT_CLEARED and bool(event.details.get("by")))


class SecondsFeed:
    """Turns the plugin's sample lines into the run's Seconds, in order: each completed with the
    cluster's readings of the pods, and its live messages from the run's one LiveSeries. Keeps
    what the summary needs, nothing that grows per request."""

    def __init__(self, run: LoadTestRun, cluster: Cluster | None):
        self.run = run
        self.cluster = cluster
        self.readings = PodReadings(cluster)
        self.live: LiveSeries = live_series_for(run)
        self.per_second_pods: list[dict] = []
        self.pods_seen: set[str] = set()  # every pod of the recorded seconds, as a replay sees them
        self._events_seq = 0  # the last cluster event read

    def next(self, line: dict, load_t0_unix: float | None = None) -> Second:
        readings = self.readings.read()
        marked = self.learn_from_events(load_t0_unix)  # after the readings: a pod they report has its start logged
        second = build_second(line, readings)
        second.messages.extend(self.live.feed(as_recorded(second)))
        if marked:  # the timeline grew: the live page redraws its marks
            second.messages.append({"type": "events", **run_events(self.run.pk)})
        if second.endpoints or second.errors:
            second.messages.append(request_stats_message(t=second.t, endpoints=second.endpoints, errors=second.errors))
        self.pods_seen.update(second.pods)
        self.per_second_pods.append({name: figures["requests"] for name, figures in second.pods.items()})
        return second

    def learn_from_events(self, load_t0_unix: float | None) -> bool:
        """What the cluster logged since the last read that the run keeps as it goes; True when
        the run's timeline grew (its viewers are told).

        - The pods it replaced under a new name (`pod_started` with `replaces`, a killed or
          rescheduled pod): kept with the run and told to the live series before the second that
          may first show a replacement is fed and recorded, so the live scores, the summary and
          every replay of the run retire the same pods at the same second.
        - What the charts mark (`on_timeline`: scale changes, a store's failover, a Chaos Mesh
          object's end), on the load clock."""
        if self.cluster is None:
            return False
        try:
            logged = self.cluster.events(self._events_seq)
        except Exception as error:  # noqa: BLE001 - the next second reads them again
            log.warning("cluster events unavailable this second: %s", error)
            return False
        found, marked = {}, []
        for event in logged:
            self._events_seq = max(self._events_seq, event.seq)
            if event.type == EventType.POD_STARTED and event.pod and event.details.get("replaces"):
                found[str(event.details["replaces"])] = event.pod
            elif on_timeline(event):
                t = None if load_t0_unix is None else round(event.t - load_t0_unix, 3)
                marked.append({"t": t, "type": str(event.type), **event.details})
        if found:
            self.live.retire(found)
            self.run.replaced_pods = dict(self.live.expected.replaced)
            LoadTestRun.objects.filter(pk=self.run.pk).update(replaced_pods=self.run.replaced_pods)
        if marked:
            self.run.timeline = [*self.run.timeline, *marked]
            LoadTestRun.objects.filter(pk=self.run.pk).update(timeline=self.run.timeline)
        return bool(marked)

    def pods_to_judge(self, final: dict) -> list[str]:
        """The pods the summary judges over the whole run: the live series' expected pods over
        every pod the run saw, a replaced pod counted with its replacement
        (`balance.ExpectedPods.run_pods`), so the final figures judge what the live ones did."""
        return self.live.expected.run_pods(self.pods_seen | set(final.get("pods") or {}))


def build_second(line: dict, readings: dict[str, dict]) -> Second:
    """One sample line of the plugin, with every pod the cluster reports (idle ones as zeros), and
    the run's per-endpoint table and failures so far that the line carries."""
    pods = {}
    for name, figures in (line.get("pods") or {}).items():
        pods[name] = {"requests": figures.get("requests", 0), "failures": figures.get("failures", 0),
                      "p95_ms": figures.get("p95_ms")}
    for name in readings:
        pods.setdefault(name, {"requests": 0, "failures": 0, "p95_ms": None})
    for name, figures in pods.items():
        reading = readings.get(name, {})
        figures.update(cpu=reading.get("cpu"), memory_bytes=reading.get("memory_bytes"),
                       ready=reading.get("ready", True))
    totals = {key: line.get(key) for key in SECOND_FIELDS}
    for key in ("users", "requests", "failures", "active_connections"):
        totals[key] = totals[key] or 0
    for key in ("rps", "failures_per_s"):
        totals[key] = totals[key] or 0.0
    return Second(t=float(line["t"]), totals=totals, pods=pods, unattributed=int(line.get("unattributed") or 0),
                  endpoints=list(line.get("endpoints") or []), errors=list(line.get("errors") or []))


def as_recorded(second: Second) -> dict:
    """The second as `metrics_app.services.samples_since` reads it back once recorded (the
    unattributed requests as a pseudo-pod): what every LiveSeries is fed, live or replayed."""
    pods = {name: {key: figures.get(key) for key in POD_FIELDS} for name, figures in second.pods.items()}
    if second.unattributed:
        pods[UNATTRIBUTED] = {"requests": second.unattributed, "failures": 0, "p95_ms": None, "cpu": None,
                              "memory_bytes": None, "ready": True}
    return {"t": second.t, **second.totals, "pods": pods}


def chaos_summary(run: LoadTestRun, ctx: RunContext, *, end_s: float) -> list[dict]:
    """The summary's `chaos` list: every injection with its recovery figures (metrics_app.recovery,
    from the load's 100 ms buckets `ctx.buckets` and the cluster's events, on the run's
    `RecoveryTerms`: as they were computed live), stored on its ChaosInjection row too; steps
    that never ran are listed as such, without figures."""
    steps = chaos_injections(run.pk)
    applied = [step for step in steps if step["rollback"] != "not_run"]
    if not applied:
        return steps
    terms = RecoveryTerms.of_run(run.chaos_settings, threshold_balance=ctx.scenario.threshold_balance,
                                 expected=ctx.live.expected)
    section = terms.section(applied, ctx.buckets, events=cluster_events_on_load_clock(ctx.cluster, ctx.load_t0_unix),
                            end_s=end_s)
    store_figures(run.pk, section)
    measured = {item["step"]: item for item in section}
    return [measured.get(step["step"], step) for step in sorted(steps, key=lambda item: item["step"])]


def tuning_plan(run: LoadTestRun, spec: TargetSpec, kind: TargetKind, cluster: Cluster | None,
                scenario: ScenarioSpec) -> TuningPlan:
    """The run's tuner: its policy checked against the target's balancer, and the balancer's setting
    at the start. RunFailed when the policy cannot act on this target."""
    if cluster is None or kind.algorithm(spec) is None:
        raise RunFailed("autotune: LB Lab cannot act on this target's balancer")
    balancer, balancer_options = kind.balancer(spec), kind.balancer_options(spec)
    try:
        policy = run.autotune.spec(balancer=balancer, balancer_options=balancer_options)
    except ClusterError as error:
        raise RunFailed(f"autotune: policy {run.autotune.name!r}: {error}") from error
    config = getattr(cluster, "config", None)
    try:  # what the balancer runs now (read from a Kubernetes cluster), not its default
        algorithm, options = kind.running_algorithm(spec, cluster)
    except ClusterError as error:
        raise RunFailed(f"autotune: reading the balancer's setting: {error}") from error
    # A pod's concurrency: the sandbox's setting. Elsewhere LB Lab does not know it (a Kubernetes pod's
    # server may take any number at once): then as many as the scenario's users, so the simulator
    # queues no request the pods were not seen to queue (one at a time had pods with pinned users
    # queue them in the model, evening out their counts: kube-proxy's pinning predicted to score 97).
    capacity = int(getattr(config, "capacity", 0)) or max(int(scenario.users), 1)
    state = TargetState(algorithm=algorithm, options=options, replicas=len(cluster.pods()), weights=dict(spec.weights),
                        balancer=balancer, capacity=capacity, keep_alive=scenario.keep_alive,
                        balancer_options=balancer_options)
    return TuningPlan(policy, state, pod_key=kind.pod_slot)


def locust_worker_pods(run: LoadTestRun):
    """Where a run's Locust workers run: None for local processes (the default, and any run of one
    worker), or a `LocustWorkerJob` when LB Lab runs in a cluster (LBLAB_LOCUST_WORKER_JOB)."""
    job = settings.LBLAB_LOCUST_WORKER_JOB
    if job is None or run.workers <= 1:
        return None
    from clusters.kubernetes.locust_workers import LocustWorkerJob  # the client loads only in a cluster

    return LocustWorkerJob.in_cluster(job["template"], namespace=job["namespace"], pod_name=job["pod_name"],
                                      pod_ip=job["pod_ip"], run_id=run.pk)


def drive(
    run: LoadTestRun, *, events: RunEvents, beat: Callable[[LoadTestRun], bool],
    should_stop: Callable[[], bool] = lambda: False,
) -> Outcome:
    """Run the load and fire the run's events; returns its outcome. Raises RunFailed."""
    spec, scenario = run.target.spec(), run.scenario_spec
    kind = target_kind(spec.kind)
    try:
        cluster = kind.open(spec, run_id=run.pk)
    except ClusterError as error:
        raise RunFailed(error.args[0]) from error
    ctx, stop_heard = None, False
    try:
        host = kind.endpoint(spec, cluster)
        feed = SecondsFeed(run, cluster)
        ctx = RunContext(run_id=run.pk, scenario=scenario, cluster=cluster, live=feed.live,
                         expected_pods=kind.known_pods(spec, cluster))
        if run.chaos:
            settings_ = run.chaos_settings or {}
            ctx.chaos = ChaosPlan.build(run.chaos, hypothesis=settings_.get("hypothesis"),
                                        stop_conditions=settings_.get("stop_conditions"), seed=run.pk)
        if run.autotune_id is not None:
            ctx.tuning = tuning_plan(run, spec, kind, cluster, scenario)
        events.start.fire(ctx)
        deadline = time.monotonic() + scenario.duration_s + OVERRUN_S
        final, stopped, last_beat, pending = None, None, 0.0, []
        checked_locustfile(run)
        try:
            worker_pods = locust_worker_pods(run)
        except ClusterError as error:
            raise RunFailed(f"Locust workers: {error}") from error
        with LocustProcess(locust_config(run.target, scenario, host, run.locustfile), workers=run.workers,
                           worker_pods=worker_pods) as locust:
            try:
                locust.start()
            except ClusterError as error:
                raise RunFailed(f"Locust workers: {error}") from error
            while final is None:
                # A short wait: `tick` listeners (the chaos schedule) act between the samples.
                lines, pending = pending or locust.poll(timeout=TICK_S), []
                for line in lines:
                    if line["type"] == "sample":
                        ctx.buckets.extend(line.get("buckets") or ())  # 100 ms: what recovery is measured from
                        events.second.fire(ctx, feed.next(line, ctx.load_t0_unix))
                    elif line["type"] == "clock":
                        ctx.load_t0_unix = float(line["t0_unix"])
                    elif line["type"] == "final":
                        final = line
                    elif line["type"] == "error":
                        raise RunFailed(f"Locust: {line.get('message', 'unknown error')}")
                if final is not None:
                    break
                if stopped is None:  # once stopping, nothing acts on the cluster any more
                    events.tick.fire(ctx)
                if stopped is None and time.monotonic() - last_beat >= 1.0:
                    last_beat = time.monotonic()
                    if beat(run) or should_stop():
                        stopped = "stop"
                    elif last_beat > deadline:
                        stopped = "overrun"
                    if stopped:
                        # at once, not after Locust's grace: the chaos schedule removes its faults
                        events.stopping.fire_all(ctx)
                        locust.stop(grace_s=STOP_GRACE_S)  # Locust flushes its last sample and final line
                        continue
                if locust.exited and not lines:
                    pending = locust.poll(timeout=1.0)  # its last lines may still be on their way
                    if not pending:
                        tail = locust.log_tail(LOG_TAIL_LINES)
                        raise RunFailed(f"Locust ended without its final report (exit {locust.returncode}): {tail}")
        # The load is over: the listeners end what they did (the chaos schedule removes its faults)
        # before the summary, which reports it.
        stop_heard = True
        events.stop.fire_all(ctx)
        feed.learn_from_events(ctx.load_t0_unix)  # a scale change after the last second is the run's too
        pods = feed.pods_to_judge(final)
        summary = summarise(
            run_id=run.pk, final=final, per_second_pods=feed.per_second_pods, expected_pods=pods,
            shares=feed.live.expected.shares(pods), threshold=scenario.threshold_balance,
            cpu_by_pod=feed.readings.mean_cpu(), keep_alive=scenario.keep_alive, algorithm=kind.algorithm(spec),
            users=scenario.users, present_pods=feed.readings.reported, expected=feed.live.expected,
        )
        passed, reasons = judge(
            requests=summary["requests"], failures=summary["failures"], balance_score=summary["balance"]["score"],
            p95_ms=summary["latency_ms"]["p95"], threshold_balance=scenario.threshold_balance,
            threshold_error_rate=scenario.threshold_error_rate, threshold_p95_ms=scenario.threshold_p95_ms,
        )
        summary.update(ctx.report)
        locustfile_summary(run, summary)
        if cluster is not None and cluster.usage_missing:  # e.g. a Kubernetes cluster without a metrics server
            summary.setdefault("notes", []).append(f"CPU and memory per pod were not measured: {cluster.usage_missing}")
        summary["load_t0_unix"] = ctx.load_t0_unix  # the load clock's origin: t0_unix + t is wall-clock time
        summary["chaos"] = chaos_summary(run, ctx, end_s=summary["duration_s"])
        passed, reasons = judge_chaos(passed, reasons, summary["chaos"])
        summary["tuning"] = tuning_decisions(run.pk)
        summary["scaling"] = [entry for entry in run.timeline if entry["type"] == EventType.SCALED]
        if ctx.reasons:
            passed, reasons = False, [*reasons, *ctx.reasons]
        if stopped == "overrun":
            return Outcome(LoadTestRun.Status.ERROR, summary, False, [*reasons, "Locust ran past the scenario's duration"])
        if stopped == "stop":
            return Outcome(LoadTestRun.Status.CANCELLED, summary, None, [])
        return Outcome(LoadTestRun.Status.PASSED if passed else LoadTestRun.Status.FAILED, summary, passed, reasons)
    finally:
        try:
            if ctx is not None and not stop_heard:
                events.stop.fire_all(ctx)
        finally:
            if cluster is not None:
                try:  # no fault outlives the run, however it ended (the cluster may not be LB Lab's own)
                    cluster.restore()
                    # and a row a failed write or an interruption left open says what is true now
                    roll_back_open_injections(run.pk, how="rolled back by the cluster's restore at the run's end")
                except Exception as error:  # noqa: BLE001 - closing must still happen; logged for the operator
                    log.error("run %s: restoring the cluster failed: %s", run.pk, error)
                finally:
                    cluster.close()
