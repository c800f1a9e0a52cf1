"""What the stateful sets (redis.py, postgres.py) share: servers in one temp dir, each in its own
dir with its config and logs; the set's failover event log and the promotions read from it; and
finding a node by name. Each set says how it starts, watches and stops its servers. Django-free.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Self

from clusters import procs
from clusters.base import ClusterError
from clusters.sandbox.stateful import Address, FailoverEvent, Switch

HOST = "127.0.0.1"


class ServerNode:
    """One server of a set: its dir under the set's root, where its config and logs are, and (while
    it runs) its process."""

    def __init__(self, name: str, root: Path):
        self.name = name
        self.dir = root / name
        self.dir.mkdir()
        self.console = self.dir / "console.log"  # its stdout and stderr: what it says before its own log
        self.process: subprocess.Popen | None = None

    @property
    def address(self) -> Address:  # pragma: no cover - each set's nodes say where they answer
        raise NotImplementedError

    def logs(self) -> list[Path]:
        """Where the server writes, oldest first: its console, then its own log files."""
        return [self.console]

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 5) -> str:
        return procs.log_tail(*self.logs(), lines=lines)


class ServerSet:
    """The servers of one stateful set in a temp dir, and its failover event log: what LB Lab did
    and what the store's own watchers reported, each with the unix time it was seen."""

    # What wait_for_switch's error says happened when no promotion came in time
    promoted_none = "no replica was promoted"

    def __init__(self, prefix: str):
        self._root = Path(tempfile.mkdtemp(prefix=prefix))
        self._events: list[FailoverEvent] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()

    def servers(self) -> list[ServerNode]:  # pragma: no cover - each set lists its own
        raise NotImplementedError

    @property
    def root(self) -> Path:
        """The temp dir holding every server's config, logs and data dir."""
        return self._root

    def address(self, name: str) -> Address:
        return self._node(name).address

    def events(self) -> list[FailoverEvent]:
        """The event log so far, in the order seen."""
        with self._lock:
            return list(self._events)

    def switches(self) -> list[Switch]:  # pragma: no cover - each store reports promotions its way
        raise NotImplementedError

    def wait_for_switch(self, *, since: float = 0.0, timeout_s: float = 30.0) -> Switch:
        """The first promotion seen at or after unix time `since`; ClusterError after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for switch in self.switches():
                if switch.at >= since:
                    return switch
            time.sleep(0.05)
        raise ClusterError(f"{self.promoted_none} within {timeout_s:.0f} s", field="stateful")

    def close(self) -> None:
        """Removes the temp dir; each set stops its servers first."""
        shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _node(self, name: str) -> ServerNode:
        for node in self.servers():
            if node.name == name:
                return node
        raise ClusterError(f"no node {name} in this set", field="stateful")

    def _log(self, source: str, kind: str, detail: str) -> None:
        with self._lock:
            self._events.append(FailoverEvent(at=time.time(), source=source, kind=kind, detail=detail))
