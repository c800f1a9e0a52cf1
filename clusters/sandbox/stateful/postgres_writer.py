"""The durability probe's writer and reader against a Patroni cluster (issue 21), beside writer.py's
for Redis and filling the same WriteLog.

The writer inserts unique ids into one table (`INSERT INTO <table> (id) VALUES (...)`, autocommit:
each insert is its own transaction) through a libpq multi-host connection string with
`target_session_attrs=read-write` (postgres.conninfo), as a production client reaches the primary
of a Patroni cluster: libpq tries each host and keeps the one that takes writes. On any error it
drops the connection and connects again, so after a failover it writes to the new primary. A write
counts as acknowledged when its COMMIT returned, and what that means is the cluster's mode:

- `sync`: Patroni's `synchronous_mode` (synchronous_commit on, the replica named in
  synchronous_standby_names): the commit returns once the synchronous standby flushed it;
- `async`: on the primary's own commit.

No statement_timeout: a cancelled wait for the synchronous standby returns the commit as done
(PostgreSQL warns that it "has already committed locally"), which would acknowledge a write the
standby may lack; a write ends only with its answer or its connection's loss. Any error counts
the write failed (indeterminate). Times are unix times (`time.time()`), the set's event clock.

    log = write_ids(pg_set.conninfo(), table="probe", mode="sync", duration_s=10)
    log.check(read_ids(pg_set.conninfo(), table="probe"))     # clusters.durability.Durability
"""

from __future__ import annotations

import threading
import time

import psycopg
from psycopg import sql

from clusters.base import ClusterError
from clusters.sandbox.stateful.store import DEFAULT_TABLE
from clusters.sandbox.stateful.writer import WriteLog, paced_writes, start_log


def create_table(conn: psycopg.Connection, table: str) -> None:
    """The records table (`id text PRIMARY KEY`), once; two writers creating it at once is fine."""
    try:
        conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (id text PRIMARY KEY)").format(sql.Identifier(table)))
    except psycopg.errors.UniqueViolation:
        pass  # another session created it between the check and the insert into the catalog


def write_ids(conninfo: str, *, table: str = DEFAULT_TABLE, mode: str, duration_s: float | None = None,
              stop: threading.Event | None = None, rate: float | None = 500.0, retry_pause_s: float = 0.05,
              log: WriteLog | None = None) -> WriteLog:
    """Insert ids `0, 1, 2, ...` into `table` until `duration_s` passed or `stop` is set; at most
    `rate` writes a second (None: as fast as one connection goes). Fills `log` when given."""
    log = start_log(mode, duration_s, stop, log)
    insert = sql.SQL("INSERT INTO {} (id) VALUES (%s)").format(sql.Identifier(table))

    def write(conn: psycopg.Connection, write_id: str) -> str:
        conn.execute(insert, (write_id,))
        return ""

    return paced_writes(log, connect=lambda: _connect(conninfo, table, log), write=write, errors=psycopg.Error,
                        duration_s=duration_s, stop=stop, rate=rate, retry_pause_s=retry_pause_s)


def _connect(conninfo: str, table: str, log: WriteLog) -> psycopg.Connection | None:
    """An autocommit connection to the primary libpq finds (target_session_attrs=read-write), the
    table created; None when no host takes writes yet."""
    try:
        conn = psycopg.connect(conninfo, autocommit=True)
        create_table(conn, table)
    except psycopg.Error:
        return None
    log.primaries.append((time.time(), (conn.info.host, int(conn.info.port))))
    return conn


def read_ids(conninfo: str, *, table: str = DEFAULT_TABLE, timeout_s: float = 30.0) -> set[str]:
    """Every id in `table`, read from the primary (retried until `timeout_s`: after a failover the
    new primary may take a moment to take writes)."""
    select = sql.SQL("SELECT id FROM {}").format(sql.Identifier(table))
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with psycopg.connect(conninfo, autocommit=True) as conn:
                return {row[0] for row in conn.execute(select)}
        except psycopg.Error as exc:
            if time.monotonic() > deadline:
                raise ClusterError(f"could not read {table!r} back from the primary: {exc}", field="stateful") from exc
            time.sleep(0.1)
