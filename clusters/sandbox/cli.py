"""Command-line flags of a sandbox, shared by `python -m clusters.sandbox` and `manage.py sandbox`.

`add_sandbox_arguments(parser)` adds the flags to any argparse parser (Django's
BaseCommand.add_arguments gets one); `config_from_options(vars(args))` turns them into a
validated SandboxConfig or raises ClusterError naming the flag.
"""

from __future__ import annotations

import argparse

from clusters.algorithms import ALGORITHMS
from clusters.base import ClusterError
from clusters.sandbox.backends import BALANCER_BACKENDS, DEFAULT_BACKEND
from clusters.sandbox.config import DEFAULT_RETRIES, AutoscalerConfig, SandboxConfig, ServiceTime

FLAG_OF_FIELD = {"pods": "--pods", "balancer": "--balancer", "nodes": "--nodes", "algorithm": "--algorithm", "port": "--port",
                 "control_port": "--control-port", "service_time": "--service-time",
                 "service_time_ms": "--service-time", "service_time_sigma": "--service-time",
                 "capacity": "--capacity", "speeds": "--speeds", "restart_delay_s": "--restart-delay",
                 "retries": "--retries",
                 "host": "--host", "algorithm_options.weights": "--weights",
                 "options.weights": "--weights", "options.header": "--hash-header"}


def parse_service_time(text: str) -> ServiceTime:
    """`DIST[:MEAN_MS[:SIGMA]]`, e.g. `fixed:0`, `exponential:2`, `lognormal:5:0.8`."""
    parts = text.split(":")
    try:
        mean = float(parts[1]) if len(parts) > 1 else ServiceTime.mean_ms
        sigma = float(parts[2]) if len(parts) > 2 else ServiceTime.sigma
    except ValueError as exc:
        raise ClusterError("expected DIST[:MEAN_MS[:SIGMA]]", field="service_time") from exc
    return ServiceTime(distribution=parts[0], mean_ms=mean, sigma=sigma)


def add_sandbox_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pods", type=int, default=3, help="pod replicas (default 3)")
    parser.add_argument("--nodes", type=int, default=2, help="nodes the pods are spread over (default 2)")
    parser.add_argument("--algorithm", default="round_robin", help=f"one of {', '.join(ALGORITHMS)}")
    parser.add_argument("--balancer", default=DEFAULT_BACKEND,
                        help=f"what serves the endpoint in front of the pods: {', '.join(BALANCER_BACKENDS)} "
                             f"(default {DEFAULT_BACKEND}, LB Lab's own; nginx and haproxy: `make balancers`)")
    parser.add_argument("--port", type=int, default=0, help="balancer port (default: the kernel picks)")
    parser.add_argument("--control-port", type=int, default=0, help="control API port (default: picked)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--service-time", default="exponential:1",
                        help="DIST[:MEAN_MS[:SIGMA]], DIST fixed|exponential|lognormal "
                             "(default exponential:1)")
    parser.add_argument("--capacity", type=int, default=8,
                        help="concurrent requests a pod serves (default 8)")
    parser.add_argument("--speeds", default="", help="per-pod speed factors, comma separated, e.g. 1,1,0.5")
    parser.add_argument("--restart-delay", type=float, default=1.0,
                        help="seconds before a killed pod returns")
    parser.add_argument("--retries", type=int, default=DEFAULT_RETRIES,
                        help="retries of an idempotent request on another pod when one fails before "
                             "answering, as nginx's proxy_next_upstream (default 2; 0 turns them off)")
    parser.add_argument("--weights", default="",
                        help="slot weights for weighted_round_robin/least_conn, e.g. pod-0=3,pod-1=1")
    parser.add_argument("--hash-header", default="",
                        help="consistent_hash key header (default: the client address)")
    parser.add_argument("--autoscale", default="",
                        help="MIN:MAX:TARGET enables the HPA-like autoscaler, e.g. 1:6:0.6")


def config_from_options(options: dict) -> SandboxConfig:
    """Options as argparse (or Django) gives them → a validated SandboxConfig."""
    try:
        speeds = tuple(float(s) for s in options.get("speeds", "").split(",") if s.strip())
    except ValueError as exc:
        raise ClusterError("expected numbers separated by commas", field="speeds") from exc
    autoscaler = None
    if options.get("autoscale"):
        try:
            low, high, target = options["autoscale"].split(":")
            autoscaler = AutoscalerConfig(min_replicas=int(low), max_replicas=int(high),
                                          target_utilisation=float(target))
        except ValueError as exc:
            raise ClusterError("expected MIN:MAX:TARGET", field="autoscale") from exc
    algorithm_options: dict = {}
    if options.get("weights"):
        try:
            items = [item.split("=") for item in options["weights"].split(",") if item.strip()]
            algorithm_options["weights"] = {slot.strip(): float(weight) for slot, weight in items}
        except ValueError as exc:
            raise ClusterError("expected pod-N=WEIGHT,... e.g. pod-0=3,pod-1=1", field="weights") from exc
    if options.get("hash_header"):
        if options.get("algorithm") != "consistent_hash":
            raise ClusterError("only with --algorithm consistent_hash", field="hash_header")
        algorithm_options["header"] = options["hash_header"]
    return SandboxConfig(
        pods=options.get("pods", 3), nodes=options.get("nodes", 2),
        balancer=options.get("balancer") or DEFAULT_BACKEND,
        algorithm=options.get("algorithm", "round_robin"), algorithm_options=algorithm_options,
        host=options.get("host", "127.0.0.1"),
        port=options.get("port", 0), control_port=options.get("control_port", 0),
        service_time=parse_service_time(options.get("service_time", "exponential:1")),
        capacity=options.get("capacity", 8), speeds=speeds,
        restart_delay_s=options.get("restart_delay", 1.0), retries=options.get("retries", DEFAULT_RETRIES),
        autoscaler=autoscaler)


def flag_for(field: str | None) -> str:
    """The command-line flag a ClusterError's field came from, for one-line messages."""
    if not field:
        return "sandbox"
    return FLAG_OF_FIELD.get(field, "--" + field.split(".")[0].replace("_", "-"))
