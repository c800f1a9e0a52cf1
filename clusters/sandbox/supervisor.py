"""The supervisor: keeps the desired number of pod processes running, like a ReplicaSet.

Pods live in numbered slots (0 .. replicas-1) and are named `pod-<slot>-<suffix>`: the
slot says which replica it is, the 5-character suffix (Kubernetes' alphabet) changes
each time the slot gets a new process, as a new pod name does after a restart. Pods
are placed on nodes `node-0 .. node-<K-1>`, on the schedulable node with the fewest
pods. A killed pod comes back in its slot after `restart_delay_s`; a drained node is
cordoned, its pods stop gracefully and their slots are filled on other nodes at once.

Every pod is started from the controller's main thread (the parent-death signal, which
the pod arms itself, follows that thread), inherits the controller's process group, and is
stopped by PID.
The supervisor binds each pod's listening socket itself and hands it over, so the
port is known before the pod runs and no two pods can race for one. It logs each pod's life
(started, killed, stopping, exited) and each node's cordon, drain and uncordon in the balancer's
event log; the balancer adds when a pod becomes ready.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable

from clusters import procs
from clusters.base import ClusterError, EventType
from clusters.sandbox.balancer import Balancer
from clusters.sandbox.config import SandboxConfig

NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' suffix alphabet: no vowels, no look-alikes


def pod_name(slot: int) -> str:
    return f"pod-{slot}-" + "".join(random.choice(NAME_ALPHABET) for _ in range(5))


class PodProcess:
    """One running pod process, its control pipe and the answers it still owes."""

    def __init__(self, slot: int, name: str, node: str, host: str, port: int, proc: subprocess.Popen):
        self.slot = slot
        self.name = name
        self.node = node
        self.host = host
        self.port = port
        self.proc = proc
        self.pid = proc.pid
        self.terminating = False
        self.started_at = time.time()
        self.pending: dict[int, asyncio.Future] = {}
        self.next_id = 0
        self.pipe_transport = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def command(self, op: str, timeout: float = 3.0, **fields) -> dict:
        self.next_id += 1
        command_id = self.next_id
        future = asyncio.get_running_loop().create_future()
        self.pending[command_id] = future
        try:
            self.proc.stdin.write(json.dumps({"id": command_id, "op": op, **fields}).encode() + b"\n")
            self.proc.stdin.flush()
            return await asyncio.wait_for(future, timeout)
        except (OSError, ValueError) as exc:
            raise ConnectionError(f"pod {self.name} is gone") from exc
        finally:
            self.pending.pop(command_id, None)

    def answered(self, message: dict) -> None:
        future = self.pending.get(message.get("id"))
        if future is not None and not future.done():
            future.set_result(message)

    def gone(self) -> None:
        for future in self.pending.values():
            if not future.done():
                future.set_exception(ConnectionError(f"pod {self.name} is gone"))
        self.pending.clear()


class PodPipe(asyncio.Protocol):
    """Reads a pod's stdout: JSON answer lines to commands."""

    def __init__(self, pod: PodProcess):
        self.pod = pod
        self.buffer = b""

    def data_received(self, data):
        self.buffer += data
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            try:
                self.pod.answered(json.loads(line))
            except ValueError:
                continue


