"""Throughput of the sandbox balancer against nginx in front of the same pods, in one run.

    .venv/bin/python benchmarks/sandbox_vs_nginx.py [--pods 4] [--duration 8] [--connections 64]

Starts a sandbox (N pods, instant service time, round robin), then nginx (Debian
package, as is wrk: `make bench-tools` installs them) with its own config in a temp
dir: 127.0.0.1 on a free port, upstream = the sandbox's pods, round robin (nginx's
default), keep-alive to the upstreams. wrk drives each balancer for the same duration
and connections, alternating rounds so drift on the machine hits both alike; the
median requests/s of each is reported with the ratio sandbox / nginx. Only loopback
traffic; every process started here is stopped by PID / process group, and gets a
parent-death signal so nothing outlives the script.

nginx is measured with one worker process (the sandbox balancer is one process) and,
for reference, with `worker_processes auto`. Each balancer's CPU time per request (its
processes' user + system time over a round / the requests wrk saw answered) is reported
beside it, and the pods' (shared by all three): what bounds the sandbox balancer's ratio.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clusters import procs  # noqa: E402
from clusters.sandbox import SandboxCluster, SandboxConfig, ServiceTime  # noqa: E402


def ensure_installed(binary: str, package: str) -> str:
    """The binary's path; exits with the make target that installs it when it is missing (the
    Makefile installs Debian's packages, never a script)."""
    found = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/local/sbin:/sbin")
    if not found:
        sys.exit(f"{binary} is not installed: `make bench-tools` installs Debian's {package}")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


NGINX_CONF = """
worker_processes {workers};
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
{routing}
    server {{
        listen 127.0.0.1:{port};
        location / {{
{answer}
        }}
    }}
    server {{
        listen 127.0.0.1:{status_port};
        location / {{ stub_status; }}
    }}
}}
"""

# In front of real pods: round robin (nginx's default), keep-alive to the upstreams.
PROXY_ROUTING = """
    upstream pods {{
{servers}
        keepalive 256;
    }}
"""
PROXY_ANSWER = """
            proxy_pass http://pods;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
"""

# nginx's own pods: each request is given to a pod by a hash of (connection, request number
# on it), so successive requests of one connection spread over the pods as a balancer's
# would, and answered at once. Cheap on purpose: keep-alive connections are kept for the
# run (nginx's default closes one every 1000 requests, a visible part of so little work).
STATIC_ROUTING = """
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    split_clients "${{connection}}.${{connection_requests}}" $lblab_pod {{
{shares}
    }}
"""
STATIC_ANSWER = """
            default_type application/json;
            add_header X-Pod $lblab_pod always;
            return 200 '{"pod": "$lblab_pod"}';
"""


