"""The pods' client of the stateful store (asyncio): what a service behind the balancer does with
its Redis or its PostgreSQL, as production clients do it. `store_client(settings)` picks by kind.

Redis (`StoreClient`), as a Sentinel-aware client does it (Sentinel's client guidelines):
the primary is asked of the Sentinels (`SENTINEL get-master-addr-by-name`), checked to answer
`ROLE` as a master, and used until a command on it fails; then the connection is dropped and the
next request asks the Sentinels again, so after a failover the pod writes to the new primary. No
retry inside redis-py (the old address may be the old primary restarted empty, taking writes until
Sentinel turns it into a replica): a failed request fails, the load sees it, and the next one
goes back to the Sentinels.

- `write(id)`: `SADD <key> id`, then in `sync` mode `WAIT 1 <timeout>` on the same connection;
  acknowledged only when a replica has it (WAIT is best effort: LB Lab measures what was lost).
- `read(id)`: whether the id is in the set, read from the primary.

Settings (the pod's `store`): `{"kind": "redis", "sentinels": [[host, port], ...], "service",
"durability": "sync"|"async", "key"}`.

PostgreSQL behind Patroni (`PostgresStoreClient`): a few connections through libpq's multi-host
connection string with `target_session_attrs=read-write` (libpq keeps the host that takes writes:
the primary); a connection that fails is dropped and the next request connects again, so after a
failover the pod writes to the new primary. `write(id)` inserts the id into the records table
(each insert its own transaction: the commit returns once the synchronous standby flushed it under
Patroni's synchronous_mode, on the primary's own commit in async); `read(id)` whether it is there.
No statement_timeout: a cancelled wait for the synchronous standby would return the commit as done.
Settings: `{"kind": "postgres", "conninfo", "table", "durability"}`. Django-free.
"""

from __future__ import annotations

import asyncio

import psycopg
import redis
from psycopg import sql
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff

DEFAULT_KEY = "lblab:records"  # Redis: the set of records
DEFAULT_TABLE = "lblab_records"  # PostgreSQL: the records table (postgres_writer.create_table)
PG_CONNECTIONS = 4  # a pod's connections to the primary at most
WAIT_TIMEOUT_MS = 500
STORE_ERRORS = (redis.RedisError, OSError, asyncio.TimeoutError)


class StoreUnavailable(Exception):
    """The write or read did not happen as asked (no primary, an error, a WAIT that timed out)."""


def _no_retry() -> Retry:
    return Retry(NoBackoff(), 0)


