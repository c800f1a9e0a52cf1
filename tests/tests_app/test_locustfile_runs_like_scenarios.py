"""A registered locustfile's run, as the web app and the API start it (by name, through the run
service), is measured like any run: every request counted for the pod whose own counter counted it,
the per-endpoint table by the file's request names; and with a chaos step or a tuning policy its
summary has the same fields as a scenario's run with the same options."""

import json

import pytest

from tests.factories import TuningPolicyFactory
from tests_app import services
from tests_app.models import LoadTestRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]


def run_to_end(owner, **request) -> LoadTestRun:
    run = services.submit_run(owner=owner, request=services.RunRequest(**request), queue=False)
    run = services.execute_run(run.pk)
    assert run.status in (LoadTestRun.Status.PASSED, LoadTestRun.Status.FAILED), run.error
    return run


def test_a_registered_file_started_by_name_is_attributed_per_pod(alice, registry, served):
    run = run_to_end(alice, target={"kind": "sandbox", "pods": 3}, locustfile="shop.py", user_classes=["Shopper"],
                     scenario={"shape": "steady", "users": 4, "spawn_rate": 20, "duration_s": 4}, workers=2)
    summary = run.summary
    per_pod = {name: figures["requests"] for name, figures in summary["pods"].items()}
    assert per_pod == served() and len(per_pod) == 3 and summary["unattributed"] == 0
    endpoints = {row["endpoint"]: row["requests"] for row in summary["endpoints"]}
    assert set(endpoints) == {"POST /login", "GET /", "GET /items/[id]", "POST /cart/checkout"}  # no Admin
    assert sum(endpoints.values()) == summary["requests"] == sum(per_pod.values()) > 0
    assert summary["balance"]["score"] is not None
    assert summary["locustfile"]["sha256"] == run.locustfile_sha256 == services.registered_locustfiles()[0].sha256


def fields(summary: dict) -> dict:
    """The summary's keys, and those of its balance, its first chaos injection and tuning decision."""
    return {"summary": set(summary) - {"locustfile"}, "balance": set(summary["balance"]),
            "chaos": set(summary["chaos"][0]) if summary["chaos"] else None,
            "tuning": set(summary["tuning"][0]) if summary["tuning"] else None}


@pytest.mark.parametrize("option", ["chaos", "autotune"])
def test_with_chaos_or_tuning_the_summary_has_a_scenario_runs_fields(alice, registry, option):
    if option == "chaos":
        target = {"kind": "sandbox", "pods": 3, "retries": 0}
        scenario = {"shape": "steady", "users": 6, "spawn_rate": 20, "duration_s": 8, "threshold_balance": 0}
        extra = {"chaos": ["pod_kill@2s:0s"]}
    else:  # pinned by l4_connection (kept-alive users): the policy switches the algorithm
        policy = TuningPolicyFactory(name="unpin", allowed_actions=["set_algorithm"],
                                     algorithms=["least_conn", "round_robin"], window_s=3, cooldown_s=3,
                                     p95_margin_pct=1000.0)
        target = {"kind": "sandbox", "pods": 4, "algorithm": "l4_connection"}
        scenario = {"shape": "steady", "users": 5, "spawn_rate": 50, "duration_s": 14, "threshold_balance": 0}
        extra = {"autotune": policy.pk}
    scenario_run = run_to_end(alice, target=target, scenario=scenario, **extra)
    file_run = run_to_end(alice, target=target, scenario=scenario, locustfile="shop.py", user_classes=["Shopper"],
                          **extra)

    assert file_run.summary["locustfile"]["path"] == "shop.py"  # its registered name, not the server's path
    assert str(registry) not in json.dumps(file_run.summary)
    assert file_run.summary[option if option == "chaos" else "tuning"], file_run.summary  # it acted on this run too
    assert fields(file_run.summary) == fields(scenario_run.summary)