class Nginx:
    """nginx with its own config in a temp dir, loopback only, its own process group.

    A round-robin balancer with keep-alive in front of `pods` (host:port: the sandbox's
    pods), or with `static_pods` (names) the pods themselves: every request answered
    at once by nginx with `X-Pod: <one of the names>` and a tiny JSON body, the names
    taken in equal shares. That target costs next to nothing (about half the CPU per
    request of nginx proxying to pods of its own on other ports), so a load generator
    is measured against it rather than against its target. `served()` is nginx's own
    count of the requests its front answered (stub_status, on a port of its own).
    """

    def __init__(self, binary: str, pods: list[str], workers: str, *, static_pods: list[str] = ()):
        self.tmp = tempfile.mkdtemp(prefix="lblab-nginx-")
        os.chmod(self.tmp, 0o755)
        self.port = free_port()
        self.status_port = free_port()
        self.static_pods = list(static_pods)
        self._status_reads = 0
        if self.static_pods:
            share = f"{100 / len(self.static_pods):.2f}%"  # the last name takes the rest: `*`
            shares = [f"        {share} {name};" for name in self.static_pods[:-1]]
            routing = STATIC_ROUTING.format(shares="\n".join([*shares, f"        * {self.static_pods[-1]};"]))
            answer = STATIC_ANSWER
        else:
            routing = PROXY_ROUTING.format(servers="\n".join(f"        server {address};" for address in pods))
            answer = PROXY_ANSWER
        conf = Path(self.tmp) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(workers=workers, tmp=self.tmp, port=self.port,
                                          status_port=self.status_port, routing=routing, answer=answer))
        # SIGTERM when this script dies: nginx's master then stops its workers.
        self.proc = procs.start([binary, "-p", self.tmp, "-c", str(conf)], death_signal=signal.SIGTERM,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if self.proc.poll() is not None:
                    sys.exit(f"nginx failed: {self.proc.stderr.read().decode()}")
                time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"

    @property
    def pids(self) -> list[int]:
        """nginx's master and worker processes (for CPU accounting)."""
        try:
            return [self.proc.pid, *(child.pid for child in psutil.Process(self.proc.pid).children())]
        except psutil.Error:
            return [self.proc.pid]

    def served(self) -> int:
        """Requests the front answered so far (stub_status counts its own reads too)."""
        with socket.create_connection(("127.0.0.1", self.status_port), timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\nHost: status\r\n\r\n")
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
        self._status_reads += 1
        # "Active connections: 1\nserver accepts handled requests\n 5 5 7\n..."
        requests = int(answer.split(b"server accepts handled requests", 1)[1].split()[2])
        return requests - self._status_reads

    def stop(self) -> None:
        # nginx is its own process group (procs.start): master and workers go together.
        procs.stop(self.proc, grace_s=10)
        self.proc.stderr.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def wrk(binary: str, url: str, *, duration: float, connections: int, threads: int) -> tuple[float, int]:
    """(requests/s, requests answered) of one wrk run."""
    done = procs.run([binary, f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", url + "/"],
                     timeout=duration + 30)
    match = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    total = re.search(r"(\d+) requests in", done.stdout)
    if not match or not total:
        sys.exit(f"wrk output not understood:\n{done.stdout}\n{done.stderr}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", done.stdout)
    if errors:
        print(f"  note: {errors.group(0)} ({url})", flush=True)
    return float(match.group(1)), int(total.group(1))


class CpuTime:
    """User + system CPU seconds processes have used so far. A process that has exited keeps its
    last reading, so a total taken after one of them went does not drop."""

    def __init__(self):
        self._last: dict[int, float] = {}

    def __call__(self, pids: list[int]) -> float:
        for pid in pids:
            try:
                times = psutil.Process(pid).cpu_times()
            except psutil.Error:
                continue
            self._last[pid] = times.user + times.system
        return sum(self._last.get(pid, 0.0) for pid in pids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=4)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per balancer")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    args = parser.parse_args()

    nginx_bin = ensure_installed("nginx", "nginx")
    wrk_bin = ensure_installed("wrk", "wrk")
    config = SandboxConfig(pods=args.pods, algorithm="round_robin", capacity=1000,
                           service_time=ServiceTime(distribution="fixed", mean_ms=0.0))
    with SandboxCluster(config) as cluster:
        pods = [p.address for p in cluster.pods()]
        nginx_one = Nginx(nginx_bin, pods, "1")
        nginx_auto = Nginx(nginx_bin, pods, "auto")
        try:
            targets = {"sandbox": cluster.endpoint, "nginx(1 worker)": nginx_one.url,
                       "nginx(auto workers)": nginx_auto.url}
            status = cluster.client.status()["pids"]
            # LB Lab's balancer runs in the sandbox controller's process (with its control API)
            balancer_pids = {"sandbox": status["balancer"] or [status["controller"]],
                             "nginx(1 worker)": nginx_one.pids, "nginx(auto workers)": nginx_auto.pids}
            pod_pids = list(status["pods"].values())
            print(f"{args.pods} pods, wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s, "
                  f"{args.rounds} alternating rounds, cores: {os.cpu_count()}", flush=True)
            for url in targets.values():  # warm-up: connection pools, caches
                wrk(wrk_bin, url, duration=1, connections=args.connections, threads=args.threads)
            results: dict[str, list[float]] = {name: [] for name in targets}
            cpu_us: dict[str, list[float]] = {name: [] for name in targets}  # the balancer's, per request
            pods_us: list[float] = []
            cpu_seconds = CpuTime()
            for round_ in range(args.rounds):
                for name, url in targets.items():
                    before, pods_before = cpu_seconds(balancer_pids[name]), cpu_seconds(pod_pids)
                    rps, answered = wrk(wrk_bin, url, duration=args.duration, connections=args.connections,
                                        threads=args.threads)
                    used, pods_used = cpu_seconds(balancer_pids[name]) - before, cpu_seconds(pod_pids) - pods_before
                    results[name].append(rps)
                    cpu_us[name].append(used / max(answered, 1) * 1e6)
                    pods_us.append(pods_used / max(answered, 1) * 1e6)
                    print(f"  round {round_ + 1}  {name:<20} {rps:>10.0f} req/s  balancer CPU "
                          f"{cpu_us[name][-1]:5.1f} us/request", flush=True)
        finally:
            nginx_one.stop()
            nginx_auto.stop()
    medians = {name: statistics.median(values) for name, values in results.items()}
    print()
    for name, value in medians.items():
        print(f"{name:<20} {value:>10.0f} req/s (median), balancer CPU {statistics.median(cpu_us[name]):5.1f} "
              "us/request")
    print(f"the pods' CPU (the same pods behind all three): {statistics.median(pods_us):5.1f} us/request")
    sandbox = medians["sandbox"]
    print(f"ratio sandbox / nginx(1 worker):    {sandbox / medians['nginx(1 worker)']:.2f}  (issue 18: >= 0.9)")
    print(f"ratio sandbox / nginx(auto workers): {sandbox / medians['nginx(auto workers)']:.2f}")


if __name__ == "__main__":
    main()