class StoreClient:
    def __init__(self, settings: dict):
        self.service = settings.get("service", "lblab")
        self.durability = settings.get("durability", "sync")
        self.key = settings.get("key", DEFAULT_KEY)
        self.wait_timeout_ms = int(settings.get("wait_timeout_ms", WAIT_TIMEOUT_MS))
        sentinels = [(host, int(port)) for host, port in settings["sentinels"]]
        self.sentinel = Sentinel(sentinels, socket_timeout=1.0, retry=_no_retry(),
                                 sentinel_kwargs={"socket_timeout": 1.0, "retry": _no_retry()})
        self.client: Redis | None = None
        self.primary: str = ""  # host:port of the primary in use ("" when none)
        self._connecting = asyncio.Lock()

    async def _primary(self) -> Redis:
        if self.client is not None:
            return self.client
        async with self._connecting:
            if self.client is not None:
                return self.client
            try:
                host, port = await self.sentinel.discover_master(self.service)
                client = Redis(host=host, port=int(port), socket_timeout=self.wait_timeout_ms / 1000 + 1.0,
                               socket_connect_timeout=1.0, retry=_no_retry(), decode_responses=True)
                role = (await client.execute_command("ROLE"))[0]
            except STORE_ERRORS as exc:
                raise StoreUnavailable(f"no primary: {type(exc).__name__}: {exc}") from exc
            if role != "master":
                await client.aclose()
                raise StoreUnavailable(f"{host}:{port} is a {role}, not the primary yet")
            self.client, self.primary = client, f"{host}:{port}"
            return client

    async def _drop(self) -> None:
        client, self.client, self.primary = self.client, None, ""
        if client is not None:
            try:
                await client.aclose()
            except STORE_ERRORS:
                pass

    async def write(self, record: str) -> dict:
        """Add `record`; the answer once the store confirmed it in the durability mode, else
        StoreUnavailable (the write may still have been applied: indeterminate)."""
        client = await self._primary()
        primary = self.primary
        try:
            async with client.pipeline(transaction=False) as pipe:
                pipe.sadd(self.key, record)
                if self.durability == "sync":
                    pipe.execute_command("WAIT", 1, self.wait_timeout_ms)
                replies = await pipe.execute()
        except STORE_ERRORS as exc:
            await self._drop()
            raise StoreUnavailable(f"write failed on {primary}: {type(exc).__name__}") from exc
        if self.durability == "sync" and int(replies[1]) < 1:
            raise StoreUnavailable(f"no replica confirmed the write within {self.wait_timeout_ms} ms (WAIT 1)")
        return {"id": record, "acked": True, "primary": primary, "durability": self.durability}

    async def read(self, record: str) -> dict:
        client = await self._primary()
        primary = self.primary
        try:
            present = bool(await client.sismember(self.key, record))
        except STORE_ERRORS as exc:
            await self._drop()
            raise StoreUnavailable(f"read failed on {primary}: {type(exc).__name__}") from exc
        return {"id": record, "present": present, "primary": primary}

    async def close(self) -> None:
        await self._drop()
        for sentinel in self.sentinel.sentinels:
            try:
                await sentinel.aclose()
            except STORE_ERRORS:
                pass


class PostgresStoreClient:
    def __init__(self, settings: dict):
        self.durability = settings.get("durability", "sync")
        self.conninfo = settings["conninfo"]
        table = sql.Identifier(settings.get("table", DEFAULT_TABLE))
        self.insert = sql.SQL("INSERT INTO {} (id) VALUES (%s) ON CONFLICT DO NOTHING").format(table)
        self.select = sql.SQL("SELECT 1 FROM {} WHERE id = %s").format(table)
        self._slots = asyncio.Semaphore(int(settings.get("connections", PG_CONNECTIONS)))
        self._idle: list[psycopg.AsyncConnection] = []

    async def _run(self, statement, record: str) -> tuple[bool, str]:
        """Run `statement` with `record` on a connection to the primary: (a row came back, the
        primary's host:port). StoreUnavailable when no host takes writes or the statement failed."""
        async with self._slots:
            conn = self._idle.pop() if self._idle else None
            try:
                if conn is None:
                    conn = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
                primary = f"{conn.info.host}:{conn.info.port}"
                cursor = await conn.execute(statement, (record,))
                found = cursor.description is not None and await cursor.fetchone() is not None
            except (psycopg.Error, OSError) as exc:
                if conn is not None:
                    await conn.close()
                raise StoreUnavailable(f"{'no primary' if conn is None else 'failed'}: {type(exc).__name__}") from exc
            self._idle.append(conn)
            return found, primary

    async def write(self, record: str) -> dict:
        """Insert `record`; the answer once the commit returned (in `sync` mode, once the
        synchronous standby has it), else StoreUnavailable (the write may still have been applied)."""
        _, primary = await self._run(self.insert, record)
        return {"id": record, "acked": True, "primary": primary, "durability": self.durability}

    async def read(self, record: str) -> dict:
        present, primary = await self._run(self.select, record)
        return {"id": record, "present": present, "primary": primary}

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()


def store_client(settings: dict) -> StoreClient | PostgresStoreClient:
    """The pods' client of the store their settings name (`kind`)."""
    return PostgresStoreClient(settings) if settings.get("kind") == "postgres" else StoreClient(settings)
