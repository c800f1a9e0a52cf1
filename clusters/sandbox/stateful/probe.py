"""The durability probe of a run (issue 21), as Jepsen's set workload: a writer beside the load's
users adds records with unique ids through the balancer (`POST /kv/<id>`, one keep-alive
connection), so every write crosses the same pods and the same Sentinel-aware client as the load.
A write is acknowledged only when a pod answered 200, which it does only once the store confirmed
it in the target's durability mode (`WAIT 1` for `sync`, the primary's reply for `async`); any
other answer, an error or a timeout counts it failed (indeterminate). After the run the set is
read back from the primary (`read_records`: the one the Sentinels name, writer.read_ids, or the
one libpq's multi-host connection finds, postgres_writer.read_ids) and judged by
clusters/durability.py; ids are `<prefix><n>`, so only the probe's own records are judged.

    probe = DurabilityProbe(cluster.endpoint, prefix="probe-1-")
    probe.start(); ...; probe.stop()
    result = probe.check(read_records(cluster.stateful()))   # Durability

Times are unix times (time.time()). Django-free.
"""

from __future__ import annotations

import http.client
import threading
import time
from urllib.parse import urlsplit

from clusters.durability import Durability, check
from clusters.sandbox.stateful.store import DEFAULT_KEY
from clusters.sandbox.stateful.writer import WriteLog, read_ids

REQUEST_TIMEOUT_S = 5.0


def read_records(store: dict) -> set[str]:
    """Every record the pods wrote, read back from the store's primary now; `store` is the
    sandbox's GET /stateful (its Sentinels, or its connection string and table)."""
    if store["store"] == "postgres":
        from clusters.sandbox.stateful.postgres_writer import read_ids as read_rows

        return read_rows(store["conninfo"], table=store["table"])
    return read_ids([tuple(address) for address in store["sentinels"]], key=DEFAULT_KEY)


class DurabilityProbe:
    def __init__(self, endpoint: str, *, prefix: str, mode: str = "sync", rate: float = 100.0):
        parts = urlsplit(endpoint)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.prefix, self.rate = prefix, rate
        self.log = WriteLog(mode=mode)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._write, name="lblab-durability-probe", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = REQUEST_TIMEOUT_S + 2.0) -> WriteLog:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout_s)
        return self.log

    def check(self, present) -> Durability:
        """The verdict over what was read back (only ids of this probe count)."""
        mine = {record for record in present if str(record).startswith(self.prefix)}
        return check(acked=self.log.acked, failed=self.log.failed, present=mine,
                     ack_times=self.log.acked if self.log.mode == "async" else None)

    def _write(self) -> None:
        conn, number, next_at = None, 0, time.monotonic()
        while not self._stop.is_set():
            next_at = max(next_at + 1 / self.rate, time.monotonic() - 1.0)
            if self._stop.wait(max(0.0, next_at - time.monotonic())):
                break
            record = f"{self.prefix}{number}"
            number += 1
            if conn is None:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT_S)
            try:
                conn.request("POST", f"/kv/{record}")
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                self.log.failed[record] = time.time()
                self.log.errors[type(exc).__name__] += 1
                conn.close()
                conn = None
                continue
            if status == 200:
                self.log.acked[record] = time.time()
            else:
                self.log.failed[record] = time.time()
                self.log.errors[f"HTTP {status}"] += 1
        if conn is not None:
            conn.close()
