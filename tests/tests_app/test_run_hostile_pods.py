"""A target is hostile input: whatever pod names it answers (thousands of different ones, very long
ones, control characters, names LB Lab gives rows itself), the run finishes with every request
recorded, under cleaned names, at most MAX_DISTINCT_PODS of them plus one row for the rest.
Real Locust against a loopback server that names the next pod of its list in each answer."""

import pytest
from django.db.models import Sum
from django.urls import reverse

from clusters.balance import MAX_DISTINCT_PODS, OTHER_PODS, POD_NAME_MAX, UNATTRIBUTED
from metrics_app.models import MetricSample, PodSample
from tests_app import services
from tests_app.engine.testing import PodEchoServer
from tests_app.models import LoadTestRun, Target

HOSTILE = ["p" * 300, "unattributed", "\x1b[2Jctl\u202ename\x00", "(total)",
           *(f"pod-{index:04d}" for index in range(2000))]


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(240)
@pytest.mark.parametrize("attribution", ["header", "json_field"])
def test_hostile_pod_names_give_a_finished_run_with_cleaned_capped_pods(attribution, alice):
    pods = HOSTILE if attribution == "json_field" else [name for name in HOSTILE if "\x1b" not in name]
    with PodEchoServer(pods, header="X-Pod" if attribution == "header" else None) as target:
        run = services.submit_run(owner=alice, request=services.RunRequest(target={
            "kind": "url", "base_url": target.url, "attribution": attribution, "pod_json_field": "hostname"},
            scenario={"shape": "steady", "users": 4, "spawn_rate": 4, "duration_s": 3}), queue=False)
        run = services.execute_run(run.pk)
    assert run.status in (LoadTestRun.Status.PASSED, LoadTestRun.Status.FAILED), run.error
    served = sum(target.served.values())
    assert run.summary["requests"] == served > 2000  # past the cap: some names were folded
    names = set(run.summary["pods"])
    assert len(names) == MAX_DISTINCT_PODS + 1 and OTHER_PODS in names
    assert {"p" * POD_NAME_MAX, "unattributed (pod)", "(total) (pod)"} <= names
    if attribution == "json_field":
        assert "[2Jctlname" in names
    assert all(len(name) <= POD_NAME_MAX and name.isprintable() for name in names)
    assert run.summary["unattributed"] == 0
    assert any("counted together as “(other pods)”" in note for note in run.summary["notes"])
    recorded = PodSample.objects.filter(run=run)
    assert set(recorded.values_list("pod", flat=True)) == names  # no row named "unattributed": none were
    assert recorded.aggregate(total=Sum("requests"))["total"] == served
    assert MetricSample.objects.filter(run=run).aggregate(total=Sum("requests"))["total"] == served


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field"),
    [({"attribution": "header", "pod_header": "X-Pod\r\nSet-Cookie: a=b"}, "pod_header"),
     ({"attribution": "header", "pod_header": "X Pod"}, "pod_header"),
     ({"expected_pods": ["q" * 300]}, "expected_pods"),
     ({"expected_pods": [UNATTRIBUTED]}, "expected_pods"),
     ({"expected_pods": [f"pod-{index}" for index in range(MAX_DISTINCT_PODS + 1)]}, "expected_pods")],
)
def test_attribution_header_and_expected_pod_names_are_validated(fields, field, alice, api_for):
    response = api_for(alice).post(reverse("api:target-list"), {
        "name": "t", "kind": "url", "base_url": "http://127.0.0.1:8080", **fields}, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]
    assert not Target.objects.exists()
