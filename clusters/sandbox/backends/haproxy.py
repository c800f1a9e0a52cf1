"""Debian's HAProxy (`make balancers` installs it) in front of the pods, in master-worker mode
(`-W`, one worker thread: LB Lab's balancer is one process too), its own config in a temp dir.

From the algorithm registry: `static-rr` (round robin, weights ignored), `roundrobin` (weighted
round robin), `leastconn`, `random(1)` (random), `random(2)` (p2c: the less loaded of two) and
`hdr(<header>)` with `hash-type consistent` (consistent_hash with a header), and `l4_connection`
in `mode tcp` (a pod per client connection, `random(1)` or `roundrobin` as its `pick` says).
No equivalent: `ewma` and consistent_hash without a header (HAProxy's
`source` hashes the client address alone, not LB Lab's per-connection address and port: on
loopback every request would go to one pod).

Changes drop nothing. Weights and readiness go through the runtime API
(`set weight pods/<pod> N`, `set server pods/<pod> state maint|ready` on the stats socket: a pod LB Lab finds not
ready is in maintenance); the algorithm, the retries and the pod set (a kill and its restart,
scale, drain) are a seamless reload: the config is checked (`haproxy -c`, a refused one is an
error and the running one stays), then the master's `reload` starts a new worker that takes the
listening sockets over from the old one (`expose-fd listeners`), which finishes what it holds.
A change returns once the new worker runs. `static-rr` takes no weight at run time: a weight
change there is a reload too (its weights are 1 anyway).

HAProxy also checks the pods itself (`option httpchk GET /readyz`, `check inter`), beside LB
Lab's readiness checks. LB Lab's `retries` map to `retries N`, `option redispatch 1` (a retry goes
to another pod) and, in HTTP mode, `retry-on conn-failure empty-response` (in TCP mode only
connecting is retried). Per-pod stats: the pods' own counters
(exact, they survive reloads) and HAProxy's `show stat` for each server (`haproxy`: status,
current and total sessions, since the last reload, as a reload starts a new worker). Failure
streaks are not in the event log (HAProxy answers the failures; the load generator counts them).
HAProxy lower-cases the header names of answers: match `X-Pod` case-insensitively.
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Mapping
from pathlib import Path

from clusters.algorithms import Algorithm, algorithm_named
from clusters.base import ClusterError
from clusters.sandbox.backends import BalancerBackend, header_name, register
from clusters.sandbox.backends.external import ExternalFront

CONFIG = """# written by LB Lab for one sandbox; HAProxy runs in the foreground (-W), stopped by PID
global
    stats socket {tmp}/admin.sock mode 600 level admin expose-fd listeners
    maxconn 4096
    nbthread 1

defaults
    mode http
    timeout connect 2s
    timeout client 75s
    timeout server {timeout}s
    timeout http-keep-alive 75s
    timeout queue 10s
    timeout check 2s
    retries {retries}
    option redispatch 1

frontend front
    mode {mode}
    bind {host}:{port}
    default_backend pods

