"""Redis with Sentinel, as teams run it: a primary, a replica (`replicaof`) and three Sentinels
(quorum 2), Debian's `redis-server` and `redis-sentinel` (`make stateful` installs them), each on
a free loopback port with its own config file, log and data dir in one temp dir.

    with RedisSentinelSet() as redis_set:        # returns once the Sentinels agree on the primary
        redis_set.primary()                      # ("127.0.0.1", port), asked of the Sentinels
        killed = redis_set.kill_primary()        # SIGKILL of the primary's process, by PID
        switch = redis_set.wait_for_switch()     # Sentinel promoted the replica: when, to what
        redis_set.events()                       # the failover as Sentinel published it, wall clock

The primary is found as a Sentinel-aware client finds it (`SENTINEL get-master-addr-by-name`
through redis-py's `redis.sentinel.Sentinel`), never assumed. Failover is tuned for tests
(`down-after-milliseconds` 1000, `failover-timeout` 4000). The event log holds what LB Lab did
(`kill`, `stop`, `restart`, with the node and its PID) and every event the Sentinels publish on
their pub/sub (`+sdown`, `+odown`, `+elected-leader`, `+promoted-slave`, `+switch-master`,
`+convert-to-slave`, ...), each with the unix time it was seen. The data nodes keep no disk
persistence (`save ""`, no AOF): what this measures is replication and failover, not the disk.

Processes are started through clusters/procs.py (own process group, a parent-death signal for the
thread that starts them: start the set, and `restart()` nodes, from a thread that outlives them)
and stopped by PID; `close()` stops all of them and removes the temp dir. Never touches any other
Redis on the machine (the app's own on 6379). Django-free.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from clusters import procs
from clusters.base import ClusterError, check_number
from clusters.sandbox.stateful import Address, Switch, located
from clusters.sandbox.stateful.servers import HOST, ServerNode, ServerSet

SERVICE = "lblab"  # the name the Sentinels monitor the primary under
STOP_GRACE_S = 5.0
# redis-py retries a failed command on a new connection to the same address by default: a
# Sentinel-aware client must go back to the Sentinels instead (the old address may be the old
# primary, restarted empty).
NO_RETRY = Retry(NoBackoff(), 0)

DATA_CONFIG = """# written by LB Lab for one stateful sandbox; stopped by PID
bind {host}
port {port}
dir {dir}
logfile {log}
daemonize no
save ""
appendonly no
repl-diskless-sync yes
repl-diskless-sync-delay 0
{replicaof}"""

SENTINEL_CONFIG = """# written by LB Lab for one stateful sandbox; Sentinel rewrites it, as it must
bind {host}
port {port}
dir {dir}
logfile {log}
daemonize no
sentinel monitor {service} {host} {primary_port} {quorum}
sentinel down-after-milliseconds {service} {down_after_ms}
sentinel failover-timeout {service} {failover_timeout_ms}
sentinel parallel-syncs {service} 1
"""

def sentinel_of(sentinels: list[Address], *, timeout_s: float = 1.0) -> Sentinel:
    """redis-py's Sentinel-aware client of these Sentinels, no retry in either kind of connection."""
    return Sentinel(list(sentinels), socket_timeout=timeout_s, retry=NO_RETRY,
                    sentinel_kwargs={"socket_timeout": timeout_s, "retry": NO_RETRY})


class _Node(ServerNode):
    """A Redis server or a Sentinel: one port, one config file."""

    def __init__(self, name: str, root: Path, port: int):
        super().__init__(name, root)
        self.port = port
        self.config = self.dir / ("sentinel.conf" if name.startswith("sentinel") else "redis.conf")
        self.log = self.dir / "server.log"  # the server's own log, once it has read its config

    @property
    def address(self) -> Address:
        return (HOST, self.port)

    def logs(self) -> list[Path]:
        return [self.console, self.log]


