"""The sandbox controller process: balancer, supervisor, autoscaler and control API on one loop.

The endpoint is served by the configured backend (clusters/sandbox/backends): LB Lab's balancer
itself, or nginx/HAProxy run as a child of this process, stopped (by PID) before the pods.

`SandboxCluster` starts it as `python -m clusters.sandbox.controller '<config json>'` in a
new process group. It prints one JSON line on stdout once every pod is ready:
`{"endpoint": ..., "control_url": ..., "pid": ..., "workdir": ..., "store_root": ...}` (workdir: nginx's
or HAProxy's config dir, "" for LB Lab's balancer; store_root: the stateful store's temp dir, "" without
one) or `{"error": ..., "field": ...}`. With `stateful`, the store starts first (the pods are told
where its Sentinels are) and stops last (clusters/sandbox/stateful/owner.py).
It stops (pods first) on SIGTERM/SIGINT, or when stdin reaches EOF, which means the
process that started it is gone.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import signal
import sys
import time

from clusters import procs
from clusters.base import ClusterError
from clusters.sandbox.backends import DEFAULT_BACKEND, backend_named
from clusters.sandbox.balancer import Balancer
from clusters.sandbox.config import SandboxConfig
from clusters.sandbox.control import ControlApi, ControlServer
from clusters.sandbox.events import EventLog
from clusters.sandbox.stateful.owner import StoreOwner
from clusters.sandbox.supervisor import Supervisor

STARTUP_TIMEOUT_S = 30.0


def say(message: dict) -> None:
    os.write(1, json.dumps(message).encode() + b"\n")


def url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return f"http://{shown}:{port}"


async def bind_or_explain(start, port: int, field: str) -> int:
    try:
        return await start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ClusterError(f"port {port} is already in use", field=field) from exc
        raise ClusterError(str(exc), field=field) from exc


async def run(config: SandboxConfig) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    class ParentWatch(asyncio.Protocol):
        def connection_lost(self, exc):
            stop.set()

    await loop.connect_read_pipe(ParentWatch, os.fdopen(0, "rb", buffering=0))

    balancer = Balancer(algorithm=config.algorithm, options=config.algorithm_options,
                        health_interval_s=config.health_interval_s,
                        unhealthy_threshold=config.unhealthy_threshold,
                        upstream_timeout_s=config.upstream_timeout_s, retries=config.retries,
                        events=EventLog())
    supervisor = Supervisor(config, balancer)
    control = None
    front = None
    store = StoreOwner(config.stateful, config.durability) if config.stateful else None
    try:
        if store is not None:  # before the pods: they are told where its Sentinels are
            await store.start()
            supervisor.store = store.pod_settings()
        front = backend_named(config.balancer).front(balancer, supervisor, config)
        port = await bind_or_explain(lambda: front.start(config.host, config.port), config.port, "port")
        if config.balancer != DEFAULT_BACKEND:
            balancer.start_checks()  # LB Lab's balancer serves nothing: it checks and keeps the pods
        api = ControlApi(supervisor, balancer, endpoint=url(config.host, port),
                         autoscaler_config=config.autoscaler, front=front, backend=config.balancer, store=store)
        control = ControlServer(api)
        control_port = await bind_or_explain(lambda: control.start(config.host, config.control_port),
                                             config.control_port, "control_port")
        api.control_url = url(config.host, control_port)
        balancer.set_algorithm(config.algorithm, config.algorithm_options)
        supervisor.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not all(u.eligible for u in balancer.upstreams.values()) and not stop.is_set():
            if time.monotonic() > deadline:
                raise ClusterError("pods did not become ready in time", field="pods")
            await asyncio.sleep(0.02)
        await front.ready()
        say({"endpoint": api.endpoint, "control_url": api.control_url, "pid": os.getpid(),
             "workdir": front.workdir(), "store_root": str(store.set.root) if store is not None else ""})
        await stop.wait()
    except ClusterError as exc:
        say({"error": exc.args[0], "field": exc.field})
    finally:
        if control is not None:
            control.api.stop_copying()
        if api_autoscaler := (control.api.autoscaler if control else None):
            api_autoscaler.stop()
        if front is not None:
            await front.stop()
        await supervisor.stop()
        if control is not None:
            control.close()
        await balancer.stop()
        if store is not None:  # after the pods, which use it to the end
            await store.close()


def main(argv: list[str] | None = None) -> None:
    # SIGTERM, not SIGKILL: the controller still stops its pods when its parent dies
    # (and if it cannot, the pods' own parent-death signal stops them).
    procs.die_with_parent(signal.SIGTERM)
    args = argv if argv is not None else sys.argv[1:]
    try:
        config = SandboxConfig.from_dict(json.loads(args[0]))
    except ClusterError as exc:
        say({"error": exc.args[0], "field": exc.field})
        sys.exit(2)
    procs.run_loop(lambda: run(config))


if __name__ == "__main__":
    main()
