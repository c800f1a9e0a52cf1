"""The sandbox controller's side of its stateful store: starts it with the sandbox, serves the
chaos kinds on its primary, copies the failover into the sandbox's event log, and stops it with
the sandbox (by PID, temp dir removed).

The store's servers get a parent-death signal tied to the thread that started them, so they are
started (and restarted) only on this owner's one thread, which lives until `close()`; a
SIGKILLed controller takes them with it. Reading and killing run on the loop's default
executor, so a slow Sentinel never holds up the balancer on the controller's loop.

Events logged (clusters.base.EventType), `server` naming a store node (`redis-0`, `pg-0`):
`primary_killed` / `primary_stopped` (server, pid) when LB Lab takes the primary down,
`store_event` (source, event, detail) for what the Sentinels publish of a failover (`+sdown`,
`+odown`, `+elected-leader`, `+promoted-slave`, `+convert-to-slave`, `-sdown`...), each once however
many Sentinels publish it, or a Patroni node's role and state as they change (`member`),
`failover` (server, old, new) when the first Sentinel published `+switch-master` or Patroni's
leader changed, and `store_restarted` (server) when restore starts a downed node again.

PostgreSQL (Patroni) differs in one way: a killed primary server needs no restore, its node's
Patroni starts it again itself, as the new primary's replica (pg_rewind); restore restarts only a
node that was stopped.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import time

from clusters.base import ClusterError, EventType
from clusters.sandbox.stateful.postgres import PatroniSet
from clusters.sandbox.stateful.redis import SERVICE, RedisSentinelSet
from clusters.sandbox.stateful.store import DEFAULT_TABLE

# Sentinel's events a run's timeline shows; the rest (+sentinel, +slave, +reboot...) is chatter.
TIMELINE_EVENTS = frozenset({"+sdown", "-sdown", "+odown", "-odown", "+try-failover", "+elected-leader",
                             "+selected-slave", "+promoted-slave", "+failover-end", "+convert-to-slave",
                             "member"})  # a Patroni node's role or state changed
PROMOTION_EVENTS = frozenset({"+switch-master", "leader"})  # Sentinel's and Patroni's word for it
SAME_EVENT_WINDOW_S = 5.0  # the same event from another Sentinel within this is one event
NO_STORE = "this sandbox runs no stateful store (start it with --stateful redis|postgres)"


class StoreOwner:
    def __init__(self, store: str, durability: str):
        self.store, self.durability = store, durability
        self._thread = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="lblab-store")
        self.set: RedisSentinelSet | PatroniSet | None = None
        self._copied = 0  # how many of the set's events were looked at
        self._seen: dict[tuple[str, str], float] = {}
        self._switches = 0
        self._down_at: dict[str, float] = {}  # server -> when LB Lab took it down
        self._restoring: asyncio.Task | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.store == "postgres":
            self.set = await loop.run_in_executor(self._thread, functools.partial(PatroniSet, durability=self.durability))
            await loop.run_in_executor(self._thread, self._create_table)
        else:
            self.set = await loop.run_in_executor(self._thread, RedisSentinelSet)

    def _create_table(self) -> None:
        from clusters.sandbox.stateful.postgres_writer import create_table

        with self.set.connect(self.set.primary_node()) as conn:
            create_table(conn, DEFAULT_TABLE)

    def pod_settings(self) -> dict:
        """The pods' `store` settings (clusters/sandbox/stateful/store.py)."""
        if self.store == "postgres":
            return {"kind": self.store, "conninfo": self.set.conninfo(), "table": DEFAULT_TABLE,
                    "durability": self.durability}
        return {"kind": self.store, "sentinels": [list(address) for address in self.set.sentinels],
                "service": SERVICE, "durability": self.durability}

    def _servers(self) -> list:
        return self.set.nodes if self.store == "postgres" else self.set.data

    def pids(self) -> dict[str, int]:
        return self.set.pids() if self.set is not None else {}

    async def status(self) -> dict:
        loop = asyncio.get_running_loop()
        try:
            primary = await loop.run_in_executor(None, self.set.primary_node)
        except Exception as exc:  # noqa: BLE001 - no Sentinel answered: said, not raised
            primary = f"unknown ({type(exc).__name__})"
        found = {"store": self.store, "durability": self.durability, "primary": primary, "pids": self.pids(),
                 "servers": {node.name: list(node.address) for node in self._servers()}, "root": str(self.set.root)}
        if self.store == "postgres":
            return {**found, "conninfo": self.set.conninfo(), "table": DEFAULT_TABLE}
        return {**found, "sentinels": [list(address) for address in self.set.sentinels]}

    async def kill_primary(self, events) -> dict:
        return await self._take_down("kill_primary", EventType.PRIMARY_KILLED, events)

    async def stop_primary(self, events) -> dict:
        return await self._take_down("stop_primary", EventType.PRIMARY_STOPPED, events)

    async def _take_down(self, how: str, logged: str, events) -> dict:
        loop = asyncio.get_running_loop()
        pids = self.pids()
        at = time.time()
        server = await loop.run_in_executor(None, getattr(self.set, how))
        self._down_at[server] = at
        # The process signalled: a Redis server; a Patroni node's postmaster when killed, its
        # keeper (Patroni's) when stopped.
        pid = pids.get(f"{server}/postgres") if how == "kill_primary" else None
        pid = pid if pid is not None else pids.get(server)
        events.record(logged, t=at, server=server, pid=pid)
        return {"server": server, "pid": pid}

    def restore(self, events) -> list[str]:
        """Start every data node that is down again, in the background (the API answers at once);
        the names of those it will start. Sentinel makes each a replica of the primary. A node the
        Sentinels still name as primary is started only once they promoted another: back sooner,
        empty (no persistence), it would stay primary and its replica would copy its empty data set.
        `store_restarted` is logged when each is back."""
        down = [node.name for node in self._servers() if not node.running()]
        if down and (self._restoring is None or self._restoring.done()):
            self._restoring = asyncio.get_running_loop().create_task(self._restart(down, events))
        return down

    async def _restart(self, names: list[str], events) -> None:
        try:
            await self._restart_each(names, events)
        except ClusterError as error:  # no promotion in time, a server that would not start: logged, not lost
            events.record(EventType.STORE_EVENT, source="lblab", event="restart-failed", detail=str(error))

    async def _restart_each(self, names: list[str], events) -> None:
        loop = asyncio.get_running_loop()
        for name in names:
            since = self._down_at.pop(name, 0.0)
            try:
                named = await loop.run_in_executor(None, self.set.primary_node)
            except Exception:  # noqa: BLE001 - no Sentinel answered: wait for the switch below
                named = name
            if named == name:
                await loop.run_in_executor(None, functools.partial(self.set.wait_for_switch, since=since))
            if self.store == "postgres":  # Patroni rejoins it as the leader's replica itself
                await loop.run_in_executor(self._thread, functools.partial(self.set.restart, name))
            else:
                # As the new primary's replica at once: started as a primary, it would take writes
                # (and hold none of the data) until Sentinel's next look at its role, up to 10 s later.
                primary = await loop.run_in_executor(None, self.set.primary)
                await loop.run_in_executor(self._thread, functools.partial(self.set.restart, name, replica_of=primary))
            self.copy_events(events)  # the promotion it waited for comes first in the log
            events.record(EventType.STORE_RESTARTED, server=name, pid=self.pids().get(name))

    def copy_events(self, events) -> None:
        """The set's new Sentinel or Patroni events into the sandbox's log (every tick of the loop)."""
        seen = self.set.events()
        new, self._copied = seen[self._copied:], len(seen)
        for event in new:
            if event.source == "lblab":
                continue  # what LB Lab did is logged by kill/stop/restore themselves
            if event.kind in PROMOTION_EVENTS:
                switches = self.set.switches()
                for switch in switches[self._switches:]:
                    events.record(EventType.FAILOVER, t=switch.at, server=switch.node,
                                  old=f"{switch.old[0]}:{switch.old[1]}", new=f"{switch.new[0]}:{switch.new[1]}")
                self._switches = len(switches)
            elif event.kind in TIMELINE_EVENTS:
                key = (event.kind, event.detail)
                if event.at - self._seen.get(key, -SAME_EVENT_WINDOW_S) >= SAME_EVENT_WINDOW_S:
                    events.record(EventType.STORE_EVENT, t=event.at, source=event.source, event=event.kind,
                                  detail=event.detail)
                self._seen[key] = event.at

    async def close(self) -> None:
        """Stop every server by PID and remove the temp dir; a restart not begun yet never begins."""
        loop = asyncio.get_running_loop()
        if self._restoring is not None and not self._restoring.done():
            self._restoring.cancel()
        try:
            if self.set is not None:
                await loop.run_in_executor(self._thread, self.set.close)
        finally:
            self._thread.shutdown(wait=True)


def require(owner: StoreOwner | None) -> StoreOwner:
    if owner is None or owner.set is None:
        raise ClusterError(NO_STORE, field="stateful")
    return owner
