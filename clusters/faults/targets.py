"""What a chaos step acts on: the `TARGET` of `KIND@START:DURATION[:SEVERITY][:TARGET]`. Pure.

The forms follow Chaos Mesh's selector modes (`one`, `all`, `fixed`, `fixed-percent`) and its
pod and node selectors, so a Chaos Mesh or krkn user reads them at sight:

    (empty), random, one   one ready pod, chosen at random            (Chaos Mesh mode `one`)
    all                    every pod                                   (mode `all`)
    2                      2 ready pods, chosen at random              (mode `fixed`, value 2)
    50%                    50 % of the ready pods, rounded down, at least one
                           (mode `fixed-percent`; the at-least-one is Litmus's PODS_AFFECTED_PERC)
    pod-1-ab12c            that pod
    pod-1                  the pod in slot 1 whatever its suffix: sandbox pods are `pod-<slot>-<suffix>`
                           and the suffix changes on every restart, so a slot is what a user can
                           write before the run
    pod-0,pod-2            those pods (names or slots)                 (a `pods` selector)
    node:node-0            every pod on node-0                         (a `nodes` selector, mode `all`)

A kind acting on a node (`node_drain`) takes a node instead: `node-0` or `node:node-0`, or empty
(`random`) for one node that has pods, chosen at random. A kind acting on the stateful service
takes no target. Keywords win over names: a pod named `all` cannot be targeted by name.

`parse_target` checks the syntax before a run starts; `resolve` turns a target into names against
the pods of the moment (at injection time: pods are replaced during a run) with the run's seeded
`random.Random`, so a run with the same seed and the same slots picks the same pods.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from clusters.base import ClusterError, Pod

# What a kind acts on (FaultKind.acts_on); EXTERNAL: something outside LB Lab's reach, which the
# user acts on themselves (clusters/faults/external.py), so a step of it names no target.
PODS, NODE, STATEFUL, EXTERNAL = "pods", "node", "stateful", "external"

# Modes, named after Chaos Mesh's where it has one.
ONE, ALL, FIXED, FIXED_PERCENT, NAMED, ON_NODE = "one", "all", "fixed", "fixed-percent", "named", "node"
Mode = Literal["one", "all", "fixed", "fixed-percent", "named", "node"]

RANDOM_WORDS = frozenset({"", "random", "one"})
NODE_PREFIX = "node:"
# Pod and node names are Kubernetes DNS subdomains: lower-case letters, digits, '-' and '.'.
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_COUNT = re.compile(r"\d+")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)%")
_COUNT_OF_PODS = re.compile(r"\d+ *pods?")
MAX_NAME_LENGTH = 253
POD_FORMS = "empty or random (one pod), all, N pods (2), a percentage (50%), pod names or slots " \
            "(pod-1-ab12c, pod-1, pod-0,pod-2) or node:NODE"
NODE_FORMS = "a node (node-0 or node:node-0), or empty or random for one at random"


@dataclass(frozen=True)
class FaultTarget:
    """A parsed target: `mode` and what it needs (`count` for fixed, `percent` for fixed-percent,
    `names` for named pods or the node)."""

    mode: Mode
    count: int = 0
    percent: float = 0.0
    names: tuple[str, ...] = ()

    def __str__(self) -> str:
        """The target as `parse_target` reads it."""
        if self.mode == FIXED:
            return str(self.count)
        if self.mode == FIXED_PERCENT:
            return f"{self.percent:g}%"
        if self.mode == NAMED:
            return ",".join(self.names)
        if self.mode == ON_NODE:
            return NODE_PREFIX + self.names[0]
        return "random" if self.mode == ONE else ALL


def _error(message: str) -> ClusterError:
    return ClusterError(message, field="target")


def _check_name(name: str, what: str, text: str, forms: str) -> str:
    if len(name) > MAX_NAME_LENGTH or not _NAME.fullmatch(name):
        raise _error(f"target {text!r}: {name!r} is not a {what} name; a target is {forms}")
    return name


def parse_target(text, acts_on: str = PODS) -> FaultTarget:
    """`text` as a target of a kind that acts on `acts_on`; ClusterError(field="target") saying
    which forms there are when it is none of them."""
    if not isinstance(text, str):
        raise _error("target must be a pod or node name (empty: chosen at run time)")
    spec = text.strip()
    word = spec.lower()
    if acts_on == STATEFUL:
        if spec:
            raise _error(f"target {text!r}: a stateful fault acts on the service's primary; leave the target empty")
        return FaultTarget(ONE)
    if acts_on == EXTERNAL:
        if spec:
            raise _error(f"target {text!r}: you cause an external fault yourself, LB Lab acts on nothing; "
                         f"leave the target empty")
        return FaultTarget(ONE)
    if word in RANDOM_WORDS:
        return FaultTarget(ONE)
    if acts_on == NODE:
        node = spec[len(NODE_PREFIX):] if word.startswith(NODE_PREFIX) else spec
        if "," in node or word == ALL or _COUNT.fullmatch(node) or _PERCENT.fullmatch(node):
            raise _error(f"target {text!r}: a node fault's target is {NODE_FORMS}")
        return FaultTarget(ON_NODE, names=(_check_name(node.strip(), "node", text, NODE_FORMS),))
    if word == ALL:
        return FaultTarget(ALL)
    if _COUNT.fullmatch(spec):
        count = int(spec)
        if count < 1:
            raise _error(f"target {text!r} picks no pod; ask for 1 or more")
        return FaultTarget(FIXED, count=count)
    percent = _PERCENT.fullmatch(spec)
    if percent:
        value = float(percent.group(1))
        if not 0 < value <= 100:
            raise _error(f"target {text!r}: a percentage of the pods is more than 0% and at most 100%")
        return FaultTarget(FIXED_PERCENT, percent=value)
    if word.startswith(NODE_PREFIX):
        node = spec[len(NODE_PREFIX):].strip()
        return FaultTarget(ON_NODE, names=(_check_name(node, "node", text, POD_FORMS),))
    if _COUNT_OF_PODS.fullmatch(word):  # a valid pod name, but surely meant as a count
        raise _error(f"target {text!r}: write a number of pods as the number alone, e.g. 2")
    names = [name.strip() for name in spec.split(",")]
    return FaultTarget(NAMED, names=tuple(dict.fromkeys(_check_name(name, "pod", text, POD_FORMS)
                                                        for name in names)))


def resolve(target: str | FaultTarget, pods: Sequence[Pod], *, rng: random.Random, acts_on: str = PODS,
            nodes: Iterable[str] | None = None) -> list[str]:
    """The names `target` picks among `pods`: pod names for a kind acting on pods, one node name for
    a kind acting on a node, nothing for the stateful service. `nodes` are every node of the cluster
    (default: the pods' nodes), so a node with no pod left is known rather than unknown.

    Random picks are among ready pods, drawn from `rng` over the pods sorted by name: sandbox names
    sort by slot whatever their suffixes, so the same seed picks the same slots in every run.
    ClusterError(field="target") when the target names a pod or node that is not there, or asks for
    more pods than are ready."""
    if isinstance(target, str):
        target = parse_target(target, acts_on)
    if acts_on in (STATEFUL, EXTERNAL):
        return []
    by_name = sorted(pods, key=lambda pod: pod.name)
    known_nodes = sorted(set(nodes) if nodes is not None else {pod.node for pod in by_name})
    if acts_on == NODE:
        return [_resolve_node(target, by_name, known_nodes, rng)]
    mode = target.mode
    if mode == NAMED:
        return list(dict.fromkeys(_find_pod(name, by_name, known_nodes) for name in target.names))
    if mode == ON_NODE:
        node = _known_node(target.names[0], known_nodes)
        on_node = [pod.name for pod in by_name if pod.node == node]
        if not on_node:
            raise _error(f"node {node!r} has no pods")
        return on_node
    if mode == ALL:
        if not by_name:
            raise _error("there is no pod to act on")
        return [pod.name for pod in by_name]
    ready = [pod.name for pod in by_name if pod.ready]
    if not ready:
        raise _error("no pod is ready to be chosen")
    if mode == ONE:
        return [rng.choice(ready)]
    count = target.count if mode == FIXED else percent_of(len(ready), target.percent)
    if count > len(ready):
        raise _error(f"target {str(target)!r} asks for {count} pods; {len(ready)} are ready")
    return rng.sample(ready, count)


def percent_of(pods: int, percent: float) -> int:
    """How many of `pods` a percentage picks: rounded down as Chaos Mesh does, but never zero (a
    fault on no pod would pass unnoticed). The epsilon keeps 3 x 33.333...% from flooring to 0.99."""
    return max(1, math.floor(pods * percent / 100 + 1e-9))


def _find_pod(name: str, pods: Sequence[Pod], nodes: Sequence[str]) -> str:
    for pod in pods:
        if pod.name == name:
            return name
    # A slot: the pod whose name is `name` plus one `-suffix` (pod-1 -> pod-1-ab12c).
    in_slot = [pod.name for pod in pods if pod.name.rsplit("-", 1)[0] == name]
    if len(in_slot) == 1:
        return in_slot[0]
    if in_slot:
        raise _error(f"target {name!r} matches {', '.join(in_slot)}; name one")
    if name in nodes:
        raise _error(f"{name!r} is a node; node:{name} targets its pods")
    running = ", ".join(pod.name for pod in pods) or "none"
    raise _error(f"unknown pod {name!r}; pods now: {running}")


def _known_node(node: str, nodes: Sequence[str]) -> str:
    if node not in nodes:
        raise _error(f"unknown node {node!r}; one of {', '.join(nodes) or 'none'}")
    return node


def _resolve_node(target: FaultTarget, pods: Sequence[Pod], nodes: Sequence[str], rng: random.Random) -> str:
    if target.mode == ON_NODE:
        return _known_node(target.names[0], nodes)
    with_pods = sorted({pod.node for pod in pods})
    if not with_pods:
        raise _error("no node has pods to choose from")
    return rng.choice(with_pods)
