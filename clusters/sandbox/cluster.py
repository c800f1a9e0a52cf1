"""`SandboxCluster`: the Cluster interface on real local processes.

It starts the controller (clusters/sandbox/controller.py) as a child in a new process
group, from a thread of its own that lives until `close()`: the controller's
parent-death signal follows the thread that forked it, so a short-lived caller thread
(a request handler, a test) must not be the one. Everything else goes through the
control API client. `close()` asks the controller to stop its pods, then kills the
whole process group to be sure, by group id.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence

from clusters import procs
from clusters.base import Cluster, ClusterError, ClusterEvent, Fault, Pod, PodMetrics
from clusters.sandbox.client import ControlClient
from clusters.sandbox.config import SandboxConfig

STOP_GRACE_S = 5.0


class SandboxCluster(Cluster):
    """Start with `SandboxCluster(SandboxConfig(pods=4))` or `SandboxCluster(pods=4)`;
    use as a context manager or call `close()`."""

    def __init__(self, config: SandboxConfig | None = None, *, start_timeout: float = 60.0, **settings):
        if config is None:
            config = SandboxConfig(**settings)
        elif settings:
            raise TypeError("pass either a SandboxConfig or settings, not both")
        self.config = config
        self._proc: subprocess.Popen | None = None
        self._release = threading.Event()
        self._spawned = threading.Event()
        self._spawn_error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._own_controller, name="lblab-sandbox", daemon=True)
        self._thread.start()
        self._spawned.wait()
        if self._spawn_error is not None:
            raise self._spawn_error
        try:
            ready = self._read_ready_line(start_timeout)
        except BaseException:
            self.close()
            raise
        self._endpoint: str = ready["endpoint"]
        self.control_url: str = ready["control_url"]
        self.controller_pid: int = ready["pid"]
        self._workdir: str = ready.get("workdir", "")  # nginx's/HAProxy's config dir
        self._store_root: str = ready.get("store_root", "")  # the stateful store's temp dir
        self.client = ControlClient(self.control_url)
        atexit.register(self.close)

    def _own_controller(self) -> None:
        try:
            self._proc = procs.start_python_module("clusters.sandbox.controller", json.dumps(self.config.to_dict()),
                                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        except BaseException as exc:  # report to the constructor, which raises it
            self._spawn_error = exc
            self._spawned.set()
            return
        self._spawned.set()
        # Stay alive as long as the controller should: our exit is its parent-death signal.
        self._release.wait()

    def _read_ready_line(self, timeout: float) -> dict:
        proc = self._proc
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ClusterError("sandbox did not start in time", field="pods")
            readable, _, _ = select.select([proc.stdout], [], [], remaining)
            if readable:
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    raise ClusterError(f"sandbox controller exited ({proc.poll()}) before it was ready")
                line += chunk
        message = json.loads(line.split(b"\n", 1)[0])
        if "error" in message:
            raise ClusterError(message["error"], field=message.get("field"))
        return message

    # Where things are.
    @property
    def endpoint(self) -> str:
        return self._endpoint

    def pids(self) -> list[int]:
        """The controller's pid, every pod's and the real balancer's (nginx/HAProxy master and
        workers): what must be gone after `close()`."""
        status = self.client.status()
        return [status["pids"]["controller"], *status["pids"]["pods"].values(), *status["pids"]["balancer"],
                *status["pids"]["stateful"].values()]

    # The Cluster interface.
    def pods(self) -> list[Pod]:
        return self.client.pods()

    def pod_metrics(self) -> dict[str, PodMetrics]:
        return self.client.pod_metrics()

    def nodes(self) -> list[str]:
        return [node["name"] for node in self.client.status()["nodes"]]

    def kill_pod(self, pod: str) -> None:
        self.client.kill_pod(pod)

    def add_latency(
        self, pods: Sequence[str], ms: float, jitter: float = 0.0, duration: float = 30.0
    ) -> Fault:
        return self.client.add_fault("latency", pods, duration, ms=ms, jitter=jitter)

    def add_errors(
        self, pods: Sequence[str], rate: float, status: int = 500, duration: float = 30.0
    ) -> Fault:
        return self.client.add_fault("errors", pods, duration, rate=rate, status=status)

    def partition(self, pods: Sequence[str], duration: float = 30.0) -> Fault:
        return self.client.add_fault("partition", pods, duration)

    def stress_cpu(self, pods: Sequence[str], workers: int = 1, duration: float = 30.0) -> Fault:
        return self.client.add_fault("cpu_stress", pods, duration, workers=workers)

    def set_not_ready(self, pods: Sequence[str], duration: float = 30.0) -> Fault:
        return self.client.add_fault("not_ready", pods, duration)

    def drain(self, node: str) -> None:
        self.client.drain(node)

    def uncordon(self, node: str) -> None:
        self.client.uncordon(node)

    def scale(self, replicas: int) -> None:
        self.client.scale(replicas)

    def set_algorithm(self, name: str, options: dict | None = None) -> None:
        self.client.set_algorithm(name, options)

    def set_retries(self, retries: int) -> None:
        self.client.set_retries(retries)

    def stateful(self) -> dict | None:
        return self.client.stateful() if self.config.stateful else None

    def kill_primary(self) -> str:
        if not self.config.stateful:
            return super().kill_primary()
        return self.client.take_primary_down("kill")["server"]

    def stop_primary(self) -> str:
        if not self.config.stateful:
            return super().stop_primary()
        return self.client.take_primary_down("stop")["server"]

    def restore_stateful(self) -> list[str]:
        return self.client.call("POST", "/stateful/restore")["restarted"] if self.config.stateful else []

    def events(self, since: int = 0) -> list[ClusterEvent]:
        return self.client.events(since)

    def set_autoscaler(self, **settings) -> dict:
        return self.client.set_autoscaler(**settings)

    def restore(self) -> None:
        if not self._closed:
            self.client.restore()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        proc = self._proc
        try:
            if proc is not None and proc.poll() is None:
                procs.signal_pid(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(STOP_GRACE_S)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            if proc is not None:
                # Whatever is left in the group (a pod that ignored SIGTERM) dies now.
                procs.signal_group(proc.pid, signal.SIGKILL)
                try:
                    proc.wait(STOP_GRACE_S)
                except subprocess.TimeoutExpired:
                    pass
                for stream in (proc.stdin, proc.stdout):
                    if stream is not None:
                        stream.close()
            for left in (getattr(self, "_workdir", ""), getattr(self, "_store_root", "")):
                if left:  # the controller removes it, unless it was SIGKILLed
                    shutil.rmtree(left, ignore_errors=True)
            self._release.set()
            self._thread.join(timeout=STOP_GRACE_S)


def run_foreground(config: SandboxConfig, *, echo: Callable[[str], None] = print,
                   stop: threading.Event | None = None) -> int:
    """Run a sandbox until Ctrl-C (or `stop` is set), printing its endpoints; returns 0.

    For `manage.py sandbox` and `python -m clusters.sandbox`. Bad config raises
    ClusterError(field=...) before anything starts.
    """
    stop = stop or threading.Event()
    try:
        with SandboxCluster(config) as cluster:
            echo(f"balancer    {cluster.endpoint}  ({config.balancer}, algorithm {config.algorithm})")
            echo(f"control API {cluster.control_url}")
            for pod in cluster.pods():
                echo(f"pod         {pod.name:<14} {pod.node:<8} http://{pod.address}")
            echo("Ctrl-C to stop")
            while not stop.wait(0.5):
                pass
    except KeyboardInterrupt:
        # Ctrl-C at any moment, even during start-up: the with-block (or the constructor)
        # has already stopped every process by the time we get here.
        echo("stopped")
    return 0
