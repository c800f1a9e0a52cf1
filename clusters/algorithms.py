"""The balancing algorithms: one entry each, the one place that says what an algorithm is.

Models' choices, forms, the API schema, the CLI's choices, the sandbox balancer and the
what-if simulator read `ALGORITHMS`; nothing else lists the names. A new algorithm is a new
entry here (and a migration for the models' choices).

Pure and light: no Django, and an entry names its implementations by dotted path, imported
when first used, so reading the registry loads neither numpy nor the sandbox.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from clusters.base import ClusterError, check_number

if TYPE_CHECKING:  # pragma: no cover
    from clusters.sandbox.algorithms import Picker

# A check takes a value given for an option, the field to name in errors and the pods the
# value may name (None while they are not known); it returns the value normalised or raises
# ClusterError(field=...).
Check = Callable[[Any, str, Collection[str] | None], Any]
Implementation = Literal["sandbox", "simulator"]


@dataclass(frozen=True)
class Option:
    """An option of an algorithm, with the default its implementations use.

    `sandbox` and `simulator` check a value given to that implementation; None where it does
    not take the option, so giving it there is an error. They differ where the two differ:
    the simulator's weights are its PodSpecs' and only it draws header keys.
    """

    name: str
    default: Any
    help: str
    sandbox: Check | None = None
    simulator: Check | None = None
    # the option that must be set for this one to mean anything, and the error's message
    needs: str | None = None
    needs_reason: str = ""


@dataclass(frozen=True)
class Algorithm:
    """A balancing algorithm: what it is called, what it means and where it is implemented."""

    name: str
    label: str  # what forms and tables show
    help: str  # one line a user understands
    layer: Literal["L4", "L7"]  # L7 reads every HTTP request; L4 sees connections only
    stateless: bool  # a pick depends on no pod's live state: the simulator vectorises it
    sandbox: str  # "module:name" of the sandbox balancer's Picker class
    simulator: str  # "module:name" of the simulator's Picks class (a KernelPicks when stateful)
    options: tuple[Option, ...] = ()
    per_connection: bool = False  # picks when a client connection opens; its requests follow
    per_request_with: str | None = None  # the option that, set, makes it pick per request instead
    # Each real balancer's equivalent (clusters/sandbox/backends writes their configs from these);
    # None where it has none. nginx: the directive of the `upstream` block ("": none, round robin is
    # nginx's default); HAProxy: the argument of `balance`. `{key}` (nginx) and `{header}` (HAProxy)
    # stand for the hash key the options give (consistent_hash's header), `{pick}` for the balancer's
    # way of picking that the `pick` option names; an L4 algorithm is written as an L4 proxy
    # (nginx's stream module, HAProxy's `mode tcp`).
    nginx: str | None = None
    haproxy: str | None = None
    # Kubernetes balancers' equivalents (clusters/kubernetes/balancers.py writes their objects from
    # these); None where one has none. Envoy Gateway: a BackendTrafficPolicy's `loadBalancer.type`;
    # Istio: a DestinationRule's `loadBalancer.simple`, or "consistentHash"; ingress-nginx: its
    # `load-balance` annotation, or "upstream-hash-by" (its hash annotation); kube-proxy: "" for the
    # Service as it is (kube-proxy's own per-connection pick) or "sessionAffinity" (ClientIP).
    envoy_gateway: str | None = None
    istio: str | None = None
    ingress_nginx: str | None = None
    kube_proxy: str | None = None
    weighted: bool = True  # pod weights steer its picks (False: they are kept but ignored)

    def picks_per_connection(self, options: Mapping) -> bool:
        """Whether, with these options, a pod is picked once per client connection."""
        return self.per_connection and (self.per_request_with is None or options.get(self.per_request_with) is None)

    @property
    def sandbox_picker(self) -> type[Picker]:
        return _resolve(self.sandbox)

    @property
    def simulator_picks(self) -> type:
        return _resolve(self.simulator)

    def sandbox_options(self, options: Mapping | None, *, pod_names: Collection[str] | None = None) -> dict:
        """The options checked and normalised for the sandbox balancer: only those given (its
        pickers apply the defaults), weights checked against `pod_names` when known."""
        return self._checked(options, "sandbox", pod_names, with_defaults=False)

    def simulator_options(self, options: Mapping | None) -> dict:
        """The options checked and normalised for the simulator, every default filled in."""
        return self._checked(options, "simulator", None, with_defaults=True)

    def _checked(self, options: Mapping | None, implementation: Implementation,
                 pod_names: Collection[str] | None, *, with_defaults: bool) -> dict:
        if options is None:
            options = {}
        if not isinstance(options, Mapping):
            raise ClusterError("must be an object", field="options")
        taken = {option.name: option for option in self.options if getattr(option, implementation) is not None}
        for key in options:
            if key not in taken:
                raise ClusterError(f"not an option of {self.name}", field=f"options.{key}")
        out = {name: option.default for name, option in taken.items()} if with_defaults else {}
        out.update(options)
        for name, option in taken.items():
            if name in options:
                out[name] = getattr(option, implementation)(options[name], f"options.{name}", pod_names)
        for name, option in taken.items():
            if option.needs is not None and name in options and out.get(option.needs) is None:
                raise ClusterError(option.needs_reason, field=f"options.{option.needs}")
        return out


@cache
def _resolve(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


# --------------------------------------------------------------------------- option checks


def _number(**bounds) -> Check:
    """A number within `check_number`'s bounds."""
    return lambda value, field, pod_names: check_number(value, field, **bounds)


