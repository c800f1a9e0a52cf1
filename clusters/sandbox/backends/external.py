"""What nginx and HAProxy fronts share: a real balancer run by the controller as a child process,
with its own configuration in a temp dir, rewritten from LB Lab's balancer state after every change.

The process stays in the controller's process group (`procs.start(own_group=False)`), so
`SandboxCluster.close()`'s one `killpg` reaches it and its workers whatever happens; it gets
SIGTERM when the controller dies (a master then stops its workers); `stop()` ends it by PID:
SIGTERM to the master, then SIGKILL to the master and every worker it had. Nothing is started
through a service manager, and Debian's own nginx/haproxy service is never used.
"""

from __future__ import annotations

import abc
import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psutil

from clusters import procs
from clusters.algorithms import ALGORITHMS, Algorithm
from clusters.base import ClusterError
from clusters.sandbox.backends import Front, integer_weights, pod_counters, wait_listening

STOP_GRACE_S = 5.0
RELOAD_TIMEOUT_S = 10.0


class Server:
    """A pod as a real balancer's config names it."""

    __slots__ = ("name", "host", "port", "weight", "up")

    def __init__(self, name: str, host: str, port: int, weight: int, up: bool):
        self.name, self.host, self.port, self.weight, self.up = name, host, port, weight, up

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


