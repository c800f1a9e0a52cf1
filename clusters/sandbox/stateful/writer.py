"""The durability probe's writer and reader against a Redis Sentinel set (issue 21).

The writer adds unique ids to one set (`SADD key id`) through the primary the Sentinels name
(`SENTINEL get-master-addr-by-name`, redis-py's `Sentinel.discover_master`), as a Sentinel-aware
client does: on any error it drops its connection, asks the Sentinels again and reconnects, so
after a failover it writes to the new primary. A write counts as acknowledged:

- `sync`: only when `WAIT 1 <timeout>`, sent right after the write on the same connection,
  says at least one replica has it; a WAIT that returns 0 counts the write as failed (it may
  still be present: `recovered`). Redis documents WAIT as best effort during a failover: the probe
  measures what was lost, it does not assume zero;
- `async`: on the primary's reply.

Any error or timeout of the write counts it failed (indeterminate). Ids are never reused.
Acknowledgement and failure times are unix times (`time.time()`), the clock of the set's event log.

    log = write_ids(redis_set.sentinels, key="probe", mode="sync", duration_s=10)
    present = read_ids(redis_set.sentinels, key="probe")
    log.check(present)          # clusters.durability.Durability
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.sentinel import Sentinel

from clusters.base import ClusterError
from clusters.durability import Durability, check
from clusters.sandbox.stateful.redis import NO_RETRY, SERVICE, Address, sentinel_of

MODES = ("sync", "async")


@dataclass
class WriteLog:
    mode: str
    acked: dict[str, float] = field(default_factory=dict)  # id -> when it was acknowledged
    failed: dict[str, float] = field(default_factory=dict)  # id -> when it failed or timed out
    primaries: list[tuple[float, Address]] = field(default_factory=list)  # (when, primary) per (re)connection
    errors: collections.Counter = field(default_factory=collections.Counter)  # why writes failed

    def acked_on(self, address: Address) -> list[str]:
        """The ids acknowledged while the writer was connected to `address`."""
        ids, current = [], None
        changes = iter(self.primaries)
        upcoming = next(changes, None)
        for write_id, at in sorted(self.acked.items(), key=lambda item: item[1]):
            while upcoming is not None and upcoming[0] <= at:
                current, upcoming = upcoming[1], next(changes, None)
            if current == tuple(address):
                ids.append(write_id)
        return ids

    def check(self, present) -> Durability:
        """The verdict over the ids read back; the RPO in async mode."""
        return check(acked=self.acked, failed=self.failed, present=present,
                     ack_times=self.acked if self.mode == "async" else None)


def write_ids(sentinels: Sequence[Address], *, key: str, mode: str, duration_s: float | None = None,
              stop: threading.Event | None = None, service: str = SERVICE, wait_timeout_ms: int = 500,
              rate: float | None = 500.0, retry_pause_s: float = 0.05, log: WriteLog | None = None) -> WriteLog:
    """Write ids `0, 1, 2, ...` to the set `key` until `duration_s` passed or `stop` is set;
    at most `rate` writes a second (None: as fast as one connection goes). Fills `log` when given
    (another thread may watch its counts grow), else a new one."""
    log = start_log(mode, duration_s, stop, log)
    sentinel = sentinel_of(list(sentinels))
    socket_timeout = wait_timeout_ms / 1000 + 1.0

    def write(client: redis.Redis, write_id: str) -> str:
        if mode == "async":
            client.sadd(key, write_id)
            return ""
        pipe = client.pipeline(transaction=False)
        pipe.sadd(key, write_id)
        pipe.wait(1, wait_timeout_ms)
        return "" if pipe.execute()[1] >= 1 else "WAIT 0 replicas"

    return paced_writes(log, connect=lambda: _connect(sentinel, service, socket_timeout, log), write=write,
                        errors=redis.RedisError, duration_s=duration_s, stop=stop, rate=rate,
                        retry_pause_s=retry_pause_s)


def start_log(mode: str, duration_s: float | None, stop: threading.Event | None, log: WriteLog | None) -> WriteLog:
    """The log a writer fills (`log`, else a new one), once its arguments are checked."""
    if mode not in MODES:
        raise ClusterError(f"unknown durability mode {mode!r}; one of {', '.join(MODES)}", field="durability")
    if duration_s is None and stop is None:
        raise ClusterError("give a duration or a stop event", field="duration")
    if log is not None and log.mode != mode:
        raise ClusterError(f"the log is for {log.mode} writes, not {mode}", field="durability")
    return log if log is not None else WriteLog(mode=mode)


def paced_writes(log: WriteLog, *, connect: Callable[[], Any], write: Callable[[Any, str], str],
                 errors: type[Exception] | tuple[type[Exception], ...], duration_s: float | None,
                 stop: threading.Event | None, rate: float | None, retry_pause_s: float) -> WriteLog:
    """The probe's loop, the same for every store: write ids `0, 1, 2, ...` through a client from
    `connect()` (None while no primary takes writes), at most `rate` a second, until `duration_s`
    passed or `stop` is set. `write(client, id)` returns "" when the store acknowledged the id, else
    why it did not; an exception of `errors` counts the id failed and drops the client, so the next
    write reconnects to whichever primary there is then. Ids are never reused."""
    stop = stop or threading.Event()
    end = None if duration_s is None else time.monotonic() + duration_s
    client, next_id, next_at = None, 0, time.monotonic()
    while not stop.is_set() and (end is None or time.monotonic() < end):
        if client is None:
            client = connect()
            if client is None:
                stop.wait(retry_pause_s)
                continue
        if rate:
            next_at = max(next_at + 1 / rate, time.monotonic() - 1.0)
            stop.wait(max(0.0, next_at - time.monotonic()))
        write_id = str(next_id)
        next_id += 1
        try:
            refused = write(client, write_id)
        except errors as exc:
            log.failed[write_id] = time.time()
            log.errors[type(exc).__name__] += 1
            client.close()
            client = None
            stop.wait(retry_pause_s)
            continue
        if refused:
            log.failed[write_id] = time.time()
            log.errors[refused] += 1
        else:
            log.acked[write_id] = time.time()
    if client is not None:
        client.close()
    return log


def _connect(sentinel: Sentinel, service: str, socket_timeout: float, log: WriteLog) -> redis.Redis | None:
    """A client of the primary the Sentinels name now, checked to answer `ROLE` as a master (as
    Sentinel's client guidelines ask); None when there is none yet.

    No retries inside redis-py (`NO_RETRY`): after a primary's death its address may be the old
    primary restarted empty, which takes writes until Sentinel turns it into a replica. A failure
    goes back to the Sentinels."""
    try:
        host, port = sentinel.discover_master(service)
        client = redis.Redis(host=host, port=port, socket_timeout=socket_timeout, socket_connect_timeout=1.0,
                             retry=NO_RETRY)
        role = client.execute_command("ROLE")[0]
    except redis.RedisError:
        return None
    if role not in (b"master", "master"):
        client.close()
        return None
    log.primaries.append((time.time(), (host, int(port))))
    return client


def read_ids(sentinels: Sequence[Address], *, key: str, service: str = SERVICE, timeout_s: float = 15.0) -> set[str]:
    """Every id in the set `key`, read from the primary the Sentinels name (retried until `timeout_s`)."""
    sentinel = sentinel_of(list(sentinels))
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            host, port = sentinel.discover_master(service)
            with redis.Redis(host=host, port=port, socket_timeout=5.0, decode_responses=True,
                             retry=NO_RETRY) as client:
                return set(client.smembers(key))
        except redis.RedisError as exc:
            if time.monotonic() > deadline:
                raise ClusterError(f"could not read {key!r} back from the primary: {exc}", field="stateful") from exc
            time.sleep(0.1)
