"""Bad input gets a clear error naming the field: from the control API (400), the Python
client (ClusterError.field), the config object and the command line (exit 2)."""

import json
import subprocess
import sys

import pytest

from clusters.base import ClusterError
from clusters.sandbox import SandboxConfig, ServiceTime
from clusters.sandbox.cli import config_from_options, parse_service_time

SANDBOX = {"pods": 2}

pytestmark = pytest.mark.timeout(60)


def post(cluster, http, path, body):
    conn = http.connect(cluster.control_url)
    try:
        conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def a_pod(cluster):
    return cluster.pods()[0].name


CASES = [
    ("/algorithm", {"name": "fastest"}, "algorithm"),
    ("/algorithm", {"name": "consistent_hash", "options": {"colour": "red"}}, "options.colour"),
    ("/algorithm", {"name": "weighted_round_robin", "options": {"weights": {"pod-9-zzzzz": 2}}},
     "options.weights"),
    ("/scale", {"replicas": 0}, "replicas"),
    ("/scale", {"replicas": "three"}, "replicas"),
    ("/faults", {"kind": "latency", "pods": "<pod>", "ms": -5, "duration": 5}, "ms"),
    ("/faults", {"kind": "errors", "pods": "<pod>", "rate": 1.5, "duration": 5}, "rate"),
    ("/faults", {"kind": "errors", "pods": "<pod>", "rate": 0.5, "status": 200, "duration": 5}, "status"),
    ("/faults", {"kind": "partition", "pods": "<pod>", "duration": -1}, "duration"),
    ("/faults", {"kind": "partition", "pods": ["pod-9-zzzzz"], "duration": 5}, "pods"),
    ("/faults", {"kind": "partition", "pods": [], "duration": 5}, "pods"),
    ("/faults", {"kind": "flood", "pods": "<pod>", "duration": 5}, "kind"),
    ("/pods/pod-9-zzzzz/kill", {}, "pod"),
    ("/nodes/node-9/drain", {}, "node"),
    ("/autoscaler", {"min_replicas": 3, "max_replicas": 2}, "autoscaler.max_replicas"),
]


@pytest.mark.parametrize(("path", "body", "field"), CASES)
def test_control_api_answers_400_with_the_field(module_sandbox, http, path, body, field):
    if body.get("pods") == "<pod>":
        body = body | {"pods": [a_pod(module_sandbox)]}
    status, answer = post(module_sandbox, http, path, body)
    assert status == 400
    assert answer["field"] == field
    assert answer["error"]


def test_nothing_changed_after_bad_input(module_sandbox):
    assert module_sandbox.client.status()["algorithm"] == "round_robin"
    assert module_sandbox.client.status()["faults"] == []
    assert len(module_sandbox.pods()) == 2


@pytest.mark.parametrize(("call", "field"), [
    (lambda c: c.set_algorithm("fastest"), "algorithm"),
    (lambda c: c.scale(0), "replicas"),
    (lambda c: c.add_latency([a_pod(c)], ms=-1, duration=5), "ms"),
    (lambda c: c.add_errors([a_pod(c)], rate=2.0, duration=5), "rate"),
    (lambda c: c.partition(["nope"], duration=5), "pods"),
    (lambda c: c.kill_pod("nope"), "pod"),
    (lambda c: c.stress_cpu([a_pod(c)], workers=0, duration=5), "workers"),
])
def test_python_client_raises_cluster_error_with_the_field(module_sandbox, call, field):
    with pytest.raises(ClusterError) as error:
        call(module_sandbox)
    assert error.value.field == field


def test_unknown_route_is_404(module_sandbox, http):
    status, _ = post(module_sandbox, http, "/nonsense", {})
    assert status == 404


@pytest.mark.parametrize(("settings", "field"), [
    ({"pods": 0}, "pods"),
    ({"algorithm": "fastest"}, "algorithm"),
    ({"nodes": 0}, "nodes"),
    ({"port": 5432}, "port"),
    ({"port": 70000}, "port"),
    ({"capacity": 0}, "capacity"),
    ({"speeds": (1.0, -2.0)}, "speeds"),
])
def test_config_rejects_bad_values(settings, field):
    with pytest.raises(ClusterError) as error:
        SandboxConfig(**settings)
    assert error.value.field == field


def test_service_time_is_validated():
    with pytest.raises(ClusterError) as error:
        ServiceTime(distribution="uniform")
    assert error.value.field == "service_time"
    with pytest.raises(ClusterError):
        parse_service_time("exponential:fast")
    assert parse_service_time("lognormal:5:0.8") == ServiceTime("lognormal", 5.0, 0.8)
    with pytest.raises(ClusterError) as error:
        config_from_options({"autoscale": "1:2"})
    assert error.value.field == "autoscale"


@pytest.mark.parametrize(("args", "flag"), [
    (["--pods", "0"], "--pods"),
    (["--algorithm", "fastest"], "--algorithm"),
    (["--service-time", "uniform:3"], "--service-time"),
    (["--balancer", "envoy"], "--balancer"),
    (["--balancer", "nginx", "--algorithm", "ewma"], "--algorithm"),
])
def test_command_line_exits_2_with_a_one_line_reason(args, flag):
    done = subprocess.run([sys.executable, "-m", "clusters.sandbox", *args], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 2
    assert done.stderr.strip().startswith(f"error: {flag}:")
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stdout == ""  # nothing started


def test_taken_port_is_reported_with_the_field(start_sandbox):
    first = start_sandbox(pods=1)
    port = int(first.endpoint.rsplit(":", 1)[1])
    with pytest.raises(ClusterError) as error:
        start_sandbox(pods=1, port=port)
    assert error.value.field == "port"


def test_command_line_options_build_the_config():
    config = config_from_options({"pods": 2, "algorithm": "weighted_round_robin",
                                  "weights": "pod-0=3, pod-1=1", "service_time": "lognormal:4:0.7",
                                  "speeds": "1,0.5", "autoscale": "1:4:0.6"})
    assert config.algorithm_options == {"weights": {"pod-0": 3.0, "pod-1": 1.0}}
    assert config.service_time == ServiceTime("lognormal", 4.0, 0.7)
    assert config.speeds == (1.0, 0.5)
    assert (config.autoscaler.min_replicas, config.autoscaler.max_replicas) == (1, 4)
    with pytest.raises(ClusterError) as error:
        config_from_options({"algorithm": "weighted_round_robin", "weights": "web=3"})
    assert error.value.field == "algorithm_options.weights"
    with pytest.raises(ClusterError) as error:
        config_from_options({"algorithm": "round_robin", "hash_header": "X-User"})
    assert error.value.field == "hash_header"