class Supervisor:
    def __init__(self, config: SandboxConfig, balancer: Balancer):
        self.config = config
        self.balancer = balancer
        self.loop = asyncio.get_running_loop()
        self.nodes = [f"node-{i}" for i in range(config.nodes)]
        self.cordoned: set[str] = set()
        self.replicas = config.pods
        self.slots: dict[int, PodProcess | None] = {}
        self.processes: dict[str, PodProcess] = {}  # every live process, terminating ones included
        self.restart_timers: dict[int, asyncio.TimerHandle] = {}
        self.stopping = False
        self.store: dict | None = None  # the pods' `store` settings when the sandbox runs one
        self.restarts = 0
        self.events = balancer.events
        self.previous: dict[int, str] = {}  # slot -> the last pod started in it, for `replaces`
        # Called with each pod whose process has exited (the control API drops the faults it held).
        self.exit_listeners: list[Callable[[PodProcess], None]] = []

    def _log(self, type: str, pod: PodProcess, **fields) -> None:
        self.events.record(type, pod=pod.name, node=pod.node, slot=pod.slot, pid=pod.pid, **fields)

    # Reading.
    def running(self) -> list[PodProcess]:
        """Pods that serve (not terminating), in slot order."""
        return sorted((p for p in self.processes.values() if not p.terminating), key=lambda p: p.slot)

    def find(self, name: str, field: str = "pod") -> PodProcess:
        pod = self.processes.get(name)
        if pod is None or pod.terminating:
            raise ClusterError(f"unknown pod {name!r}", field=field)
        return pod

    def find_all(self, names: Iterable[str], field: str = "pods") -> list[PodProcess]:
        if isinstance(names, str) or not isinstance(names, (list, tuple)):
            raise ClusterError("must be a list of pod names", field=field)
        if not names:
            raise ClusterError("must name at least one pod", field=field)
        return [self.find(name, field) for name in names]

    # Starting and stopping processes.
    def start(self) -> None:
        for slot in range(self.replicas):
            self.spawn(slot, "initial")

    def pick_node(self) -> str | None:
        counts = {node: 0 for node in self.nodes if node not in self.cordoned}
        if not counts:
            return None
        for pod in self.running():
            if pod.node in counts:
                counts[pod.node] += 1
        return min(counts, key=lambda node: (counts[node], self.nodes.index(node)))

    def spawn(self, slot: int, reason: str) -> PodProcess | None:
        """Start a pod in `slot` (if it is empty and a node is schedulable); `reason` is logged:
        initial, restart (after its pod died), rescheduled (off a drained node), scale or scheduled
        (a pending slot once a node is schedulable again)."""
        self.restart_timers.pop(slot, None)
        if self.stopping or slot >= self.replicas or self.slots.get(slot) is not None:
            return None
        node = self.pick_node()
        if node is None:  # every node cordoned: the pod stays pending until one is schedulable
            self.slots[slot] = None
            return None
        config = self.config
        name = pod_name(slot)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((config.host, 0))
            listener.listen(1024)
            port = listener.getsockname()[1]
            settings = {"name": name, "node": node, "fd": listener.fileno(),
                        "service_time": config.to_dict()["service_time"], "capacity": config.capacity,
                        "speed": config.speed_of(slot), "drain_grace_s": config.drain_grace_s,
                        "store": self.store}
            # In the controller's group: SandboxCluster's one killpg reaches every pod.
            proc = procs.start_python_module(
                "clusters.sandbox.pod", json.dumps(settings), own_group=False,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, pass_fds=(listener.fileno(),))
        finally:
            # Our copy must go: a killed pod's port has to refuse connections, not queue them.
            listener.close()
        pod = PodProcess(slot, name, node, config.host, port, proc)
        self.slots[slot] = pod
        self.processes[name] = pod
        self._log(EventType.POD_STARTED, pod, reason=reason, replaces=self.previous.get(slot))
        self.previous[slot] = name
        self.loop.create_task(self._attach(pod))
        self.balancer.add(name, config.host, port)
        return pod

    async def _attach(self, pod: PodProcess) -> None:
        transport, _ = await self.loop.connect_read_pipe(lambda: PodPipe(pod), pod.proc.stdout)
        pod.pipe_transport = transport
        try:
            pidfd = os.pidfd_open(pod.pid)
        except (OSError, AttributeError):
            self.loop.create_task(self._poll_exit(pod))
            return

        def exited():
            self.loop.remove_reader(pidfd)
            os.close(pidfd)
            self._exited(pod)

        self.loop.add_reader(pidfd, exited)

    async def _poll_exit(self, pod: PodProcess) -> None:  # pragma: no cover - kernels without pidfd
        while pod.proc.poll() is None:
            await asyncio.sleep(0.05)
        self._exited(pod)

    def _exited(self, pod: PodProcess) -> None:
        pod.proc.wait()
        for stream in (pod.proc.stdin,):
            try:
                stream.close()
            except OSError:
                pass
        if pod.pipe_transport is not None:
            pod.pipe_transport.close()
        pod.gone()
        self.processes.pop(pod.name, None)
        self.balancer.remove(pod.name)
        self._log(EventType.POD_EXITED, pod, returncode=pod.proc.returncode,
                  expected=pod.terminating or self.stopping)
        for listener in self.exit_listeners:
            listener(pod)
        if self.slots.get(pod.slot) is pod:
            # It died on its own or was killed: the ReplicaSet brings the slot back.
            self.slots[pod.slot] = None
            if not self.stopping and pod.slot < self.replicas:
                self.restarts += 1
                self.restart_timers[pod.slot] = self.loop.call_later(
                    self.config.restart_delay_s, self.spawn, pod.slot, "restart")

    def terminate(self, pod: PodProcess, reason: str) -> None:
        """Graceful stop: out of the balancer first, then SIGTERM (the pod finishes its work)."""
        self._log(EventType.POD_STOPPING, pod, reason=reason)
        pod.terminating = True
        if self.slots.get(pod.slot) is pod:
            self.slots[pod.slot] = None
        self.balancer.set_terminating(pod.name)
        procs.signal_pid(pod.pid, signal.SIGTERM)
        # Escalate if it overstays its grace period, as the kubelet does.
        self.loop.call_later(self.config.drain_grace_s + 2.0, self._force_kill, pod)

    def _force_kill(self, pod: PodProcess) -> None:
        if pod.proc.poll() is None:
            procs.signal_pid(pod.pid, signal.SIGKILL)

    # Operations of the Cluster interface.
    def kill(self, name: str) -> None:
        pod = self.find(name)
        # Logged before the signal: nothing the kill causes can be logged before it.
        self._log(EventType.POD_KILLED, pod)
        procs.signal_pid(pod.pid, signal.SIGKILL)

    def cordon(self, node: str) -> None:
        if node not in self.nodes:
            raise ClusterError(f"unknown node {node!r}; one of {', '.join(self.nodes)}", field="node")
        if node not in self.cordoned:
            self.cordoned.add(node)
            self.events.record(EventType.NODE_CORDONED, node=node)

    def drain(self, node: str) -> list[str]:
        self.cordon(node)
        moved = []
        for pod in self.running():
            if pod.node == node:
                self.terminate(pod, "drain")
                moved.append(pod.name)
                self.spawn(pod.slot, "rescheduled")
        self.events.record(EventType.NODE_DRAINED, node=node, moved=moved)
        return moved

    def uncordon(self, node: str) -> None:
        if node not in self.nodes:
            raise ClusterError(f"unknown node {node!r}; one of {', '.join(self.nodes)}", field="node")
        if node in self.cordoned:
            self.cordoned.discard(node)
            self.events.record(EventType.NODE_UNCORDONED, node=node)
        self.fill_pending("scheduled")  # slots left pending while every node was cordoned start now

    def uncordon_all(self) -> None:
        for node in sorted(self.cordoned):
            self.events.record(EventType.NODE_UNCORDONED, node=node)
        self.cordoned.clear()
        self.fill_pending("scheduled")

    def fill_pending(self, reason: str) -> None:
        for slot in range(self.replicas):
            if self.slots.get(slot) is None and slot not in self.restart_timers:
                self.spawn(slot, reason)

    def scale(self, replicas: int, *, by: str = "lblab", **reading) -> None:
        """`by`: who asked (LB Lab's run or API, or the sandbox's own autoscaler with its `reading`)."""
        old = self.replicas
        self.replicas = replicas
        if replicas != old:
            self.events.record(EventType.SCALED, replicas=replicas, previous=old, by=by, **reading)
        for slot in range(replicas, old):
            timer = self.restart_timers.pop(slot, None)
            if timer is not None:
                timer.cancel()
            pod = self.slots.pop(slot, None)
            if pod is not None:
                self.terminate(pod, "scale")
        self.fill_pending("scale")

    async def fault(self, pods: list[PodProcess], kind: str, params: dict) -> None:
        await asyncio.gather(*(pod.command("fault", kind=kind, params=params) for pod in pods))

    async def clear_fault(self, pods: list[PodProcess], kind: str) -> None:
        await asyncio.gather(*(pod.command("clear", kind=kind) for pod in pods))

    async def close_connections(self) -> None:
        """Every live pod ends each connection it holds now after that connection's next answer."""
        await asyncio.gather(*(pod.command("close_connections") for pod in self.running()), return_exceptions=True)

    async def clear_faults(self) -> None:
        # Terminating pods too: one still finishing its requests after a drain must not keep a fault.
        await asyncio.gather(*(pod.command("clear_all") for pod in list(self.processes.values())),
                             return_exceptions=True)

    async def held_faults(self) -> dict[str, list[str]]:
        """The fault kinds each live pod process holds, terminating ones included; pods holding none left out."""
        pods = list(self.processes.values())
        answers = await asyncio.gather(*(pod.command("metrics") for pod in pods), return_exceptions=True)
        return {pod.name: answer["metrics"]["faults"] for pod, answer in zip(pods, answers, strict=True)
                if isinstance(answer, dict) and answer.get("ok") and answer["metrics"]["faults"]}

    async def metrics(self) -> dict[str, dict]:
        pods = self.running()
        answers = await asyncio.gather(*(pod.command("metrics") for pod in pods), return_exceptions=True)
        result = {}
        for pod, answer in zip(pods, answers, strict=True):
            if isinstance(answer, dict) and answer.get("ok"):
                result[pod.name] = answer["metrics"]
        return result

    async def stop(self) -> None:
        """Stop every pod: SIGTERM, a short wait, then SIGKILL for the slow ones."""
        self.stopping = True
        for timer in self.restart_timers.values():
            timer.cancel()
        self.restart_timers.clear()
        pods = list(self.processes.values())
        for pod in pods:
            procs.signal_pid(pod.pid, signal.SIGTERM)
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline and any(p.proc.poll() is None for p in pods):
            await asyncio.sleep(0.02)
        for pod in pods:
            if pod.proc.poll() is None:
                procs.signal_pid(pod.pid, signal.SIGKILL)
                pod.proc.wait()