def _one_of(*choices: str) -> Check:
    def check(value, field, pod_names):
        if value not in choices:
            raise ClusterError(f"must be {' or '.join(map(repr, choices))}", field=field)
        return value

    return check


def _header_name(value, field, pod_names):
    if not isinstance(value, str) or not value.strip():
        raise ClusterError("must be a header name", field=field)
    return value


def _header_name_or_none(value, field, pod_names):
    # None is the simulator's default: no header, the client's connection is the key
    return None if value is None else _header_name(value, field, pod_names)


def _pod_weights(value, field, pod_names):
    if not isinstance(value, dict):
        raise ClusterError("must map pod names to weights", field=field)
    for pod, weight in value.items():
        if pod_names is not None and pod not in pod_names:
            raise ClusterError(f"unknown pod {pod!r}", field=field)
        check_number(weight, field, minimum=0, strict=True, maximum=1000)
    return {pod: float(weight) for pod, weight in value.items()}


# The sandbox balancer keeps pod weights across algorithm switches, so every algorithm takes
# them there; the simulator's come from its PodSpecs.
WEIGHTS = Option("weights", None, "relative weight of each pod (or slot, pod-0 ...); 1 when unnamed",
                 sandbox=_pod_weights)
_VNODES = _number(minimum=1, maximum=1000, integer=True)
_PICK = _one_of("random", "round_robin")
_HASH_KEYS_NEED_A_HEADER = "keys are drawn per request only with a header"


# --------------------------------------------------------------------------- the registry


