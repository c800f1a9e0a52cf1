"""The sandbox balancer's retries (nginx's proxy_next_upstream) are a setting, on by default: off,
a pod kill under load reaches clients as failed responses; on, they are retried on other pods."""

from __future__ import annotations

import subprocess
import sys

import pytest

from clusters.base import ClusterError, EventType
from clusters.sandbox import SandboxConfig, ServiceTime
from clusters.sandbox.cli import config_from_options, flag_for
from clusters.sandbox.config import DEFAULT_RETRIES
from tests.clusters.support import HELD_REQUESTS, RecordingCluster, assert_no_faults, kill_under_load

pytestmark = pytest.mark.timeout(90)

SERVICE = ServiceTime("fixed", 5.0)  # the other pods answer quickly, without spinning the CPU


def test_a_pod_kill_shows_failures_without_retries_and_far_fewer_with(start_sandbox, wait_until):
    cluster = start_sandbox(pods=3, retries=0, service_time=SERVICE)
    assert cluster.client.status()["retries"] == 0

    off, _ = kill_under_load(cluster, wait_until, slot=1)
    cluster.set_retries(2)  # at run time, on the same sandbox
    assert cluster.client.retries() == 2
    on, _ = kill_under_load(cluster, wait_until, slot=2)

    # Off: every request held on the pod when it died came back as a 502.
    assert off.failures >= HELD_REQUESTS, (off.statuses, on.statuses)
    assert off.statuses[502] >= HELD_REQUESTS
    # On: they went to the other pods instead.
    assert on.failures * 4 <= off.failures
    assert on.statuses[200] > 0
    assert_no_faults(cluster)  # the latency faults died with their pods


def test_retries_are_on_by_default_and_logged_when_changed(start_sandbox):
    cluster = start_sandbox(pods=1)
    assert DEFAULT_RETRIES == 2
    assert SandboxConfig().retries == 2
    assert cluster.client.status()["retries"] == 2
    cluster.set_retries(0)
    assert cluster.client.retries() == 0
    changes = [e for e in cluster.events() if e.type == EventType.RETRIES_SET]
    assert [e.details for e in changes] == [{"retries": 0}]


@pytest.mark.parametrize("value", [-1, 11, 1.5, True, "2", None])
def test_bad_retries_are_refused_at_start(value):
    with pytest.raises(ClusterError) as caught:
        SandboxConfig(retries=value)
    assert caught.value.field == "retries"


@pytest.mark.parametrize("value", [-1, 11, "off", None])
def test_bad_retries_are_refused_at_run_time_and_change_nothing(module_sandbox, value):
    with pytest.raises(ClusterError) as caught:
        module_sandbox.set_retries(value)
    assert caught.value.field == "retries"
    assert module_sandbox.client.retries() == 2


def test_the_command_line_takes_retries():
    assert config_from_options({"retries": 0}).retries == 0
    assert config_from_options({}).retries == 2
    assert flag_for("retries") == "--retries"
    done = subprocess.run([sys.executable, "-m", "clusters.sandbox", "--retries", "11"], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: --retries: must be <= 10"


def test_a_cluster_without_a_retry_setting_says_so():
    with pytest.raises(ClusterError) as caught:
        RecordingCluster().set_retries(0)
    assert caught.value.field == "retries"
