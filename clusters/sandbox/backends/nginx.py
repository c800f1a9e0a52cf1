"""Debian's nginx (`make balancers` installs it) in front of the pods: one master and one worker
process (LB Lab's balancer is one process too), its own config in a temp dir.

From the algorithm registry: round robin (nginx's default, weights written only where the
algorithm uses them), `least_conn`, `random`, `random two least_conn` (p2c), `hash <key>
consistent` (consistent_hash: `$http_<header>` when a header is named, else the client's
address and port, LB Lab's per-connection key), and `l4_connection` as an L4 proxy (the `stream`
module, Debian's libnginx-mod-stream: a pod per client connection, `random` or round robin as its
`pick` says). No equivalent: `ewma` (only ingress-nginx's Lua balancer has it).
nginx's `ip_hash` keys on the client address alone, which on loopback sends every request to one
pod, so no LB Lab algorithm maps to it.

Changes drop nothing: the config is rewritten, checked with `nginx -t` (a refused config is an
error and the running one stays), and the master gets SIGHUP: new workers start on the same
listening socket, the old ones finish the requests they hold. A change returns once a new worker
runs. Readiness: a pod LB Lab's checks find not ready is written `down`; a pod gone or added
(a kill and its restart, scale, drain) is a reload.

What nginx OSS cannot provide: active health checks (only passive ones, `max_fails` and
`fail_timeout`; LB Lab's own `/readyz` checks write `down` instead) and per-upstream counters
(stub_status counts only totals): per-pod requests, failures and in-flight come from the pods'
own counters, which count exactly what each pod answered. LB Lab's `retries` map to
`proxy_next_upstream error` with `proxy_next_upstream_tries` (0: `proxy_next_upstream off`);
nginx, like LB Lab, retries only idempotent requests. Failure streaks are not in the event log
(nginx answers the failures; the load generator counts them).
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from pathlib import Path

import psutil

from clusters import procs
from clusters.algorithms import Algorithm, algorithm_named
from clusters.base import ClusterError
from clusters.sandbox.backends import BalancerBackend, header_name, register
from clusters.sandbox.backends.external import ExternalFront

STREAM_MODULE = Path("/usr/lib/nginx/modules/ngx_stream_module.so")  # Debian's libnginx-mod-stream
PICKS = {"random": "random", "round_robin": ""}  # l4_connection's `pick`: nginx's way of picking

HEAD = """# written by LB Lab for one sandbox; nginx runs in the foreground, stopped by PID
{load_stream}worker_processes 1;
daemon off;
master_process on;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
"""

# L4 (l4_connection): each client connection goes to one pod for its whole life, as kube-proxy's.
STREAM = """stream {{
    upstream pods {{
{directive}{servers}
    }}
    server {{
        listen {host}:{port} backlog=4096;
        proxy_pass pods;
        proxy_connect_timeout 2s;
        proxy_timeout 75s;
{retries}
    }}
}}
"""

HTTP = """http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    upstream pods {{
{directive}{servers}
        keepalive 64;
    }}
    server {{
        listen {host}:{port} backlog=4096;
        location / {{
            proxy_pass http://pods;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_connect_timeout 2s;
            proxy_read_timeout {timeout}s;
{retries}
        }}
    }}
}}
"""


def directive(algorithm: Algorithm, options: Mapping) -> str:
    """The `upstream` block's balancing directive for the algorithm ("" for round robin);
    ClusterError(field="algorithm") when nginx has none."""
    template = algorithm.nginx
    if template is None:
        Nginx().check_algorithm(algorithm.name, options)  # raises, naming what nginx runs
    header = header_name(options)
    key = f"$http_{header.lower().replace('-', '_')}" if header else "$remote_addr:$remote_port"
    return template.format(key=key, pick=PICKS[options.get("pick", "random")])


class NginxFront(ExternalFront):
    config_name = "nginx.conf"
    max_weight = 1000

    def render(self) -> str:
        balancer = self.balancer
        line = directive(self.algorithm(), balancer.options)
        fail_timeout = max(1, round(self.config.health_interval_s * self.config.unhealthy_threshold))
        servers = [f"        server {s.address} weight={s.weight} max_fails=1 fail_timeout={fail_timeout}s"
                   f"{'' if s.up else ' down'};  # {s.name}" for s in self.servers()]
        if not servers:  # nginx needs a server in an upstream: none ready answers 502
            servers = ["        server 127.0.0.1:1 down;  # no pod"]
        l4 = self.algorithm().layer == "L4"
        indent = " " * (8 if l4 else 12)
        if balancer.retries:  # L4: only connecting to a pod can be retried
            retries = (f"{indent}proxy_next_upstream {'on' if l4 else 'error'};\n"
                       f"{indent}proxy_next_upstream_tries {1 + balancer.retries};")
        else:
            retries = f"{indent}proxy_next_upstream off;"
        head = HEAD.format(tmp=self.tmp, load_stream=f"load_module {STREAM_MODULE};\n" if STREAM_MODULE.exists() else "")
        body = (STREAM if l4 else HTTP).format(
            tmp=self.tmp, host=self.host, port=self.port, directive=f"        {line};\n" if line else "",
            servers="\n".join(servers), timeout=f"{self.config.upstream_timeout_s:g}", retries=retries)
        return head + body

    def validate_argv(self, path: Path) -> list[str]:
        return [self.binary, "-t", "-q", "-p", str(self.tmp), "-e", str(self.tmp / "error.log"), "-c", str(path)]

    def start_argv(self) -> list[str]:
        return [self.binary, "-p", str(self.tmp), "-e", str(self.tmp / "error.log"), "-c", str(self.config_path)]

    async def _apply(self) -> None:
        text = self.render()
        if self.config_path.read_text() == text:
            return
        self.write_checked(text)
        old = set(self.pids()[1:])
        procs.signal_pid(self.proc.pid, signal.SIGHUP)
        # The reload is done when a worker of the new config runs and no old one accepts any more
        # (each has exited or calls itself "shutting down": it only finishes what it holds).
        await self.wait_for(lambda: bool(set(self.pids()[1:]) - old) and not accepting(old), "the reload")


def accepting(pids) -> bool:
    """Whether any of these nginx workers still accepts connections."""
    for pid in pids:
        try:
            title = " ".join(psutil.Process(pid).cmdline())
        except psutil.Error:
            continue
        if "worker process" in title and "shutting down" not in title:
            return True
    return False


@register
class Nginx(BalancerBackend):
    name = "nginx"
    label = "nginx"
    help = ("Debian's nginx (one worker): round robin, weights, least_conn, random, random two least_conn, hash, "
            "and L4 per connection (stream).")
    binary = "nginx"
    install = "make balancers: apt-get install nginx"

    def check_algorithm(self, name, options) -> None:
        super().check_algorithm(name, options)
        header_name(options or {})
        if algorithm_named(name).layer == "L4" and not STREAM_MODULE.exists():
            raise ClusterError(f"{name} on nginx needs its stream module: make balancers (libnginx-mod-stream)",
                               field="algorithm")

    def front(self, balancer, supervisor, config) -> NginxFront:
        return NginxFront(self, balancer, supervisor, config)