ALGORITHMS: dict[str, Algorithm] = {algorithm.name: algorithm for algorithm in (
    Algorithm(
        name="round_robin",
        label="Round robin",
        help="Every ready pod in turn, so each gets the same number of requests; weights are ignored.",
        layer="L7", stateless=True,
        nginx="", haproxy="static-rr", weighted=False,
        envoy_gateway="RoundRobin", istio="ROUND_ROBIN", ingress_nginx="round_robin",
        sandbox="clusters.sandbox.algorithms:RoundRobin",
        simulator="clusters.simulate:RoundRobinPicks",
        options=(WEIGHTS,),
    ),
    Algorithm(
        name="weighted_round_robin",
        label="Weighted round robin",
        help="Pods in turn in proportion to their weights, interleaved (nginx's smooth weighted round robin).",
        layer="L7", stateless=True,
        nginx="", haproxy="roundrobin",
        sandbox="clusters.sandbox.algorithms:WeightedRoundRobin",
        simulator="clusters.simulate:WeightedRoundRobinPicks",
        options=(WEIGHTS,),
    ),
    Algorithm(
        name="least_conn",
        label="Least connections",
        help="The pod with the fewest requests in flight for its weight; ties take turns.",
        layer="L7", stateless=False,
        nginx="least_conn", haproxy="leastconn",
        # Envoy's and Istio's least request is two random picks by default (p2c); Istio's LEAST_CONN is deprecated
        envoy_gateway="LeastRequest", istio="LEAST_REQUEST",
        sandbox="clusters.sandbox.algorithms:LeastConn",
        simulator="clusters.simulate:LeastConnPicks",
        options=(WEIGHTS,),
    ),
    Algorithm(
        name="random",
        label="Random",
        help="A pod at random for every request; weights are ignored.",
        layer="L7", stateless=True,
        nginx="random", haproxy="random(1)", weighted=False,
        envoy_gateway="Random", istio="RANDOM",
        sandbox="clusters.sandbox.algorithms:Random",
        simulator="clusters.simulate:RandomPicks",
        options=(WEIGHTS,),
    ),
    Algorithm(
        name="p2c",
        label="Power of two choices",
        help="Two pods at random; the one with fewer requests in flight for its weight gets the request.",
        layer="L7", stateless=False,
        nginx="random two least_conn", haproxy="random(2)",
        envoy_gateway="LeastRequest", istio="LEAST_REQUEST",
        sandbox="clusters.sandbox.algorithms:PowerOfTwoChoices",
        simulator="clusters.simulate:P2CPicks",
        options=(WEIGHTS,),
    ),
    Algorithm(
        name="ewma",
        label="Peak EWMA latency",
        help="Two pods at random; the one with the lower recent latency times requests in flight wins "
             "(Linkerd, ingress-nginx), so a slow pod is avoided quickly.",
        layer="L7", stateless=False,
        ingress_nginx="ewma",
        sandbox="clusters.sandbox.algorithms:PeakEwma",
        simulator="clusters.simulate:EwmaPicks",
        options=(
            WEIGHTS,
            Option("decay_s", 10.0, "seconds for a pod's latency estimate to fade towards its newer responses",
                   sandbox=_number(minimum=0, strict=True),
                   simulator=_number(minimum=0, strict=True, maximum=1e6)),
        ),
    ),
    Algorithm(
        name="consistent_hash",
        label="Consistent hash",
        help="The same key always goes to the same pod: a request header when one is named, "
             "else the client's connection.",
        layer="L7", stateless=True,
        nginx="hash {key} consistent", haproxy="hdr({header})",
        envoy_gateway="ConsistentHash", istio="consistentHash", ingress_nginx="upstream-hash-by",
        kube_proxy="sessionAffinity",
        sandbox="clusters.sandbox.algorithms:ConsistentHash",
        simulator="clusters.simulate:ConsistentHashPicks",
        options=(
            WEIGHTS,
            Option("header", None, "request header whose value is the key; none: the client's address and port",
                   sandbox=_header_name, simulator=_header_name_or_none),
            Option("vnodes", 100, "points each pod has on the hash ring",
                   sandbox=_VNODES, simulator=_VNODES),
            Option("keys", 1000, "distinct header values the simulated clients send",
                   simulator=_number(minimum=1, maximum=1_000_000, integer=True),
                   needs="header", needs_reason=_HASH_KEYS_NEED_A_HEADER),
            Option("zipf", 0.0, "skew of the simulated keys' popularity (Zipf exponent; 0: uniform)",
                   simulator=_number(minimum=0, maximum=10),
                   needs="header", needs_reason=_HASH_KEYS_NEED_A_HEADER),
        ),
        per_connection=True, per_request_with="header",
    ),
    Algorithm(
        name="l4_connection",
        label="L4 per connection (kube-proxy)",
        help="A pod per TCP connection, kept for the connection's life, as kube-proxy does: "
             "keep-alive clients stay on one pod.",
        layer="L4", stateless=True,
        nginx="{pick}", haproxy="{pick}",
        kube_proxy="",
        sandbox="clusters.sandbox.algorithms:L4Connection",
        simulator="clusters.simulate:L4ConnectionPicks",
        options=(
            WEIGHTS,
            Option("pick", "random", "how a connection's pod is chosen: random (iptables) or round_robin (IPVS)",
                   sandbox=_PICK, simulator=_PICK),
        ),
        per_connection=True,
    ),
)}

# The names in order, for what needs a sequence rather than a mapping (hypothesis strategies)
NAMES: tuple[str, ...] = tuple(ALGORITHMS)


def choices() -> list[tuple[str, str]]:
    """(name, label) pairs in the registry's order: models' and forms' choices."""
    return [(algorithm.name, algorithm.label) for algorithm in ALGORITHMS.values()]


def algorithm_named(name: Any) -> Algorithm:
    """The entry called `name`, or ClusterError(field="algorithm") listing the names."""
    algorithm = ALGORITHMS.get(name) if isinstance(name, str) else None
    if algorithm is None:
        raise ClusterError(f"unknown algorithm {name!r}; one of {', '.join(ALGORITHMS)}", field="algorithm")
    return algorithm
