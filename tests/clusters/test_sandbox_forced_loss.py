"""A loss forced through the whole sandbox path, to show the durability probe finds it: the replica
stops applying the replication stream (CLIENT PAUSE WRITE), the probe keeps writing through the
balancer and the pods, the primary is killed, and what only it held is gone. In `async` mode those
writes were acknowledged (on the primary's reply): the verdict names them lost, with a data-loss
window (RPO). In `sync` mode WAIT 1 never acknowledged them: nothing acknowledged is lost."""

from __future__ import annotations

import pytest
import redis

from clusters.sandbox.stateful.probe import DurabilityProbe
from clusters.sandbox.stateful.store import DEFAULT_KEY
from clusters.sandbox.stateful.writer import read_ids
from tests.conftest import wait_for

pytestmark = pytest.mark.timeout(180)


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_writes_the_replica_never_applied_are_lost_only_when_acknowledged_async(start_sandbox, mode):
    cluster = start_sandbox(pods=2, stateful="redis", durability=mode)
    store = cluster.stateful()
    host, port = store["servers"]["redis-1"]
    replica = redis.Redis(host=host, port=port, socket_timeout=5, decode_responses=True)
    probe = DurabilityProbe(cluster.endpoint, prefix="forced-", mode=mode, rate=200.0)
    probe.start()
    try:
        wait_for(lambda: len(probe.log.acked) >= 100, "100 acknowledged writes", poll_s=0.05)
        replica.execute_command("CLIENT", "PAUSE", 30000, "WRITE")
        written = len(probe.log.acked) + len(probe.log.failed)
        wait_for(lambda: len(probe.log.acked) + len(probe.log.failed) >= written + 50,
                 "writes while the replica is paused", poll_s=0.05)
        assert cluster.kill_primary() == "redis-0"
        wait_for(lambda: replica.info("replication").get("master_link_status") == "down",
                 "the replica to see its primary gone")
        replica.execute_command("CLIENT", "UNPAUSE")
        wait_for(lambda: any(event.type == "failover" for event in cluster.events()), "the promotion")
        if mode == "sync":  # WAIT 1 needs a replica again: the old primary comes back as one
            cluster.restore_stateful()
        promoted = len(probe.log.acked)
        wait_for(lambda: len(probe.log.acked) >= promoted + 50, "writes acknowledged by the new primary",
                 poll_s=0.05)
    finally:
        log = probe.stop()
        replica.close()
    result = probe.check(read_ids([tuple(address) for address in store["sentinels"]], key=DEFAULT_KEY))
    print(f"\nforced {mode} loss through the sandbox: acked {result.acked}, lost {result.lost}, "
          f"recovered {result.recovered}, failed {len(log.failed)}, RPO {result.rpo_s} s")
    assert result.unexpected == 0
    if mode == "async":
        assert result.lost > 0 and set(result.lost_ids) <= set(log.acked)
        assert result.rpo_s > 0
    else:
        assert result.lost == 0 and result.rpo_s is None
        assert log.failed  # the writes WAIT could not confirm failed instead
