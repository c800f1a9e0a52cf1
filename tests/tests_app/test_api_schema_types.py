"""The OpenAPI schema types what a client sends and gets back, so a generated client knows the
fields: the inline target and scenario of `POST /api/runs/`, the samples response and the
compare response (before, all three were untyped objects)."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client, alice) -> dict:
    client.force_login(alice)
    response = client.get(reverse("api:schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def component(schema: dict, ref: str) -> dict:
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]


def response_of(schema: dict, path: str, method: str = "get") -> dict:
    return component(schema, schema["paths"][path][method]["responses"]["200"]["content"]["application/json"]
                     ["schema"]["$ref"])


def test_the_inline_target_and_scenario_are_typed(schema):
    body = schema["paths"]["/api/runs/"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    properties = component(schema, body)["properties"]
    for field, expected in (("target", {"kind", "pods", "algorithm", "base_url", "pod_header"}),
                            ("scenario", {"shape", "users", "duration_s", "request_mix", "threshold_balance"})):
        choices = properties[field]["oneOf"]
        assert {"type": "integer", "description": "The id of a saved one."} in choices
        inline = next(choice for choice in choices if "$ref" in choice)
        assert expected <= set(component(schema, inline["$ref"])["properties"])


def test_the_samples_response_is_typed(schema):
    samples = response_of(schema, "/api/runs/{id}/samples/")["properties"]["samples"]
    second = component(schema, samples["items"]["$ref"])
    assert {"t", "rps", "p95_ms", "pods"} <= set(second["properties"])
    pod = component(schema, second["properties"]["pods"]["additionalProperties"]["$ref"])
    assert {"requests", "failures", "cpu", "ready"} <= set(pod["properties"])


def test_the_compare_response_is_typed(schema):
    compare = response_of(schema, "/api/runs/compare/")["properties"]
    run = component(schema, compare["runs"]["items"]["$ref"])
    assert {"id", "label", "summary"} <= set(run["properties"])
    figure = component(schema, compare["figures"]["items"]["$ref"])
    verdicts = figure["properties"]["verdicts"]["items"]
    assert "not comparable" in str(schema["components"]["schemas"]) and verdicts
    series = component(schema, compare["series"]["additionalProperties"]["$ref"])
    assert {"t", "score", "pod_spread"} <= set(series["properties"])
