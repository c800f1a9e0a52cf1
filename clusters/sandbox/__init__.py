"""The sandbox cluster: real pod processes behind a real balancer on one machine.

    from clusters.sandbox import SandboxCluster, SandboxConfig
    with SandboxCluster(SandboxConfig(pods=4, algorithm="least_conn")) as cluster:
        cluster.endpoint            # http://127.0.0.1:<port> of the balancer
        cluster.kill_pod(cluster.pods()[0].name)

Django-free. Module map: pod.py (a pod process), balancer.py + algorithms.py (the
proxy), supervisor.py (ReplicaSet-like restarts, nodes, drain, scale), autoscaler.py
(HPA-like), control.py (the control API), controller.py (the process that hosts them),
client.py (control API client), cluster.py (SandboxCluster, run_foreground),
config.py (SandboxConfig and validation), events.py (the event log and the balancer's
failure streaks). Processes are started and stopped through
clusters/procs.py, the project's one module for that.
"""

from clusters.sandbox.cluster import SandboxCluster, run_foreground
from clusters.sandbox.config import AutoscalerConfig, SandboxConfig, ServiceTime

__all__ = ["AutoscalerConfig", "SandboxCluster", "SandboxConfig", "ServiceTime", "run_foreground"]
