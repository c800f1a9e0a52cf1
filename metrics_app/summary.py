"""A run's summary (ARCHITECTURE.md s6) from Locust's final report and the per-second pod
counts. Pure: no Django, so the CLI's --json, the API and tests share one shape."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from clusters import balance, pod_health

WINDOW_S = 10


def summarise(
    *, run_id: int, final: Mapping, per_second_pods: Sequence[Mapping[str, int]], expected_pods: Sequence[str],
    shares: Mapping[str, float] | None, threshold: float, window_s: int = WINDOW_S,
    cpu_by_pod: Mapping[str, float] | None = None, keep_alive: bool = True, algorithm: str | None = None,
    users: int = 0, present_pods: Collection[str] | None = None, expected: balance.ExpectedPods | None = None,
) -> dict:
    """`expected_pods` are the pods the run is judged over (`balance.ExpectedPods.judged`, the
    set its live scores used). `cpu_by_pod` (mean cores each pod used) gives the utilisation
    balance, kept apart from the request balance; `keep_alive`, `algorithm` and `users` let the
    diagnosis tell an imbalance of connections (kube-proxy-like pinning) from one of requests.
    `present_pods`: the pods the target's cluster reported running (empty for a URL target,
    whose pods LB Lab cannot see; None: every pod judged is taken to be there): an expected pod
    outside it that got nothing never answered, which the diagnosis says instead of pinning.
    `pod_health` says which pod's error rate or p95 stands out (`clusters.pod_health`).
    `expected`: the run's `balance.ExpectedPods`, as its live series had it at the end (with the
    pods the cluster replaced): each window is then judged over the pods the live score of its
    last second judged, and the whole run with each replaced pod's requests counted with its
    replacement's (`ExpectedPods.merged`; `expected_pods` are then `ExpectedPods.run_pods`).
    The summary's `pods` still list every name with what it served."""
    pods = {name: dict(figures) for name, figures in (final.get("pods") or {}).items()}
    for name in expected_pods:  # a pod that got nothing is a zero, not a gap
        pods.setdefault(name, {"requests": 0, "failures": 0, "p95_ms": None})
    counts = {name: figures["requests"] for name, figures in pods.items()}
    if expected is not None:  # a replaced pod and its replacement are one expected pod over the run
        counts = expected.merged(counts)
    overall = balance.analyse(counts, shares, expected_pods=expected_pods, threshold=threshold)
    windows = balance.windowed_scores(per_second_pods, window_s=window_s, shares=shares, expected_pods=expected_pods,
                                      expected=expected)
    alerts = balance.alerts(per_second_pods, window_s=window_s, threshold=threshold, shares=shares,
                            expected_pods=expected_pods, expected=expected)
    never_answered = [] if present_pods is None else [
        name for name in expected_pods if not counts.get(name) and name not in present_pods]
    diagnosis = balance.diagnose(counts, connections_per_pod=None, keep_alive=keep_alive, algorithm=algorithm,
                                 users=users, pods=len(counts), threshold=threshold, never_answered=never_answered)
    utilisation = balance.utilisation_balance(cpu_by_pod, threshold=threshold) if cpu_by_pod else None
    duration = float(final.get("duration_s") or 0.0)
    requests = int(final.get("requests", 0))
    return {
        "run_id": run_id,
        "duration_s": round(duration, 3),
        "requests": requests,
        "failures": int(final.get("failures", 0)),
        "rps": round(requests / duration, 3) if duration > 0 else 0.0,
        "latency_ms": dict(final.get("latency_ms") or {"p50": None, "p95": None, "p99": None, "max": None}),
        "pods": dict(sorted(pods.items())),
        "unattributed": int(final.get("unattributed", 0)),
        # Locust's per-endpoint table and failures of the whole run, as the plugin counted them.
        "endpoints": list(final.get("endpoints") or []),
        "errors": list(final.get("errors") or []),
        "balance": overall.with_windows([None if w is None else round(w, 2) for w in windows], window_s).to_dict(),
        "alerts": [alert.to_dict() for alert in alerts],
        "diagnosis": diagnosis.to_dict() if diagnosis else None,
        "utilisation": utilisation.to_dict() if utilisation else None,
        "pod_health": pod_health.judge_pods(pods).to_dict(),
        "chaos": [],
        "tuning": [],
        "scaling": [],
        "durability": None,
        "notes": notes(pods, expected),
    }


def notes(pods: Mapping[str, Mapping], expected: balance.ExpectedPods | None = None) -> list[str]:
    """What a reader of the figures must know about how they were counted."""
    found = []
    for old in sorted(expected.retired(pods) if expected is not None else ()):
        found.append(f"{old} was replaced by {expected.replaced[old]} during the run: the windows that start once "
                     f"the replacement appeared judge it with the other live pods instead of {old}, and the whole "
                     f"run counts both names as one pod.")
    if balance.OTHER_PODS in pods:
        found.append(f"The target named more than {balance.MAX_DISTINCT_PODS} different pods: the requests of every "
                     f"name past the first {balance.MAX_DISTINCT_PODS} are counted together as “{balance.OTHER_PODS}”.")
    return found
