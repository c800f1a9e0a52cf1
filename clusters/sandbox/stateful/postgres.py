"""PostgreSQL with Patroni, as teams run it: an etcd member (Patroni's store of the leader key) and
two Patroni nodes, `pg-0` (bootstraps, the first primary) and `pg-1` (its replica), Debian's
`etcd-server` and `patroni` over the PostgreSQL 15 server binaries (`make stateful` installs
them), each on free loopback ports (etcd's client and peer ports; each node's PostgreSQL port and
REST API port) with its config, log and data dir in one temp dir.

    with PatroniSet(durability="sync") as pg_set:  # returns once pg-1 streams from the primary pg-0
        pg_set.primary()                            # ("127.0.0.1", port), the leader Patroni names
        killed = pg_set.kill_primary()              # SIGKILL of the primary's PostgreSQL server
        switch = pg_set.wait_for_switch()           # Patroni promoted the replica: when, to what
        pg_set.events()                             # what LB Lab did and what Patroni did, wall clock

Durability: `sync` is Patroni's `synchronous_mode` (the replica is the synchronous standby, a
commit returns once it has flushed the commit's WAL, and Patroni never promotes a standby that
may lack an acknowledged commit); `strict=True` adds `synchronous_mode_strict` (with no standby
writes block instead of going on unreplicated). `async` is plain streaming replication; Patroni
promotes a replica at most `maximum_lag_on_failover` bytes behind, and what it had not received
is lost. Timings are tuned for tests (`loop_wait` 1, `retry_timeout` 3, `ttl` 10) and
`primary_start_timeout` 0: a crashed primary is failed over at once rather than restarted in
place. `use_pg_rewind` brings a former primary back as the new primary's replica.

The primary is what Patroni's REST API says (`GET /cluster`, from any node that answers), never
assumed. The event log holds what LB Lab did (`kill`, `stop`, `restart`, with the node and PID)
and what a watcher saw of the cluster every 0.1 s through the same API: `leader` (source
"patroni": a new leader, "pg-1 (was pg-0)") and `member` (source the node: its role or state
changed, "pg-0 leader running → replica stopped"), each with the unix time it was seen.

Processes are stopped by PID: etcd is started through clusters/procs.py (own process group,
parent-death signal), each Patroni node through its keeper (clusters/sandbox/stateful/keeper.py),
which the same signal reaches and which takes the node's PostgreSQL along (Patroni leaves its
postmaster to init, out of reach otherwise). Start the set from a thread that outlives it.
`close()` stops all of them and removes the temp dir. As root, Patroni and PostgreSQL run as the
`postgres` user (PostgreSQL refuses root). Never touches any other PostgreSQL on the machine.
Django-free.
"""

from __future__ import annotations

import json
import os
import pwd
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg

from clusters import procs
from clusters.base import ClusterError, check_number
from clusters.sandbox.stateful import DURABILITY_MODES, POSTGRES_SERVER, Address, Switch, located
from clusters.sandbox.stateful.servers import HOST, ServerNode, ServerSet

SCOPE = "lblab"  # Patroni's cluster name (the etcd key prefix /service/lblab)
PG_USER = "postgres"  # the account Patroni and PostgreSQL run as when LB Lab runs as root
STOP_GRACE_S = 10.0
WATCH_PERIOD_S = 0.1
REST_TIMEOUT_S = 1.0
DEFAULT_MAX_LAG_BYTES = 1048576  # Patroni's own default of maximum_lag_on_failover (1 MiB)

