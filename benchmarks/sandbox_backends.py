"""Throughput of the sandbox behind each of its balancers (lblab, nginx, haproxy) and of a bare
nginx and a bare HAProxy on the same pods, in one run, as ratios.

    make bench-tools    # Debian's nginx, haproxy and wrk
    .venv/bin/python benchmarks/sandbox_backends.py [--pods 4] [--duration 5] [--rounds 3] [--connections 64]

Three sandboxes start with the same settings (N pods, instant service time, round robin), one
per balancer (`SandboxConfig(balancer=...)`: LB Lab's own, or nginx and HAProxy with the config
LB Lab writes, one nginx worker / one HAProxy thread, as LB Lab's balancer is one process).
Then a bare nginx (benchmarks/sandbox_vs_nginx.py's `Nginx`: round robin, keep-alive to the
upstreams, one worker) and a bare HAProxy (a minimal `roundrobin` config, one thread) are put
in front of the lblab sandbox's pods, so `lblab` and the bare ones share pods exactly; the
sandbox behind nginx or HAProxy has pods of its own with the same settings. wrk drives each for
the same duration and connections, alternating rounds so drift on the machine hits all alike;
the median requests/s of each is reported with its ratio to the bare nginx. Loopback only;
every process is stopped by PID / process group and gets a parent-death signal.

What the ratios say: `sandbox nginx / bare nginx` and `sandbox haproxy / bare haproxy` near 1.0
mean the configs LB Lab writes (and the readiness checks beside them) cost the real balancers
nothing; `lblab / bare nginx` is LB Lab's own balancer against nginx with one worker.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sandbox_vs_nginx import Nginx, ensure_installed, free_port, wrk  # noqa: E402

from clusters import procs  # noqa: E402
from clusters.sandbox import SandboxCluster, SandboxConfig, ServiceTime  # noqa: E402
from clusters.sandbox.backends import BALANCER_BACKENDS  # noqa: E402

HAPROXY_CONF = """global
    maxconn 4096
    nbthread 1
defaults
    mode http
    timeout connect 2s
    timeout client 75s
    timeout server 10s
    timeout http-keep-alive 75s
frontend front
    bind 127.0.0.1:{port}
    default_backend pods
backend pods
    balance roundrobin
    http-reuse safe
{servers}
"""


class HAProxy:
    """A bare HAProxy in front of `pods` (host:port), its own config in a temp dir, its own process group."""

    def __init__(self, binary: str, pods: list[str]):
        self.tmp = tempfile.mkdtemp(prefix="lblab-haproxy-bench-")
        self.port = free_port()
        conf = Path(self.tmp) / "haproxy.cfg"
        servers = "\n".join(f"    server pod{i} {address}" for i, address in enumerate(pods))
        conf.write_text(HAPROXY_CONF.format(port=self.port, servers=servers))
        self.proc = procs.start([binary, "-W", "-f", str(conf)], death_signal=signal.SIGTERM,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if self.proc.poll() is not None:
                    sys.exit("haproxy failed to start")
                time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        procs.stop(self.proc, grace_s=10)
        shutil.rmtree(self.tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=4)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per target")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    args = parser.parse_args()

    nginx_bin = ensure_installed("nginx", "nginx")
    haproxy_bin = ensure_installed("haproxy", "haproxy")
    wrk_bin = ensure_installed("wrk", "wrk")
    sandboxes: dict[str, SandboxCluster] = {}
    bare: list = []
    try:
        for balancer in BALANCER_BACKENDS:
            sandboxes[balancer] = SandboxCluster(SandboxConfig(
                pods=args.pods, balancer=balancer, algorithm="round_robin", capacity=1000,
                service_time=ServiceTime(distribution="fixed", mean_ms=0.0)))
        pods = [p.address for p in sandboxes["lblab"].pods()]
        bare_nginx = Nginx(nginx_bin, pods, "1")
        bare.append(bare_nginx)
        bare_haproxy = HAProxy(haproxy_bin, pods)
        bare.append(bare_haproxy)
        targets = {f"sandbox {name}": cluster.endpoint for name, cluster in sandboxes.items()}
        targets |= {"bare nginx": bare_nginx.url, "bare haproxy": bare_haproxy.url}
        load = os.getloadavg()[0]
        print(f"{args.pods} pods, wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s, "
              f"{args.rounds} alternating rounds, cores: {os.cpu_count()}, load average {load:.2f}", flush=True)
        for url in targets.values():  # warm-up: connection pools, caches
            wrk(wrk_bin, url, duration=1, connections=args.connections, threads=args.threads)
        results: dict[str, list[float]] = {name: [] for name in targets}
        for round_ in range(args.rounds):
            for name, url in targets.items():
                rps = wrk(wrk_bin, url, duration=args.duration, connections=args.connections, threads=args.threads)
                results[name].append(rps)
                print(f"  round {round_ + 1}  {name:<16} {rps:>10.0f} req/s", flush=True)
    finally:
        for front in bare:
            front.stop()
        for cluster in sandboxes.values():
            cluster.close()
    medians = {name: statistics.median(values) for name, values in results.items()}
    print()
    reference = medians["bare nginx"]
    for name, value in medians.items():
        print(f"{name:<16} {value:>10.0f} req/s (median)   / bare nginx {value / reference:.2f}")
    print(f"sandbox nginx / bare nginx:     {medians['sandbox nginx'] / reference:.2f}")
    print(f"sandbox haproxy / bare haproxy: {medians['sandbox haproxy'] / medians['bare haproxy']:.2f}")
    print(f"sandbox lblab / bare nginx:     {medians['sandbox lblab'] / reference:.2f}")


if __name__ == "__main__":
    main()
