"""JSON schemas of the custom resources LB Lab writes for Kubernetes balancers, written here from
the projects' documented API references (the CRDs themselves are not shipped with
kubernetes-validate): only the fields LB Lab sets, strictly, so a misspelt or misplaced field
fails. Envoy Gateway: gateway.envoyproxy.io/v1alpha1 BackendTrafficPolicy (`targetRefs`,
`loadBalancer.type` RoundRobin | LeastRequest | Random | ConsistentHash, `consistentHash.type`
SourceIP | Header | Cookie, `header.name`). Istio: networking.istio.io/v1 DestinationRule (`host`,
`trafficPolicy.loadBalancer.simple` or `consistentHash` with one of `httpHeaderName`,
`useSourceIp`)."""

from __future__ import annotations

import jsonschema

METADATA = {"type": "object", "required": ["name", "namespace"], "additionalProperties": False,
            "properties": {"name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253},
                           "namespace": {"type": "string"},
                           "resourceVersion": {"type": "string"},  # sent back on a replace
                           "labels": {"type": "object", "additionalProperties": {"type": "string"}}}}

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
                               "properties": {"name": {"type": "string"}}}}}}}}}},
}

DESTINATION_RULE = {
    "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"], "additionalProperties": False,
    "properties": {
        "apiVersion": {"enum": ["networking.istio.io/v1", "networking.istio.io/v1beta1"]},
        "kind": {"const": "DestinationRule"}, "metadata": METADATA,
        "spec": {"type": "object", "required": ["host"], "additionalProperties": False, "properties": {
            "host": {"type": "string"},
            "trafficPolicy": {"type": "object", "additionalProperties": False, "properties": {
                "loadBalancer": {"type": "object", "additionalProperties": False, "minProperties": 1, "maxProperties": 1,
                                 "properties": {
                                     "simple": {"enum": ["UNSPECIFIED", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN",
                                                         "LEAST_REQUEST", "LEAST_CONN"]},
                                     "consistentHash": {"type": "object", "additionalProperties": False,
                                                        "minProperties": 1, "maxProperties": 1, "properties": {
                                                            "httpHeaderName": {"type": "string"},
                                                            "useSourceIp": {"type": "boolean"}}}}}}}}}},
}

SCHEMAS = {"BackendTrafficPolicy": BACKEND_TRAFFIC_POLICY, "DestinationRule": DESTINATION_RULE}


def validate_custom(obj: dict) -> None:
    """jsonschema.ValidationError unless `obj` is valid for its kind's documented schema."""
    jsonschema.validate(obj, SCHEMAS[obj["kind"]])