backend pods
    mode {mode}
    balance {balance}
{hash_type}{http_only}    option httpchk GET /readyz
{servers}
"""


PICKS = {"random": "random(1)", "round_robin": "roundrobin"}  # l4_connection's `pick`: HAProxy's way


def balance(algorithm: Algorithm, options: Mapping) -> str:
    """The `balance` argument for the algorithm; ClusterError(field="algorithm") when HAProxy has none."""
    template = algorithm.haproxy
    if template is None:
        HAProxy().check_algorithm(algorithm.name, options)  # raises, naming what HAProxy runs
    header = header_name(options)
    if "{header}" in template and header is None:
        raise ClusterError(f"{algorithm.name} on haproxy needs options.header (HAProxy's `source` hashes the "
                           "client address alone)", field="algorithm")
    return template.format(header=header, pick=PICKS[options.get("pick", "random")])


class HAProxyFront(ExternalFront):
    config_name = "haproxy.cfg"
    max_weight = 256

    def __init__(self, *args):
        super().__init__(*args)
        self.applied_structure: tuple = ()
        self.applied_runtime: dict[str, tuple[int, bool]] = {}

    @property
    def master_socket(self) -> Path:
        return self.tmp / "master.sock"

    def structure(self) -> tuple:
        """What only a reload changes: the algorithm, the retries, the pods and their addresses
        (and `static-rr`'s weights, which HAProxy takes only from the config)."""
        algorithm = self.algorithm()
        line = balance(algorithm, self.balancer.options)
        static = line == "static-rr"
        return (line, algorithm.layer, self.balancer.retries,
                tuple((s.name, s.address, s.weight if static else 0) for s in self.servers()))

    def runtime(self) -> dict[str, tuple[int, bool]]:
        return {s.name: (s.weight, s.up) for s in self.servers()}

    def render(self) -> str:
        line = balance(self.algorithm(), self.balancer.options)
        l4 = self.algorithm().layer == "L4"
        inter = max(20, round(self.config.health_interval_s * 1000))
        servers = [f"    server {s.name} {s.address} weight {s.weight} check inter {inter} "
                   f"fall {self.config.unhealthy_threshold} rise 1{'' if s.up else ' disabled'}"
                   for s in self.servers()]
        return CONFIG.format(tmp=self.tmp, host=self.host, port=self.port, balance=line, mode="tcp" if l4 else "http",
                             http_only="" if l4 else "    retry-on conn-failure empty-response\n    http-reuse safe\n",
                             hash_type="    hash-type consistent\n" if line.startswith("hdr(") else "",
                             timeout=f"{self.config.upstream_timeout_s:g}", retries=self.balancer.retries,
                             servers="\n".join(servers))

    def validate_argv(self, path: Path) -> list[str]:
        return [self.binary, "-c", "-q", "-f", str(path)]

    def start_argv(self) -> list[str]:
        return [self.binary, "-W", "-S", str(self.master_socket), "-f", str(self.config_path)]

    def started(self) -> None:
        self.applied_structure = self.structure()
        self.applied_runtime = self.runtime()

    async def command(self, line: str, *, master: bool = False) -> str:
        """One command on the current worker's runtime API (the stats socket, which a reload hands
        over to the new worker), or on the master CLI; its answer."""
        path = self.master_socket if master else self.tmp / "admin.sock"
        reader, writer = await asyncio.open_unix_connection(str(path))
        try:
            # the master CLI keeps a connection open after a command unless told to quit
            writer.write(line.encode() + (b"; quit\n" if master else b"\n"))
            await writer.drain()
            return (await asyncio.wait_for(reader.read(), 10)).decode(errors="replace")
        finally:
            writer.close()

    async def workers(self) -> set[int]:
        """The current workers' pids (not the old ones still finishing), from `show proc`."""
        answer = await self.command("show proc", master=True)
        current, pids = True, set()
        for row in answer.splitlines():
            if row.startswith("# old workers"):
                current = False
            parts = row.split()
            if current and len(parts) > 1 and parts[1] == "worker" and parts[0].isdigit():
                pids.add(int(parts[0]))
        return pids

    async def _apply(self) -> None:
        structure, runtime = self.structure(), self.runtime()
        if structure != self.applied_structure:
            self.write_checked(self.render())
            before = await self.workers()
            try:
                await self.command("reload", master=True)
            except (OSError, TimeoutError):
                pass  # the master may close the CLI as it re-executes itself
            new: set[int] = set()

            async def poll():
                while True:
                    try:
                        now = await self.workers()
                    except OSError:  # the master socket is being re-created
                        now = set()
                    if now and not now & before:
                        new.update(now)
                        return
                    await asyncio.sleep(0.02)

            try:
                await asyncio.wait_for(poll(), 10)
            except TimeoutError:
                raise ClusterError(f"haproxy: the reload did not happen in time: {self.log_tail()}",
                                   field="algorithm") from None
            self.applied_structure, self.applied_runtime = structure, runtime
            return
        for name, (weight, up) in runtime.items():
            old = self.applied_runtime.get(name)
            if old is None:
                continue
            if old[0] != weight:
                await self.command(f"set weight pods/{name} {weight}")
            if old[1] != up:
                await self.command(f"set server pods/{name} state {'ready' if up else 'maint'}")
        self.applied_runtime = runtime

    async def stats(self) -> dict[str, dict]:
        stats = await super().stats()
        try:
            answer = await self.command("show stat")
        except (OSError, TimeoutError):
            return stats
        for row in csv.DictReader(answer.lstrip("# ").splitlines()):
            if row.get("pxname") == "pods" and row.get("svname") in stats:
                stats[row["svname"]]["haproxy"] = {"status": row.get("status"), "current": int(row.get("scur") or 0),
                                                   "total": int(row.get("stot") or 0),
                                                   "weight": int(row.get("weight") or 0)}
        return stats


@register
class HAProxy(BalancerBackend):
    name = "haproxy"
    label = "HAProxy"
    help = ("Debian's HAProxy (one thread): static-rr, roundrobin, leastconn, random, random(2), hdr(), "
            "and L4 per connection (mode tcp).")
    binary = "haproxy"
    install = "make balancers: apt-get install haproxy"

    def check_algorithm(self, name, options) -> None:
        super().check_algorithm(name, options)
        balance(algorithm_named(name), options or {})

    def front(self, balancer, supervisor, config) -> HAProxyFront:
        return HAProxyFront(self, balancer, supervisor, config)
