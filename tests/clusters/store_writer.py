"""The durability probe's writer (Redis's or PostgreSQL's `write_ids`) in a thread, watched through
its log: what the stateful stores' failover tests share."""

from __future__ import annotations

import threading

from clusters.sandbox.stateful.writer import WriteLog
from tests.conftest import wait_for


class StoreWriter:
    """`write_ids(*args, mode=mode, stop=..., log=..., **kwargs)` running until `finish()`."""

    def __init__(self, write_ids, *args, mode: str, **kwargs):
        self.log, self.stop = WriteLog(mode=mode), threading.Event()
        self.thread = threading.Thread(target=write_ids, args=args, daemon=True,
                                       kwargs={**kwargs, "mode": mode, "stop": self.stop, "log": self.log})
        self.thread.start()

    def wait_acked(self, more: int) -> None:
        target = len(self.log.acked) + more
        wait_for(lambda: len(self.log.acked) >= target, f"{more} more acknowledged writes")

    def finish(self) -> WriteLog:
        self.stop.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()
        return self.log
