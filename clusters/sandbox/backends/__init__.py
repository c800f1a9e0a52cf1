"""The balancers a sandbox can put in front of its pods: `BALANCER_BACKENDS`, one module each
beside its siblings (lblab.py, nginx.py, haproxy.py); a new backend is a new module and a new
entry below.

A backend says which algorithms of the registry (clusters/algorithms.py, each entry's `nginx` and
`haproxy` equivalents) it can run, and starts its *front*: what serves the sandbox's endpoint.
LB Lab's own balancer (`clusters/sandbox/balancer.py`) always runs in the controller and keeps
the pod set, readiness (its `/readyz` checks), weights, the algorithm and the retries; behind
nginx or HAProxy it serves nothing and their configuration is written from it after every change
(`Balancer.listeners`). So health checks, readiness, the chaos faults (held by the pods) and the
event log of pods work the same behind every backend. What a backend cannot provide is said in
its module's docstring.

Models' choices, forms, the API and the CLI read `BALANCER_BACKENDS` (`choices()`); nothing
else lists the names. Pure of Django; importing this module starts nothing.
"""

from __future__ import annotations

import abc
import asyncio
import re
import shutil
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from clusters.algorithms import NAMES, Algorithm, algorithm_named
from clusters.base import ClusterError

if TYPE_CHECKING:  # pragma: no cover
    from clusters.sandbox.balancer import Balancer
    from clusters.sandbox.config import SandboxConfig
    from clusters.sandbox.supervisor import Supervisor

DEFAULT_BACKEND = "lblab"
HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")


class Front(abc.ABC):
    """What serves the sandbox's endpoint, in the controller's event loop."""

    # A reload leaves the connections a TCP-mode (L4) config proxies with the old workers, which
    # cannot end them at a request's end (they do not read HTTP): clients kept alive stay pinned
    # until they reconnect. After a switch out of L4 the pods end them instead (`Supervisor.close_connections`).
    reload_keeps_tcp_connections = False

    @abc.abstractmethod
    async def start(self, host: str, port: int) -> int:
        """Listen on host:port (0: a free port); returns the port."""

    async def ready(self) -> None:
        """Return once the front serves the pods that are ready now (after the first pods are)."""
        return None  # nothing to do for a front in the controller's own process

    async def settle(self) -> None:
        """Return once the changes made so far are in force (a reload they started is done)."""
        return None  # nothing to do for a front in the controller's own process

    async def apply(self) -> None:
        """Make the front follow the balancer's state now; ClusterError(field="algorithm") when
        the real balancer refuses its new configuration (it keeps the previous one)."""
        return None  # nothing to do for a front in the controller's own process

    @abc.abstractmethod
    async def stats(self) -> dict[str, dict]:
        """Per pod: requests, failures, in_flight, ready, eligible, weight, address (+ the backend's own)."""

    def pids(self) -> list[int]:
        """The processes the front runs besides the controller (a real balancer's master and workers)."""
        return []

    def workdir(self) -> str:
        """The directory the front writes in ("" for none): removed by `stop()`, and by
        `SandboxCluster.close()` too when the controller could not (it was SIGKILLed)."""
        return ""

    async def stop(self) -> None:
        """Stop serving; every process the front started is gone when this returns."""
        return None  # nothing to do for a front in the controller's own process