class RedisSentinelSet(ServerSet):
    """A primary (`redis-0`), a replica (`redis-1`) and three Sentinels (`sentinel-0..2`)."""

    promoted_none = "no Sentinel promoted a replica"

    def __init__(self, *, down_after_ms: int = 1000, failover_timeout_ms: int = 4000,
                 start_timeout_s: float = 30.0):
        down_after_ms = check_number(down_after_ms, "down_after_ms", minimum=100, integer=True)
        failover_timeout_ms = check_number(failover_timeout_ms, "failover_timeout_ms", minimum=1000, integer=True)
        # Sentinel tries no new failover of the same primary within twice this of the last one
        self.failover_timeout_s = failover_timeout_ms / 1000.0
        self._server, self._sentinel = located("redis-server"), located("redis-sentinel")
        super().__init__(prefix="lblab-redis-")
        self._listener: threading.Thread | None = None
        self.data: list[_Node] = []
        self.sentinel_nodes: list[_Node] = []
        try:
            self.data = [_Node(f"redis-{i}", self._root, procs.free_port(HOST)) for i in range(2)]
            self.sentinel_nodes = [_Node(f"sentinel-{i}", self._root, procs.free_port(HOST)) for i in range(3)]
            primary, replica = self.data
            self._write_data_config(primary, replicaof=None)
            self._write_data_config(replica, replicaof=primary.address)
            for node in self.sentinel_nodes:
                node.config.write_text(SENTINEL_CONFIG.format(
                    host=HOST, port=node.port, dir=node.dir, log=node.log, service=SERVICE, quorum=2,
                    primary_port=primary.port, down_after_ms=down_after_ms,
                    failover_timeout_ms=failover_timeout_ms))
            deadline = time.monotonic() + start_timeout_s
            for node in self.servers():
                self._start(node)
            for node in self.servers():
                self._wait_answers(node, deadline)
            self._listener = threading.Thread(target=self._listen, name="redis-sentinel-events", daemon=True)
            self._listener.start()
            self.wait_agreed(primary.address, timeout_s=max(1.0, deadline - time.monotonic()))
        except BaseException:
            self.close()
            raise

    # Where things are.
    def servers(self) -> list[_Node]:
        return [*self.data, *self.sentinel_nodes]

    @property
    def sentinels(self) -> list[Address]:
        return [node.address for node in self.sentinel_nodes]

    def node_at(self, address: Address) -> str:
        for node in self.data:
            if node.address == tuple(address):
                return node.name
        raise ClusterError(f"no Redis node of this set at {address[0]}:{address[1]}", field="stateful")

    def client(self, name: str, **options) -> redis.Redis:
        """A plain client of one node (a data node or a Sentinel), for probing and fault injection."""
        host, port = self._node(name).address
        return redis.Redis(host=host, port=port, decode_responses=True, **options)

    def pids(self) -> dict[str, int]:
        """The PID of each node that runs now."""
        return {node.name: node.process.pid for node in self.servers() if node.running()}

    def primary(self, *, timeout_s: float = 1.0) -> Address:
        """The primary's address as the Sentinels give it (`SENTINEL get-master-addr-by-name`)."""
        host, port = sentinel_of(self.sentinels, timeout_s=timeout_s).discover_master(SERVICE)
        return (host, int(port))

    def primary_node(self) -> str:
        return self.node_at(self.primary())

    def follows(self, name: str, primary: str) -> bool:
        """Whether node `name` is a replica of node `primary` with its link up."""
        try:
            with self.client(name, socket_timeout=1.0) as client:
                info = client.info("replication")
        except redis.RedisError:
            return False
        return info.get("role") == "slave" and info.get("master_link_status") == "up" \
            and (info.get("master_host"), int(info.get("master_port", 0))) == self.address(primary)

    # Agreement and failover.
    def wait_agreed(self, primary: Address, *, timeout_s: float = 30.0) -> None:
        """Until every Sentinel names `primary`, knows the two other Sentinels and a replica, and a
        replica's link to the primary is up (what a failover needs); ClusterError after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        problem = "not asked yet"
        while time.monotonic() < deadline:
            problem = self.disagreement(tuple(primary))
            if problem is None:
                return
            time.sleep(0.1)
        raise ClusterError(f"the Sentinels did not agree on {primary[0]}:{primary[1]} in {timeout_s:.0f} s: "
                           f"{problem}", field="stateful")

    def disagreement(self, primary: Address) -> str | None:
        """Why the Sentinels could not fail `primary` over now (None: they could): see `wait_agreed`."""
        for node in self.sentinel_nodes:
            try:
                with self.client(node.name, socket_timeout=1.0) as client:
                    host, port = client.sentinel_get_master_addr_by_name(SERVICE) or ("", 0)
                    if (host, int(port)) != primary:
                        return f"{node.name} names {host}:{port}"
                    state = client.sentinel_master(SERVICE)
                    replicas = client.sentinel_slaves(SERVICE)
            except redis.RedisError as exc:
                return f"{node.name}: {exc}"
            if int(state.get("num-other-sentinels", 0)) < len(self.sentinel_nodes) - 1:
                return f"{node.name} knows {state.get('num-other-sentinels')} other Sentinels"
            # a replica it would promote: one it sees up and linked (a node restarted after a failover
            # is listed again only after the Sentinel's next INFO of the primary, and a stale entry of
            # its old address stays listed as down)
            if not any(_flags(replica) == {"slave"} and replica.get("master-link-status") == "ok"
                       for replica in replicas):
                return f"{node.name} sees no replica up and linked"
        primary_name = self.node_at(primary)
        if any(self.follows(node.name, primary_name) for node in self.data if node.name != primary_name):
            return None
        return "no replica is linked to the primary"

    def kill_primary(self) -> str:
        """SIGKILL the current primary's process (by PID), the name of the node killed."""
        node = self._running_primary()
        pid = node.process.pid
        self._log("lblab", "kill", f"{node.name} pid {pid} (SIGKILL)")
        procs.signal_pid(pid, signal.SIGKILL)
        procs.reap(node.process, None)
        return node.name

    def stop_primary(self, *, timeout_s: float = 15.0) -> str:
        """Stop the current primary cleanly (`SHUTDOWN`: Redis waits for its replicas to catch up,
        up to its shutdown-timeout, then exits), the name of the node stopped."""
        node = self._running_primary()
        self._log("lblab", "stop", f"{node.name} pid {node.process.pid} (SHUTDOWN)")
        with self.client(node.name, socket_timeout=timeout_s) as client:
            try:
                client.shutdown()
            except redis.ConnectionError:
                pass  # the server closed the connection as it went: what SHUTDOWN does
        if procs.reap(node.process, timeout_s) is None:
            procs.stop(node.process, grace_s=STOP_GRACE_S)
        return node.name

    def restart(self, name: str, *, timeout_s: float = 15.0, replica_of: Address | None = None) -> None:
        """Start a node that is down again, on its port with its config (which Sentinel may have
        rewritten): a former primary comes back and Sentinel turns it into a replica of the new one,
        once it next asks the node's role (its INFO period: up to 10 s, an empty primary meanwhile).
        `replica_of`: start it as that primary's replica at once instead (`replicaof` in its config),
        as an operator restarting a Redis pod does with the primary Sentinel names."""
        node = self._node(name)
        if node.running():
            raise ClusterError(f"{name} is running", field="stateful")
        if replica_of is not None and node in self.data:
            self._write_data_config(node, replicaof=tuple(replica_of))
        self._start(node)
        self._log("lblab", "restart", f"{name} pid {node.process.pid}")
        self._wait_answers(node, time.monotonic() + timeout_s)

    def switches(self) -> list[Switch]:
        """Each promotion once, when the first Sentinel published its +switch-master: the other
        Sentinels' of the same promotion follow it (the same old and new address). A later promotion
        between the same two addresses (A to B, B to A, A to B again) is a new one."""
        switches: list[Switch] = []
        for event in sorted(self.events(), key=lambda event: event.at):
            if event.kind != "+switch-master":
                continue
            fields = event.detail.split()
            if len(fields) != 5 or fields[0] != SERVICE:
                continue
            old, new = (fields[1], int(fields[2])), (fields[3], int(fields[4]))
            if not switches or (switches[-1].old, switches[-1].new) != (old, new):
                switches.append(Switch(at=event.at, old=old, new=new, node=self._name_or_address(new)))
        return switches

    # Stopping.
    def close(self) -> None:
        """Stop every process by PID (Sentinels first, so none starts a failover on the way out),
        then remove the temp dir. Safe to call twice."""
        self._closing.set()
        if self._listener is not None:
            self._listener.join(timeout=5.0)
        for group in (self.sentinel_nodes, self.data):
            running = [node.process for node in group if node.process is not None]
            procs.stop(*running, grace_s=STOP_GRACE_S)
        super().close()

    # Inside.
    def _running_primary(self) -> _Node:
        """The node the Sentinels name as primary; ClusterError when it is down already (its PID
        is reaped and may be another process's by now: never signalled again)."""
        node = self._node(self.primary_node())
        if not node.running():
            raise ClusterError(f"the primary {node.name} is down already; the Sentinels have not "
                               "promoted a replica yet", field="stateful")
        return node

    def _name_or_address(self, address: Address) -> str:
        try:
            return self.node_at(address)
        except ClusterError:
            return f"{address[0]}:{address[1]}"

    def _write_data_config(self, node: _Node, *, replicaof: Address | None) -> None:
        line = f"replicaof {replicaof[0]} {replicaof[1]}\n" if replicaof else ""
        node.config.write_text(DATA_CONFIG.format(host=HOST, port=node.port, dir=node.dir, log=node.log,
                                                  replicaof=line))

    def _start(self, node: _Node) -> None:
        binary = self._sentinel if node in self.sentinel_nodes else self._server
        with node.console.open("ab") as console:
            node.process = procs.start([binary, str(node.config)], stdin=subprocess.DEVNULL,
                                       stdout=console, stderr=subprocess.STDOUT)

    def _wait_answers(self, node: _Node, deadline: float) -> None:
        while True:
            if not node.running():
                raise ClusterError(f"{node.name} exited on start: {node.log_tail()}", field="stateful")
            try:
                with self.client(node.name, socket_timeout=0.5, socket_connect_timeout=0.5) as client:
                    if client.ping():
                        return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise ClusterError(f"{node.name} did not answer on port {node.port}: {node.log_tail()}",
                                   field="stateful")
            time.sleep(0.05)

    def _listen(self) -> None:
        """Every Sentinel's published events into the log, until close()."""
        subscriptions = {}
        for node in self.sentinel_nodes:
            pubsub = self.client(node.name, socket_timeout=2.0).pubsub(ignore_subscribe_messages=True)
            pubsub.psubscribe("*")
            subscriptions[node.name] = pubsub
        try:
            while not self._closing.is_set():
                for name, pubsub in list(subscriptions.items()):
                    try:
                        message = pubsub.get_message(timeout=0.02)
                        while message is not None:
                            if message.get("type") == "pmessage":
                                self._log(name, str(message["channel"]), str(message["data"]))
                            message = pubsub.get_message(timeout=0)
                    except (redis.RedisError, OSError, ValueError):
                        subscriptions.pop(name).close()  # that Sentinel is gone
                if not subscriptions:
                    return
        finally:
            for pubsub in subscriptions.values():
                pubsub.close()


def _flags(replica: dict) -> set[str]:
    """A Sentinel's flags of a replica (redis-py gives a parsed set, or the raw comma list)."""
    flags = replica.get("flags") or ()
    return set(flags.split(",")) if isinstance(flags, str) else set(flags)
