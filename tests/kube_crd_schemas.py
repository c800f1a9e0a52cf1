"""Schemas of custom resources, which kubernetes-validate does not ship. Two sources:

- the upstream CRDs vendored in tests/crds/ (each file's header names its repository, path and
  release): Gateway API's HTTPRoute, prometheus-operator's ServiceMonitor and PrometheusRule, for
  the manifests in k8s/. Each served version's `openAPIV3Schema` is taken as an API server with
  strict field validation (kubectl's default) takes it: an object whose properties are listed
  refuses any other field unless it says `x-kubernetes-preserve-unknown-fields`; `metadata` is the
  Kubernetes ObjectMeta. The CEL rules (`x-kubernetes-validations`) are not evaluated.
- for the objects LB Lab writes for Kubernetes balancers, schemas written here from the projects'
  documented API references: only the fields LB Lab sets, strictly, so a misspelt or misplaced
  field fails. Envoy Gateway: gateway.envoyproxy.io/v1alpha1 BackendTrafficPolicy (`targetRefs`,
`loadBalancer.type` RoundRobin | LeastRequest | Random | ConsistentHash, `consistentHash.type`
SourceIP | Header | Cookie, `header.name`, `slowStart.window` not with Random or ConsistentHash).
Istio: networking.istio.io/v1 DestinationRule (`host`, `trafficPolicy.loadBalancer.simple` or
`consistentHash` with one of `httpHeaderName`, `useSourceIp`; `warmupDurationSecs` with
ROUND_ROBIN or LEAST_REQUEST)."""

from __future__ import annotations

import functools
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

UPSTREAM_CRDS = Path(__file__).resolve().parent / "crds"
KUBERNETES_VERSION = "1.35.0"
GO_DURATION = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"

METADATA = {"type": "object", "required": ["name", "namespace"], "additionalProperties": False,
            "properties": {"name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253},
                           "namespace": {"type": "string"},
                           "resourceVersion": {"type": "string"},  # sent back on a replace
                           "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                           "annotations": {"type": "object", "additionalProperties": {"type": "string"}}}}

BACKEND_TRAFFIC_POLICY = {
    "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"], "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "gateway.envoyproxy.io/v1alpha1"}, "kind": {"const": "BackendTrafficPolicy"},
        "metadata": METADATA,
        "spec": {"type": "object", "required": ["targetRefs"], "additionalProperties": False, "properties": {
            "targetRefs": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["group", "kind", "name"], "additionalProperties": False,
                "properties": {"group": {"const": "gateway.networking.k8s.io"},
                               "kind": {"enum": ["HTTPRoute", "GRPCRoute", "Gateway"]}, "name": {"type": "string"}}}},
            "loadBalancer": {"type": "object", "required": ["type"], "additionalProperties": False, "properties": {
                "type": {"enum": ["RoundRobin", "LeastRequest", "Random", "ConsistentHash"]},
                "consistentHash": {"type": "object", "required": ["type"], "additionalProperties": False, "properties": {
                    "type": {"enum": ["SourceIP", "Header", "Cookie"]},
                    "header": {"type": "object", "required": ["name"], "additionalProperties": False,
                               "properties": {"name": {"type": "string"}}}}},
                # api/v1alpha1 loadbalancer_types.go: SlowStart{Window *metav1.Duration}, required window
                "slowStart": {"type": "object", "required": ["window"], "additionalProperties": False,
                              "properties": {"window": {"type": "string", "pattern": GO_DURATION}}}},
                # its CEL rules: consistentHash with ConsistentHash only; slowStart not with Random or ConsistentHash
                "allOf": [
                    {"if": {"properties": {"type": {"const": "ConsistentHash"}}},
                     "then": {"required": ["consistentHash"]}, "else": {"not": {"required": ["consistentHash"]}}},
                    {"if": {"properties": {"type": {"enum": ["Random", "ConsistentHash"]}}},
                     "then": {"not": {"required": ["slowStart"]}}}]}}}},
}

DESTINATION_RULE = {
    "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"], "additionalProperties": False,
    "properties": {
        "apiVersion": {"enum": ["networking.istio.io/v1", "networking.istio.io/v1beta1"]},
        "kind": {"const": "DestinationRule"}, "metadata": METADATA,
        "spec": {"type": "object", "required": ["host"], "additionalProperties": False, "properties": {
            "host": {"type": "string"},
            "trafficPolicy": {"type": "object", "additionalProperties": False, "properties": {
                # LoadBalancerSettings: a oneof of `simple` and `consistentHash`; `warmupDurationSecs` (a
                # Duration) beside `simple`, which Istio's validation takes with ROUND_ROBIN or LEAST_REQUEST only
                "loadBalancer": {"type": "object", "additionalProperties": False,
                                 "oneOf": [{"required": ["simple"]}, {"required": ["consistentHash"]}],
                                 "properties": {
                                     "simple": {"enum": ["UNSPECIFIED", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN",
                                                         "LEAST_REQUEST", "LEAST_CONN"]},
                                     "consistentHash": {"type": "object", "additionalProperties": False,
                                                        "minProperties": 1, "maxProperties": 1, "properties": {
                                                            "httpHeaderName": {"type": "string"},
                                                            "useSourceIp": {"type": "boolean"}}},
                                     "warmupDurationSecs": {"type": "string", "pattern": GO_DURATION}},
                                 "if": {"required": ["warmupDurationSecs"]},
                                 "then": {"required": ["simple"],
                                          "properties": {"simple": {"enum": ["ROUND_ROBIN", "LEAST_REQUEST"]}}}}}}}}},
}

SCHEMAS = {"BackendTrafficPolicy": BACKEND_TRAFFIC_POLICY, "DestinationRule": DESTINATION_RULE}


def strict(schema: dict) -> dict:
    """A CRD's structural schema with unknown fields refused where the API server would prune or,
    validating strictly, refuse them. Only `properties`, `items` and `additionalProperties` hold
    the object's fields; `allOf`/`anyOf`/`oneOf`/`not` only constrain them and are left as they are."""
    out = dict(schema)
    if "properties" in schema:
        out["properties"] = {name: strict(field) for name, field in schema["properties"].items()}
        if "additionalProperties" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            out[key] = strict(schema[key])
    return out


@functools.cache
def upstream_schemas() -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) -> the strict schema of each served version of the vendored CRDs."""
    schemas = {}
    for path in sorted(UPSTREAM_CRDS.glob("*.yaml")):
        for crd in filter(None, yaml.safe_load_all(path.read_text())):
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if version["served"]:
                    schemas[(f"{group}/{version['name']}", kind)] = strict(version["schema"]["openAPIV3Schema"])
    return schemas


def validate_custom(obj: dict) -> None:
    """jsonschema.ValidationError unless `obj` is valid for its kind's schema: its upstream CRD's
    where one is vendored, else the documented one above; KeyError for a kind with neither."""
    if obj["kind"] in SCHEMAS:
        jsonschema.validate(obj, SCHEMAS[obj["kind"]])
        return
    # OpenAPI 3.0 schemas are JSON Schema draft 4 with extensions (the x-kubernetes-* keywords, ignored)
    jsonschema.Draft4Validator(upstream_schemas()[(obj["apiVersion"], obj["kind"])]).validate(obj)
    # the CRD leaves metadata to the API server: it is ObjectMeta, as in any object, e.g. a ConfigMap
    kubernetes_validate.validate({"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj["metadata"]},
                                 KUBERNETES_VERSION, strict=True)