class ExternalFront(Front):
    """A real balancer in front of the pods. Subclasses write the config (`render`), check it
    (`validate_argv`), and apply a change (`_apply`: a reload or runtime commands)."""

    config_name: str
    max_weight: int
    reload_keeps_tcp_connections = True  # nginx's stream workers and HAProxy's `mode tcp` do

    def __init__(self, backend, balancer, supervisor, config):
        self.binary = backend.located()
        self.backend = backend
        self.balancer = balancer
        self.supervisor = supervisor
        self.config = config
        self.tmp = Path(tempfile.mkdtemp(prefix=f"lblab-{backend.name}-"))
        os.chmod(self.tmp, 0o755)  # nginx's workers drop to `nobody` when the controller is root
        self.proc: subprocess.Popen | None = None
        self.host = config.host
        self.port = 0
        self.last_error = ""
        self._lock = asyncio.Lock()
        self._pending: asyncio.Task | None = None
        self._known_pids: set[int] = set()
        balancer.listeners.append(self._changed)

    # What the config is written from.
    def algorithm(self) -> Algorithm:
        return ALGORITHMS[self.balancer.algorithm]

    def servers(self) -> list[Server]:
        """Every pod the balancer knows and is not stopping, by name; `up` when it is ready."""
        upstreams = sorted((u for u in self.balancer.upstreams.values() if not u.terminating), key=lambda u: u.name)
        weighted = self.algorithm().weighted
        weights = integer_weights({u.name: u.weight for u in upstreams}, self.max_weight) if weighted else {}
        return [Server(u.name, u.host, u.port, weights.get(u.name, 1), u.eligible) for u in upstreams]

    @property
    def config_path(self) -> Path:
        return self.tmp / self.config_name

    @abc.abstractmethod
    def render(self) -> str:
        """The whole config for the balancer's current state."""

    @abc.abstractmethod
    def validate_argv(self, path: Path) -> list[str]:
        """The command that checks a config file (nginx -t, haproxy -c)."""

    @abc.abstractmethod
    def start_argv(self) -> list[str]:
        """The command that runs the balancer in the foreground on `config_path`."""

    @abc.abstractmethod
    async def _apply(self) -> None:
        """Bring the running balancer to `render()`'s state (the lock is held)."""

    # Writing and checking a config.
    def write_checked(self, text: str) -> None:
        """Check `text` with the balancer's own checker, then make it the config; ClusterError
        (field="algorithm") with the checker's last line when it is refused."""
        candidate = self.tmp / f"candidate-{self.config_name}"
        candidate.write_text(text)
        done = procs.run(self.validate_argv(candidate), timeout=30)
        if done.returncode != 0:
            lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
            raise ClusterError(f"{self.backend.name} refused the config: {lines[-1] if lines else done.returncode}",
                               field="algorithm")
        candidate.replace(self.config_path)

    # Life.
    async def start(self, host: str, port: int) -> int:
        self.host = host
        self.port = port or procs.free_port(host)
        self.write_checked(self.render())
        with open(self.tmp / "stderr.log", "ab") as stderr:
            # From the controller's loop thread: the parent-death signal follows that thread.
            self.proc = procs.start(self.start_argv(), death_signal=signal.SIGTERM, own_group=False,
                                    stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr, cwd=self.tmp)
        self._remember_pids()
        try:
            await wait_listening(host, self.port, lambda: self.proc.poll() is None)
        except ClusterError as exc:
            raise ClusterError(f"{exc.args[0]}: {self.log_tail()}", field="balancer") from None
        self.started()
        return self.port

    def started(self) -> None:
        """Called once the balancer listens (HAProxy records what it applied)."""

    async def ready(self) -> None:
        await self.apply()

    def _changed(self) -> None:
        if self.proc is None or self._pending is not None:
            return
        self._pending = asyncio.get_running_loop().create_task(self._apply_soon())

    async def _apply_soon(self) -> None:
        await asyncio.sleep(0)  # a burst of changes (pods ready together) is one reload
        self._pending = None
        try:
            await self.apply()
        except (ClusterError, OSError) as exc:  # the previous config keeps serving
            self.last_error = str(exc)

    async def settle(self) -> None:
        pending = self._pending
        if pending is not None:
            await asyncio.shield(pending)
        async with self._lock:
            pass

    async def apply(self) -> None:
        if self.proc is None:
            return
        async with self._lock:
            await self._apply()
            self._remember_pids()

    def pids(self) -> list[int]:
        if self.proc is None or self.proc.poll() is not None:
            return []
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            children = []
        return [self.proc.pid, *(child.pid for child in children)]

    def workdir(self) -> str:
        return str(self.tmp)

    def _remember_pids(self) -> None:
        self._known_pids.update(self.pids())

    async def wait_for(self, predicate, what: str, timeout: float = RELOAD_TIMEOUT_S) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if self.proc.poll() is not None:
                raise ClusterError(f"{self.backend.name} exited: {self.log_tail()}", field="balancer")
            if loop.time() > deadline:
                raise ClusterError(f"{self.backend.name}: {what} did not happen in time: {self.log_tail()}",
                                   field="algorithm")
            await asyncio.sleep(0.01)

    def log_tail(self) -> str:
        return procs.log_tail(self.tmp / "stderr.log", self.tmp / "error.log", lines=1)

    async def stats(self) -> dict[str, dict]:
        return await pod_counters(self.supervisor, self.balancer)

    async def stop(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
        if self._lock.locked():  # let a reload in progress finish first: its processes are ours too
            async with self._lock:
                pass
        proc = self.proc
        if proc is not None:
            self._remember_pids()
            procs.signal_pid(proc.pid, signal.SIGTERM)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + STOP_GRACE_S
            while proc.poll() is None and loop.time() < deadline:
                await asyncio.sleep(0.02)
            if proc.poll() is None:
                procs.signal_pid(proc.pid, signal.SIGKILL)
            for pid in sorted(self._known_pids - {proc.pid}):  # workers it left behind
                if _ours(pid, proc.pid, self.binary):
                    procs.signal_pid(pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _ours(pid: int, master: int, binary: str) -> bool:
    """Whether `pid` is still a worker the balancer started: a child of our master, or orphaned from
    it (reparented) but still our balancer's program in our process group. A recycled pid (a pod
    of this sandbox, another user's process) is left alone."""
    try:
        process = psutil.Process(pid)
        if process.ppid() == master:
            return True
        return os.getpgid(pid) == os.getpgid(0) and process.exe() == os.path.realpath(binary)
    except (psutil.Error, OSError):
        return False