class BalancerBackend(abc.ABC):
    """A balancer the sandbox can run in front of its pods."""

    name: str
    label: str  # what forms and tables show
    help: str  # one line a user understands
    binary: str | None = None  # the program it runs (None: in the controller's own process)
    install: str = ""  # how the Makefile installs the binary

    def equivalent(self, algorithm: Algorithm) -> str | None:
        """The backend's setting for `algorithm`, None when it has none."""
        return getattr(algorithm, self.name)

    def check_algorithm(self, name: Any, options: Mapping | None) -> None:
        """ClusterError(field="algorithm") in one line when this backend cannot run the algorithm
        (with these options)."""
        algorithm = algorithm_named(name)
        if self.equivalent(algorithm) is None:
            runs = ", ".join(a for a in NAMES if self.equivalent(algorithm_named(a)) is not None)
            raise ClusterError(f"{algorithm.name} has no {self.name} equivalent; on {self.name}: {runs}",
                               field="algorithm")

    def located(self) -> str:
        """The path of the binary; ClusterError(field="balancer") when it is not installed."""
        if self.binary is None:
            return ""
        found = shutil.which(self.binary) or shutil.which(self.binary, path="/usr/sbin:/usr/local/sbin:/sbin")
        if found is None:
            raise ClusterError(f"{self.binary} is not installed ({self.install})", field="balancer")
        return found

    @abc.abstractmethod
    def front(self, balancer: Balancer, supervisor: Supervisor, config: SandboxConfig) -> Front:
        """The front that serves the sandbox's endpoint with this backend."""


def header_name(options: Mapping, field: str = "options.header") -> str | None:
    """The hash header of the options, checked for a real balancer's config (letters, digits and
    dashes: the name is written into a configuration file)."""
    header = options.get("header")
    if header is not None and not (isinstance(header, str) and HEADER_NAME.fullmatch(header)):
        raise ClusterError("must be a header name of letters, digits and dashes", field=field)
    return header


def integer_weights(weights: Mapping[str, float], maximum: int) -> dict[str, int]:
    """LB Lab's weights (positive numbers up to 1000) as a real balancer's whole numbers 1..maximum:
    unchanged when they already are, else scaled so the largest is `maximum` (ratios kept to 1/maximum)."""
    if not weights:
        return {}
    values = list(weights.values())
    if all(float(w).is_integer() and 1 <= w <= maximum for w in values):
        return {name: int(w) for name, w in weights.items()}
    scale = maximum / max(values)
    return {name: max(1, round(w * scale)) for name, w in weights.items()}


async def pod_counters(supervisor: Supervisor, balancer: Balancer) -> dict[str, dict]:
    """Per-pod stats for a front that counts nothing itself: the pods' own counters (every request a
    pod answered, failures, in flight; health probes excluded), with the balancer's view of each pod."""
    metrics = await supervisor.metrics()
    stats = {}
    for name, upstream in sorted(balancer.upstreams.items()):
        mine = metrics.get(name, {})
        stats[name] = {"requests": mine.get("requests", 0), "failures": mine.get("failures", 0),
                       "in_flight": mine.get("in_flight", 0), "ready": upstream.ready,
                       "eligible": upstream.eligible, "weight": upstream.weight,
                       "address": f"{upstream.host}:{upstream.port}"}
    return stats


async def wait_listening(host: str, port: int, alive, timeout: float = 10.0) -> None:
    """Until host:port accepts a connection; ClusterError(field="balancer") if `alive()` turns False
    or the deadline passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection(host, port)
            writer.close()
            return
        except OSError:
            if not alive():
                raise ClusterError("the balancer exited at start", field="balancer") from None
            if loop.time() > deadline:
                raise ClusterError("the balancer did not listen in time", field="balancer") from None
            await asyncio.sleep(0.02)


BALANCER_BACKENDS: dict[str, BalancerBackend] = {}


def register(cls: type[BalancerBackend]) -> type[BalancerBackend]:
    """Class decorator: one instance of the backend joins the registry under its name."""
    BALANCER_BACKENDS[cls.name] = cls()
    return cls


def backend_named(name: Any) -> BalancerBackend:
    backend = BALANCER_BACKENDS.get(name) if isinstance(name, str) else None
    if backend is None:
        raise ClusterError(f"unknown balancer {name!r}; one of {', '.join(BALANCER_BACKENDS)}", field="balancer")
    return backend


def choices() -> list[tuple[str, str]]:
    """(name, label) pairs in the registry's order: models' and forms' choices."""
    return [(backend.name, backend.label) for backend in BALANCER_BACKENDS.values()]


# The backends, in the order forms list them. Imported last: each module registers itself.
from clusters.sandbox.backends import lblab, nginx, haproxy  # noqa: E402, F401, I001
