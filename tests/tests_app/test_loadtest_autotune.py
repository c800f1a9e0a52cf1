"""`loadtest --autotune POLICY` end to end, as a CI pipeline runs it: a sandbox pinned by
l4_connection (5 kept-alive users over 4 pods) with a policy that may switch the algorithm; the
tuner's decision is in the summary's `tuning` list and in the printed output (live panel and the
final "Tuning" table)."""

import json
import subprocess

import pytest

from metrics_app.models import TuningDecision
from tests.conftest import PYTHON, REPO
from tests.factories import TuningPolicyFactory
from tests_app.models import LoadTestRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]


def test_loadtest_autotune_records_and_prints_the_decision(child_env, tmp_path):
    policy = TuningPolicyFactory(name="unpin", allowed_actions=["set_algorithm"],
                                 algorithms=["least_conn", "round_robin"], window_s=3, cooldown_s=3,
                                 p95_margin_pct=1000.0)
    out = tmp_path / "summary.json"
    result = subprocess.run(
        [PYTHON, "manage.py", "loadtest", "--sandbox", "--pods", "4", "--algorithm", "l4_connection",
         "--users", "5", "--spawn-rate", "50", "--duration", "14s",
         "--autotune", policy.name, "--json", str(out)],
        cwd=REPO, env=child_env, capture_output=True, text=True, timeout=220,
    )
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-3000:]
    run = LoadTestRun.objects.get()
    assert run.autotune == policy
    decisions = list(TuningDecision.objects.filter(run=run).order_by("t"))
    assert decisions, result.stdout[-3000:]
    first = decisions[0]
    assert first.action == "set_algorithm" and first.before["algorithm"] == "l4_connection"
    summary = json.loads(out.read_text())
    assert summary["tuning"][0]["t"] == first.t
    assert summary["tuning"][0]["to"]["algorithm"] == first.after["algorithm"]
    printed = [" ".join(line.replace("│", " ").split()) for line in result.stdout.splitlines()]
    assert "Tuning" in printed
    change = f"algorithm: l4_connection -> {first.after['algorithm']}"
    assert any(line.startswith(f"{first.t:.1f} set_algorithm {change}") for line in printed), result.stdout[-3000:]
    # the live panel named the decision as it was taken (the panel's lines are in the output too)
    assert f"tuning {first.t:.0f} s · set_algorithm · {change}" in result.stdout
