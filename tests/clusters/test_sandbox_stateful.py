"""The sandbox's stateful mode (`stateful="redis"`): a Redis primary, replica and three Sentinels
start with the sandbox and stop with it; the pods' `/kv` endpoints write and read through a
Sentinel-aware client and follow the primary after a failover; the kill, the promotion and the
old primary's return are in the sandbox's event log. One stateful sandbox per test (its Sentinels
take a few seconds to agree)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import textwrap
from urllib.parse import urlsplit

import pytest

from clusters.base import ClusterError
from tests.conftest import REPO, wait_for


def kv(cluster, method: str, path: str) -> tuple[int, dict]:
    """One request through the sandbox's balancer, its status and JSON body."""
    parts = urlsplit(cluster.endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_pods_write_through_sentinel_and_follow_the_new_primary_after_a_kill(start_sandbox):
    cluster = start_sandbox(pods=2, stateful="redis", durability="sync")
    store = cluster.stateful()
    assert store["primary"] == "redis-0" and len(store["sentinels"]) == 3
    status, body = kv(cluster, "POST", "/kv/before-kill")
    assert (status, body["acked"]) == (200, True)  # WAIT 1: the replica has it
    assert kv(cluster, "GET", "/kv/before-kill")[0] == 200
    assert kv(cluster, "GET", "/kv/never-written")[0] == 404
    first_primary = body["primary"]

    assert cluster.kill_primary() == "redis-0"
    # Writes fail until a replica can confirm them again: restore brings the old primary back,
    # once the Sentinels promoted redis-1, as redis-1's replica.
    assert cluster.restore_stateful() == ["redis-0"]
    def confirmed_write():
        status, body = kv(cluster, "POST", "/kv/after")
        return body if status == 200 else None

    body = wait_for(confirmed_write, "a confirmed write on the new primary")
    assert body["primary"] != first_primary
    assert cluster.stateful()["primary"] == "redis-1"
    assert kv(cluster, "GET", "/kv/before-kill")[0] == 200  # the acknowledged write survived the failover

    events = [(event.type, event.details.get("server")) for event in cluster.events()]
    killed = events.index(("primary_killed", "redis-0"))
    assert killed < events.index(("failover", "redis-1")) < events.index(("store_restarted", "redis-0"))
    assert any(kind == "store_event" for kind, _ in events)  # Sentinel's +odown and the like


def test_a_clean_stop_fails_over_and_the_store_stops_with_the_sandbox(start_sandbox):
    cluster = start_sandbox(pods=1, stateful="redis", durability="async")
    store = cluster.stateful()
    assert set(store["pids"]) == {"redis-0", "redis-1", "sentinel-0", "sentinel-1", "sentinel-2"}
    assert set(store["pids"].values()) <= set(cluster.pids())
    assert os.path.isdir(store["root"])
    assert kv(cluster, "POST", "/kv/before-stop")[0] == 200

    assert cluster.stop_primary() == "redis-0"
    assert "redis-0" not in cluster.stateful()["pids"]
    wait_for(lambda: kv(cluster, "POST", "/kv/after-stop")[0] == 200, "a write on the new primary")
    assert cluster.stateful()["primary"] == "redis-1"
    assert kv(cluster, "GET", "/kv/before-stop")[0] == 200  # SHUTDOWN let the replica catch up first
    assert [event.details["server"] for event in cluster.events() if event.type == "primary_stopped"] == ["redis-0"]
    cluster.close()  # the old primary is still down: close stops what runs, and nothing is left
    assert [pid for pid in store["pids"].values() if alive(pid)] == []
    assert not os.path.exists(store["root"])


def test_a_sandbox_without_a_store_refuses_primary_faults(start_sandbox):
    cluster = start_sandbox(pods=1)
    assert cluster.stateful() is None
    with pytest.raises(ClusterError, match="no stateful store"):
        cluster.kill_primary()
    with pytest.raises(ClusterError, match="no stateful store"):
        cluster.client.take_primary_down("stop")  # the control API refuses it too, with a 400


@pytest.mark.parametrize("store", ["redis", "postgres"])
def test_a_sigkilled_owner_takes_the_store_and_its_dir_with_it(store):
    """The process that started the sandbox dies (a killed worker): the controller hears of it (its
    parent-death signal) and stops the store by PID (Redis and its Sentinels; Patroni's nodes and
    etcd) and removes its dir on the way out."""
    script = textwrap.dedent(f"""
        import json, time
        from clusters.sandbox import SandboxCluster, SandboxConfig, ServiceTime
        cluster = SandboxCluster(SandboxConfig(pods=1, stateful="{store}", service_time=ServiceTime("fixed", 0.0)))
        print(json.dumps(cluster.stateful()), flush=True)
        time.sleep(600)
    """)
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=REPO)
    try:
        store_status = json.loads(owner.stdout.readline())
        assert len(store_status["pids"]) == 5 and all(alive(pid) for pid in store_status["pids"].values())
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
        wait_for(lambda: not any(alive(pid) for pid in store_status["pids"].values()), "the store's processes to end")
        wait_for(lambda: not os.path.exists(store_status["root"]), "the store's temp dir to go")
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        owner.stdout.close()