PATRONI_CONFIG = """# written by LB Lab for one stateful sandbox; stopped by PID through its keeper
scope: {scope}
name: {name}
log:
  level: INFO
  dir: {dir}
restapi:
  listen: {host}:{rest_port}
  connect_address: {host}:{rest_port}
etcd3:
  hosts: {host}:{etcd_port}
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 1
    retry_timeout: 3
    primary_start_timeout: 0
    maximum_lag_on_failover: {max_lag}
    synchronous_mode: {sync}
    synchronous_mode_strict: {strict}
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_log_hints: "on"
        max_wal_senders: 5
        max_replication_slots: 5
        wal_keep_size: 64MB
  initdb:
    - encoding: UTF8
    - locale: C
  pg_hba:
    - local all all trust
    - host all all {host}/32 trust
    - host replication all {host}/32 trust
postgresql:
  listen: {host}:{pg_port}
  connect_address: {host}:{pg_port}
  data_dir: {dir}/data
  bin_dir: {bin_dir}
  pgpass: {dir}/pgpass
  authentication:
    superuser:
      username: postgres
      password: lblab
    replication:
      username: replicator
      password: lblab
  parameters:
    unix_socket_directories: {dir}
    shared_buffers: 16MB
    max_connections: 40
    logging_collector: "off"
tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
"""


def conninfo(addresses: list[Address], *, dbname: str = "postgres", connect_timeout_s: int = 2,
             target: str = "read-write") -> str:
    """A libpq multi-host connection string, as production clients reach a Patroni cluster: libpq
    tries each host in turn and keeps the one where `target_session_attrs` holds (the primary)."""
    hosts = ",".join(host for host, _ in addresses)
    ports = ",".join(str(port) for _, port in addresses)
    return (f"host={hosts} port={ports} dbname={dbname} user=postgres password=lblab "
            f"target_session_attrs={target} connect_timeout={connect_timeout_s}")


def connect(address: Address, **options) -> psycopg.Connection:
    """A plain autocommit connection to the PostgreSQL at `address` as its superuser, for probing
    and fault injection (clients go through `conninfo`)."""
    return psycopg.connect(host=address[0], port=address[1], dbname="postgres", user="postgres", password="lblab",
                           connect_timeout=2, autocommit=True, **options)


def stop_wal_sender(primary: Address) -> int:
    """SIGSTOP the WAL sender of the PostgreSQL primary at `primary` (its PID from
    pg_stat_replication, on this machine); its PID. ClusterError when it has none."""
    with connect(primary) as conn:
        row = conn.execute("SELECT pid FROM pg_stat_replication LIMIT 1").fetchone()
    if row is None:
        raise ClusterError("the primary has no WAL sender to pause", field="stateful")
    procs.signal_pid(int(row[0]), signal.SIGSTOP)
    return int(row[0])


class _Node(ServerNode):
    """One Patroni node: its PostgreSQL and REST API ports and its config. Its process is its keeper
    (clusters/sandbox/stateful/keeper.py); its console is Patroni's stdout and stderr, PostgreSQL's
    log too."""

    def __init__(self, name: str, root: Path):
        super().__init__(name, root)
        self.pg_port, self.rest_port = procs.free_port(HOST), procs.free_port(HOST)
        self.config = self.dir / "patroni.yml"

    @property
    def address(self) -> Address:
        return (HOST, self.pg_port)

    @property
    def api(self) -> str:
        return f"http://{HOST}:{self.rest_port}"

    def postmaster_pid(self) -> int | None:
        """The running postmaster's PID, from its data dir's postmaster.pid (its first line), checked
        to be a PostgreSQL server of this data dir (a stale file's PID may be anyone's by now)."""
        data = self.dir / "data"
        try:
            pid = int((data / "postmaster.pid").read_text().split("\n", 1)[0])
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                argv = cmdline.read().split(b"\0")
        except (OSError, ValueError):
            return None
        return pid if os.fsencode(str(data)) in argv else None

    def logs(self) -> list[Path]:
        return [self.console, *sorted(self.dir.glob("patroni.log*"))]


