"""`--dry-run` on a Kubernetes target: every object LB Lab would create or change, as YAML, and
nothing sent that changes the cluster.

The adapter runs as it would in the run: each chaos step is injected through its fault kind into a
`KubernetesCluster`, and each algorithm the tuner may switch to is set on it, so what is printed
is what the real code paths build. Only the official client's API objects are swapped for
recorders: reads (`list_*`, `read_*`, `get_*`) go to the cluster (the pods a step would pick, the
values a patch would replace), every `create_*`, `patch_*`, `replace_*` and `delete_*` is written
down instead of sent, and answered as the API would (a created object with its generated name).

    print(dry_run(api, endpoint_url=..., steps=[parse_step("pod_kill@3s:0s")], algorithms=("round_robin",)))
"""

from __future__ import annotations

import copy
import random
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import yaml

from clusters.base import ClusterError, EventType
from clusters.faults import FAULT_KINDS, FaultStep
from clusters.kubernetes.api import KubeApi
from clusters.kubernetes.balancers import BalancerOptions
from clusters.kubernetes.cluster import KubernetesCluster

CHANGING = re.compile(r"(create|patch|replace|delete)_(?:namespaced_)?(\w+)")
# How the adapter's client calls name what they change: (kind, where the name is among the arguments)
KINDS = {"pod": "Pod", "pod_eviction": "Eviction", "node": "Node", "deployment_scale": "Scale",
         "network_policy": "NetworkPolicy", "service": "Service", "ingress": "Ingress"}


@dataclass
class Change:
    """One call that would change the cluster: what for (`why`), the verb, the object."""

    why: str
    verb: str
    kind: str
    name: str
    body: dict | None = None
    options: dict = field(default_factory=dict)
    detail: str = ""  # said after the object instead of its options (a setting's current -> new)

    def to_yaml(self) -> str:
        head = f"# {self.why}: {self.verb} {self.kind} {self.name}".rstrip()
        if self.detail:
            head += f": {self.detail}"
        elif self.options:
            head += " (" + ", ".join(f"{key} {value}" for key, value in self.options.items()) + ")"
        if self.body is None:
            return head + "\n"
        return head + "\n" + yaml.safe_dump(self.body, sort_keys=False, default_flow_style=False)


def flow(value) -> str:
    """A setting's value on one line (YAML's flow style); "absent" for none."""
    if value is None or value == {}:
        return "absent"
    return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10_000).strip()


def setting_change(why: str, details: dict) -> Change:
    """What a balancer setting is now on the cluster and what the run would make it."""
    kind, _, name = details["object"].partition("/")
    at = f" {details['at']}" if details.get("at") else ""
    return Change(why=why, verb="setting of", kind=kind, name=f"{name or '(none yet)'}{at}",
                  detail=f"current {flow(details['previous'])} -> new {flow(details['setting'])}")


class _Recorder:
    """An official-client API object whose changing calls are recorded, not sent."""

    def __init__(self, api, changes: list[Change], why: list[str]):
        self._api, self._changes, self._why = api, changes, why

    def __getattr__(self, method: str):
        found = CHANGING.fullmatch(method)
        if not found:
            return getattr(self._api, method)  # a read: the cluster as it is
        verb = found.group(1)

        def record(*args, **kwargs):
            return self._record(verb, found.group(2), args, kwargs)

        return record

    def _record(self, verb: str, what: str, args: tuple, kwargs: dict):
        body = next((arg for arg in (*args, kwargs.get("body")) if isinstance(arg, dict) or hasattr(arg, "to_dict")),
                    None)
        if body is not None and not isinstance(body, dict):
            body = self._api.api_client.sanitize_for_serialization(body)
        body = copy.deepcopy(body)
        if what == "custom_object":  # (group, version, namespace, plural, [name,] body)
            kind = (body or {}).get("kind") or args[3]
            name = args[4] if verb != "create" and len(args) > 4 and isinstance(args[4], str) else ""
        else:
            kind = KINDS.get(what, what)
            name = args[0] if args and isinstance(args[0], str) and verb != "create" else ""
        if body is not None and verb == "create":
            metadata = body.setdefault("metadata", {})
            if not metadata.get("name") and metadata.get("generateName"):
                metadata["name"] = f"{metadata.pop('generateName')}{secrets.token_hex(3)[:5]}"  # as the API names it
            name = name or metadata.get("name", "")
        if verb == "patch" and body is not None:
            body = {"metadata": {"name": name}, **body} if "metadata" not in body else body
        options = {"gracePeriodSeconds": kwargs["grace_period_seconds"]} if "grace_period_seconds" in kwargs else {}
        self._changes.append(Change(why=self._why[-1], verb="merge-patch" if verb == "patch" else verb, kind=kind,
                                    name=name, body=None if verb == "delete" else body, options=options))
        return _Created(body) if verb == "create" else None


class _Created(dict):
    """What a create answers: the object, with `to_dict()` as the client's models have it."""

    def to_dict(self) -> dict:
        return dict(self)


def dry_run(api: KubeApi, *, endpoint_url: str, steps: Sequence[FaultStep] = (), algorithms: Iterable[str] = (),
            balancer: str = "none", service: str = "", route: str = "", seed: int = 0,
            balancer_options: BalancerOptions | None = None) -> str:
    """The YAML of every change a run with these chaos `steps` and a tuner switching among
    `algorithms` would make to the cluster `api` reaches; nothing is changed. Pods a step picks at
    random are picked as the run would pick them now (a run picks again when the step starts)."""
    changes: list[Change] = []
    why = ["the run"]
    for name in ("core", "apps", "custom", "networking", "autoscaling"):
        setattr(api, name, _Recorder(getattr(api, name), changes, why))
    cluster = KubernetesCluster(api, endpoint_url=endpoint_url, run_id="dry-run", balancer=balancer,
                                service=service, route=route, balancer_options=balancer_options)
    refused = []
    try:
        cluster.apply_balancer_options()
        changes.extend(setting_change(why[-1], event.details) for event in cluster.events(0)
                       if event.type in (EventType.BALANCER_OPTIONS_SET, EventType.ALGORITHM_SET))
        rng = random.Random(seed)
        for index, step in enumerate(steps, start=1):
            why.append(f"chaos step {index} {step.kind} at {step.start_s:g} s for {step.duration_s:g} s")
            kind = FAULT_KINDS[step.kind]
            if not kind.injects:
                changes.append(Change(why=why[-1], verb="nothing", kind="(external)", name="you cause this fault"))
                continue
            try:
                kind.inject(cluster, step, rng=rng)
            except ClusterError as error:
                refused.append(f"# {why[-1]}: refused: {error}")
        for algorithm in algorithms:
            why.append(f"the tuner switching to {algorithm}")
            seen = len(cluster.events(0))
            try:
                cluster.set_algorithm(algorithm)
            except ClusterError as error:
                refused.append(f"# {why[-1]}: refused: {error}")
                continue
            for event in cluster.events(seen):
                if event.type == EventType.ALGORITHM_SET:
                    changes.append(setting_change(why[-1], event.details))
    finally:
        cluster.close()
    lines = [f"# LB Lab dry run: {len(changes)} change(s) to namespace {api.namespace}; nothing was sent. "
             "At the run's end, a stop or the reaper, LB Lab deletes what it created and puts back what it changed."]
    documents = [change.to_yaml() for change in changes] + [line + "\n" for line in refused]
    return "\n".join(lines) + "\n---\n" + "---\n".join(documents) if documents else "\n".join(lines) + "\n"
