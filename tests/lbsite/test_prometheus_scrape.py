"""LB Lab watched by a real Prometheus (Debian's, `make test` installs it): after a real run, it
scrapes LB Lab's `/metrics` and the sandbox pods' own, `promtool` accepts the alert rules, and
every query of the Grafana dashboard and of the alert rules (the part an alert compares against
its threshold) returns series."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.parse

import pytest
import yaml

from clusters.sandbox import SandboxCluster, SandboxConfig
from tests.conftest import REPO
from tests.factories import ScenarioFactory, UrlTargetFactory
from tests.prometheus_server import Prometheus
from tests_app import services
from tests_app.models import LoadTestRun

MONITORING = REPO / "k8s" / "monitoring"
RULES = MONITORING / "lblab-rules.yml"
DASHBOARD = json.loads((MONITORING / "grafana-dashboard.json").read_text())
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]


def dashboard_queries() -> list[str]:
    return [target["expr"] for panel in DASHBOARD["panels"] for target in panel["targets"]]


def rule_queries() -> list[str]:
    """Each alert's expression without its threshold: what it watches must exist."""
    rules = [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]
    return [re.sub(r"\s*(==|!=|>=|<=|>|<)\s*[\d.]+\s*$", "", rule["expr"]) for rule in rules]


def test_promtool_accepts_the_rules():
    result = subprocess.run([PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 4 rules found" in result.stdout


def test_prometheus_scrapes_lblab_and_the_pods_and_every_query_has_data(alice, live_server, tmp_path):
    with SandboxCluster(SandboxConfig(pods=2)) as service:
        # a real run first: its records are what /metrics reports
        target = UrlTargetFactory(owner=alice, base_url=service.endpoint, expected_pod_count=2)
        scenario = ScenarioFactory(owner=alice, users=4, spawn_rate=4, duration_s=3)
        run = services.submit_run(owner=alice, request=services.RunRequest(target=target, scenario=scenario),
                                  queue=False)
        run = services.execute_run(run.pk)
        assert run.status in (LoadTestRun.Status.PASSED, LoadTestRun.Status.FAILED), run.error

        lblab = urllib.parse.urlsplit(live_server.url).netloc
        pods = [pod.address for pod in service.pods()]
        prometheus = Prometheus(tmp_path, rules=RULES, jobs={"lblab": [lblab], "sandbox-pods": pods})
        try:
            prometheus.wait_for('up{job="lblab"} == 1')
            prometheus.wait_for('up{job="sandbox-pods"} == 1', count=2)
            # rates need two scrapes of the same series: wait until the counters have two points
            prometheus.wait_for("count_over_time(lblab_samples_written_total[1m]) >= 3")
            runs = {item["metric"]["status"]: float(item["value"][1]) for item in prometheus.query("lblab_runs")}
            assert runs[run.status] == 1 and sum(runs.values()) == 1
            written = prometheus.query("lblab_samples_written_total")
            assert float(written[0]["value"][1]) == run.samples.count() > 0
            served = {item["metric"]["pod"]: float(item["value"][1])
                      for item in prometheus.query("lblab_pod_requests_total")}
            assert set(served) == {pod.name for pod in service.pods()}
            assert sum(served.values()) >= run.summary["requests"]  # what the pods counted, the load included
            for expr in dashboard_queries() + rule_queries():
                assert prometheus.query(expr), f"no series for {expr}"
        finally:
            prometheus.close()
        assert prometheus.process.poll() is not None