class PatroniSet(ServerSet):
    """An etcd member and two Patroni nodes (`pg-0`, the first primary, and `pg-1`)."""

    promoted_none = "Patroni promoted no replica"

    def __init__(self, *, durability: str = "sync", strict: bool = False,
                 maximum_lag_on_failover: int = DEFAULT_MAX_LAG_BYTES, start_timeout_s: float = 60.0):
        if durability not in DURABILITY_MODES:
            raise ClusterError(f"unknown durability mode {durability!r}; one of {', '.join(DURABILITY_MODES)}",
                               field="durability")
        self.durability, self.strict = durability, bool(strict)
        maximum_lag_on_failover = check_number(maximum_lag_on_failover, "maximum_lag_on_failover", minimum=0,
                                               integer=True)
        self._etcd_binary, self._patroni = located("etcd", "postgres"), located("patroni", "postgres")
        self._bin_dir = os.path.dirname(located(POSTGRES_SERVER, "postgres"))
        self._user = PG_USER if os.geteuid() == 0 else ""
        super().__init__(prefix="lblab-patroni-")
        self._watcher: threading.Thread | None = None
        self._etcd: subprocess.Popen | None = None
        self.nodes: list[_Node] = []
        try:
            self._root.chmod(0o755)  # the postgres user reaches its node's dir inside
            self._etcd_client_port, self._etcd_peer_port = procs.free_port(HOST), procs.free_port(HOST)
            self.nodes = [_Node(f"pg-{i}", self._root) for i in range(2)]
            for node in self.nodes:
                node.config.write_text(PATRONI_CONFIG.format(
                    scope=SCOPE, name=node.name, dir=node.dir, host=HOST, rest_port=node.rest_port,
                    pg_port=node.pg_port, etcd_port=self._etcd_client_port, bin_dir=self._bin_dir,
                    sync=str(durability == "sync").lower(), strict=str(self.strict).lower(),
                    max_lag=int(maximum_lag_on_failover)))
                if self._user:
                    account = pwd.getpwnam(self._user)
                    for path in (node.dir, node.config):
                        os.chown(path, account.pw_uid, account.pw_gid)
            deadline = time.monotonic() + start_timeout_s
            self._start_etcd(deadline)
            primary, replica = self.nodes
            # pg-0 first, so it wins the bootstrap race and is the first primary; pg-1 then clones it.
            self._start(primary)
            self._wait(lambda: self._leader_name() == primary.name, primary, "bootstrap as the primary", deadline)
            self._start(replica)
            self._wait(lambda: self.follows(replica.name, primary.name), replica, "stream from pg-0", deadline)
            if durability == "sync":
                self._wait(lambda: self.sync_standby() == replica.name, replica,
                           "become the synchronous standby", deadline)
            self._watcher = threading.Thread(target=self._watch, name="patroni-events", daemon=True)
            self._watcher.start()
        except BaseException:
            self.close()
            raise

    # Where things are.
    def servers(self) -> list[_Node]:
        return self.nodes

    @property
    def addresses(self) -> list[Address]:
        """Every node's PostgreSQL address, the hosts of a multi-host connection string."""
        return [node.address for node in self.nodes]

    def conninfo(self, **options) -> str:
        """The multi-host connection string of the primary (`target_session_attrs=read-write`)."""
        return conninfo(self.addresses, **options)

    def node_at(self, address: Address) -> str:
        for node in self.nodes:
            if node.address == tuple(address):
                return node.name
        raise ClusterError(f"no PostgreSQL node of this set at {address[0]}:{address[1]}", field="stateful")

    def connect(self, name: str, **options) -> psycopg.Connection:
        """A plain autocommit connection to one node's PostgreSQL, for probing and fault injection."""
        return connect(self.address(name), **options)

    def pids(self) -> dict[str, int]:
        """The PID of each process that runs now: `etcd-0`, each node's keeper (`pg-0`), and each
        node's postmaster (`pg-0/postgres`)."""
        found = {"etcd-0": self._etcd.pid} if self._etcd is not None and self._etcd.poll() is None else {}
        for node in self.nodes:
            if node.running():
                found[node.name] = node.process.pid
            postmaster = node.postmaster_pid()
            if postmaster is not None:
                found[f"{node.name}/postgres"] = postmaster
        return found

    # What Patroni says.
    def cluster(self, *, timeout_s: float = REST_TIMEOUT_S) -> dict:
        """Patroni's `GET /cluster`, from the first node whose REST API answers; {} when none does."""
        for node in self.nodes:
            try:
                with urllib.request.urlopen(f"{node.api}/cluster", timeout=timeout_s) as response:
                    return json.load(response)
            except (OSError, ValueError):
                continue
        return {}

    def members(self) -> dict[str, dict]:
        return {member["name"]: member for member in self.cluster().get("members", [])}

    def primary(self) -> Address:
        """The leader's PostgreSQL address as Patroni names it; ClusterError when it names none."""
        return self.address(self.primary_node())

    def primary_node(self) -> str:
        name = self._leader_name()
        if name is None:
            raise ClusterError("Patroni names no leader now", field="stateful")
        return name

    def sync_standby(self) -> str | None:
        """The node Patroni lists as the synchronous standby (synchronous_mode), None when none."""
        return next((name for name, member in self.members().items() if member.get("role") == "sync_standby"), None)

    def follows(self, name: str, primary: str) -> bool:
        """Whether node `name` streams WAL from node `primary` now (its pg_stat_wal_receiver)."""
        try:
            with self.connect(name) as conn:
                row = conn.execute("SELECT status, sender_port FROM pg_stat_wal_receiver").fetchone()
        except psycopg.Error:
            return False
        return row is not None and row[0] == "streaming" and int(row[1] or 0) == self.address(primary)[1]

    # Faults.
    def kill_primary(self) -> str:
        """SIGKILL the current primary's PostgreSQL server: its postmaster's process group (every
        backend, the WAL senders too), as a crash loses them at once; the node's Patroni stays, sees it
        and fails over (`primary_start_timeout` 0). The name of the node killed."""
        node = self._node(self.primary_node())
        pid = node.postmaster_pid()
        if pid is None:
            raise ClusterError(f"the primary {node.name} runs no PostgreSQL now; Patroni has not "
                               "promoted a replica yet", field="stateful")
        self._log("lblab", "kill", f"{node.name} postgres pid {pid} (SIGKILL)")
        _kill_server(pid)
        return node.name

    def stop_primary(self, *, timeout_s: float = STOP_GRACE_S) -> str:
        """Stop the current primary's node cleanly: SIGTERM to its Patroni (through the keeper),
        which shuts PostgreSQL down (a fast shutdown: the WAL senders send what was written before
        the server exits) and gives up the leader key. The name of the node stopped."""
        node = self._node(self.primary_node())
        if not node.running():
            raise ClusterError(f"the primary {node.name} is stopped already", field="stateful")
        self._log("lblab", "stop", f"{node.name} patroni keeper pid {node.process.pid} (SIGTERM)")
        procs.stop(node.process, grace_s=timeout_s)
        return node.name

    def restart(self, name: str, *, timeout_s: float = 60.0) -> None:
        """Start a stopped node's Patroni again; it rejoins as the leader's replica (pg_rewind when
        its timeline diverged). A killed primary needs none: its Patroni brings it back itself."""
        node = self._node(name)
        if node.running():
            raise ClusterError(f"{name} is running", field="stateful")
        self._start(node)
        self._log("lblab", "restart", f"{name} patroni keeper pid {node.process.pid}")
        self._wait(lambda: self._api_answers(node), node, "answer on its REST API", time.monotonic() + timeout_s)

    def pause_replication(self) -> int:
        """SIGSTOP the primary's WAL sender (stop_wal_sender): the replica receives nothing more
        while the primary goes on committing. For tests of a forced loss: the next kill_primary()
        takes the stopped sender with the server. Its PID."""
        pid = stop_wal_sender(self.address(self.primary_node()))
        self._log("lblab", "pause", f"WAL sender pid {pid} (SIGSTOP)")
        return pid

    # Events.
    def switches(self) -> list[Switch]:
        """Each change of leader once, when the watcher first saw it."""
        found = []
        for event in self.events():
            if event.kind == "leader" and " (was " in event.detail:
                new, old = event.detail.removesuffix(")").split(" (was ")
                found.append(Switch(at=event.at, old=self.address(old), new=self.address(new), node=new))
        return found

    # Stopping.
    def close(self) -> None:
        """Stop every node (its keeper takes Patroni and PostgreSQL along), then etcd, by PID; any
        postmaster still named by a data dir is SIGKILLed by its group; the temp dir is removed.
        Safe to call twice."""
        self._closing.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5.0)
        procs.stop(*[node.process for node in self.nodes if node.process is not None], grace_s=STOP_GRACE_S)
        for node in self.nodes:
            pid = node.postmaster_pid()
            if pid is not None:  # only when a keeper was killed before it could stop it
                _kill_server(pid)
        if self._etcd is not None:
            procs.stop(self._etcd, grace_s=STOP_GRACE_S)
        super().close()

    # Inside.
    def _leader_name(self) -> str | None:
        return next((name for name, member in self.members().items() if member.get("role") == "leader"), None)

    def _api_answers(self, node: _Node) -> bool:
        try:
            with urllib.request.urlopen(f"{node.api}/liveness", timeout=REST_TIMEOUT_S):
                return True
        except urllib.error.HTTPError:
            return True  # it answered (503 while PostgreSQL starts)
        except OSError:
            return False

    def _start_etcd(self, deadline: float) -> None:
        data, console = self._root / "etcd", self._root / "etcd.log"
        client, peer = f"http://{HOST}:{self._etcd_client_port}", f"http://{HOST}:{self._etcd_peer_port}"
        with console.open("ab") as log:
            self._etcd = procs.start(
                [self._etcd_binary, "--name", "etcd-0", "--data-dir", str(data),
                 "--listen-client-urls", client, "--advertise-client-urls", client,
                 "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                 "--initial-cluster", f"etcd-0={peer}", "--initial-cluster-state", "new",
                 "--initial-cluster-token", self._root.name],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        while True:
            if self._etcd.poll() is not None:
                raise ClusterError(f"etcd exited on start: {procs.log_tail(console)}", field="stateful")
            try:
                with urllib.request.urlopen(f"{client}/health", timeout=REST_TIMEOUT_S) as response:
                    if json.load(response).get("health") == "true":
                        return
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise ClusterError(f"etcd did not answer on port {self._etcd_client_port}: {procs.log_tail(console)}",
                                   field="stateful")
            time.sleep(0.1)

    def _start(self, node: _Node) -> None:
        user = ["--user", self._user] if self._user else []
        node.process = procs.start(
            procs.python_module_cmd("clusters.sandbox.stateful.keeper", "--log", str(node.console), *user,
                                    "--", self._patroni, str(node.config)),
            death_signal=signal.SIGUSR1, env=procs.child_env(), stdin=subprocess.DEVNULL)

    def _wait(self, ready, node: _Node, what: str, deadline: float) -> None:
        while not ready():
            if not node.running():
                raise ClusterError(f"{node.name} exited on start: {node.log_tail()}", field="stateful")
            if time.monotonic() > deadline:
                raise ClusterError(f"{node.name} did not {what} in time: {node.log_tail()}", field="stateful")
            time.sleep(0.1)

    def _watch(self) -> None:
        """Patroni's view of the cluster every WATCH_PERIOD_S into the log, until close(): a new
        leader, and each node's role and state as they change."""
        leader = self._leader_name()
        seen: dict[str, tuple[str, str]] = {}
        while not self._closing.wait(WATCH_PERIOD_S):
            members = self.members()
            if not members:
                continue  # no REST API answered this time
            now_leader = next((name for name, member in members.items() if member.get("role") == "leader"), None)
            if now_leader is not None and now_leader != leader:
                self._log("patroni", "leader", f"{now_leader} (was {leader})" if leader else now_leader)
                leader = now_leader
            for name, member in members.items():
                state = (member.get("role", ""), member.get("state", ""))
                if name in seen and seen[name] != state:
                    self._log(name, "member", f"{name} {' '.join(seen[name])} → {' '.join(state)}")
                seen[name] = state


def _kill_server(postmaster: int) -> None:
    """SIGKILL a postmaster's process group: the server and every backend. Patroni's start helper
    made that group (setsid) and exited, so its id is the helper's old PID, not the postmaster's."""
    try:
        group = os.getpgid(postmaster)
    except ProcessLookupError:
        return
    if group != os.getpgrp():  # never our own group
        procs.signal_group(group, signal.SIGKILL)
    procs.signal_pid(postmaster, signal.SIGKILL)


