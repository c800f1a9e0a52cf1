"""`/api/chaos/experiments/`: list (own and the shared presets), create, read, change and delete
one's own; presets are read-only; others' are 404; bad steps or hypothesis are a 400 on that field
and nothing is saved."""

import pytest
from django.urls import reverse

from chaos_app.models import ChaosExperiment
from tests.factories import ChaosExperimentFactory

pytestmark = pytest.mark.django_db

LIST = reverse("api:chaos-experiment-list")
STEP = {"kind": "latency", "target": "", "severity": "high", "start_s": 5, "duration_s": 20}


def detail(experiment):
    return reverse("api:chaos-experiment-detail", args=[experiment.pk])


def listed(api, **query):
    response = api.get(LIST, {"page_size": 200, **query})
    assert response.status_code == 200
    return response.json()["results"]


def test_list_has_own_and_presets_not_others(alice, bob, api_for):
    mine, theirs = ChaosExperimentFactory(owner=alice, name="mine"), ChaosExperimentFactory(owner=bob, name="theirs")
    results = listed(api_for(alice))
    names = {item["name"]: item for item in results}
    assert "mine" in names and "theirs" not in names
    assert {"Pod kill", "Latency high", "Network partition"} <= set(names)
    assert names["Pod kill"]["is_preset"] is True and names["mine"]["is_preset"] is False
    assert mine.pk in {item["id"] for item in results} and theirs.pk not in {item["id"] for item in results}


def test_create_read_update_delete_own(alice, api_for):
    api = api_for(alice)
    created = api.post(LIST, {"name": "slow pod", "steps": [STEP], "hypothesis": {"max_rto_s": 10}}, format="json")
    assert created.status_code == 201, created.content
    experiment = ChaosExperiment.objects.get(pk=created.json()["id"])
    assert experiment.owner == alice and experiment.steps == [STEP]
    assert api.get(detail(experiment)).json()["hypothesis"] == {"max_rto_s": 10}
    changed = api.patch(detail(experiment), {"steps": [{**STEP, "severity": "low"}]}, format="json")
    assert changed.status_code == 200, changed.content
    experiment.refresh_from_db()
    assert experiment.steps[0]["severity"] == "low" and experiment.name == "slow pod"
    assert api.delete(detail(experiment)).status_code == 204
    assert not ChaosExperiment.objects.filter(pk=experiment.pk).exists()


def test_presets_are_readable_not_changeable(alice, api_for):
    preset = ChaosExperiment.objects.get(owner=None, name="Pod kill")
    api = api_for(alice)
    assert api.get(detail(preset)).status_code == 200
    assert api.patch(detail(preset), {"name": "mine now"}, format="json").status_code == 404
    assert api.put(detail(preset), {"name": "x", "steps": [STEP]}, format="json").status_code == 404
    assert api.delete(detail(preset)).status_code == 404
    preset.refresh_from_db()
    assert preset.name == "Pod kill"


def test_others_experiment_is_404(alice, bob, api_for):
    theirs = ChaosExperimentFactory(owner=bob)
    api = api_for(alice)
    assert api.get(detail(theirs)).status_code == 404
    assert api.patch(detail(theirs), {"name": "stolen"}, format="json").status_code == 404
    assert api.delete(detail(theirs)).status_code == 404
    theirs.refresh_from_db()
    assert theirs.name != "stolen"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x", "steps": []}, "steps"),
        ({"name": "x", "steps": "pod_kill@3s"}, "steps"),
        ({"name": "x", "steps": ["pod_kill"]}, "steps"),
        ({"name": "x", "steps": [{**STEP, "kind": "meteor"}]}, "steps"),
        ({"name": "x", "steps": [{**STEP, "severity": "extreme"}]}, "steps"),
        ({"name": "x", "steps": [{**STEP, "start_s": -1}]}, "steps"),
        ({"name": "x", "steps": [{**STEP, "duration_s": "long"}]}, "steps"),
        ({"name": "x", "steps": [{**STEP, "duration_s": True}]}, "steps"),
        ({"name": "x", "steps": [{**STEP, "target": 3}]}, "steps"),
        ({"name": "x"}, "steps"),
        ({"name": "x", "steps": [STEP], "hypothesis": {"max_fun": 1}}, "hypothesis"),
        ({"name": "x", "steps": [STEP], "hypothesis": {"max_rto_s": -5}}, "hypothesis"),
        ({"name": "x", "steps": [STEP], "hypothesis": [1]}, "hypothesis"),
        ({"steps": [STEP]}, "name"),
        ({"name": "", "steps": [STEP]}, "name"),
        ({"name": "x" * 101, "steps": [STEP]}, "name"),
    ],
)
def test_bad_input_is_400_on_the_field_and_nothing_saved(payload, field, alice, api_for):
    response = api_for(alice).post(LIST, payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not ChaosExperiment.objects.filter(owner=alice).exists()


def test_bad_update_keeps_the_row(alice, api_for):
    experiment = ChaosExperimentFactory(owner=alice)
    response = api_for(alice).patch(detail(experiment), {"steps": [{**STEP, "kind": "meteor"}]}, format="json")
    assert response.status_code == 400 and "steps" in response.json()
    experiment.refresh_from_db()
    assert experiment.steps[0]["kind"] == "pod_kill"


def test_duplicate_name_is_400_but_a_preset_name_is_free(alice, api_for):
    ChaosExperimentFactory(owner=alice, name="mine")
    api = api_for(alice)
    assert api.post(LIST, {"name": "mine", "steps": [STEP]}, format="json").status_code == 400
    assert api.post(LIST, {"name": "Pod kill", "steps": [STEP]}, format="json").status_code == 201
    assert ChaosExperiment.objects.filter(owner=alice).count() == 2


def test_ordering_by_name(alice, api_for):
    ChaosExperimentFactory(owner=alice, name="aaa first")
    ChaosExperimentFactory(owner=alice, name="zzz last")
    names = [item["name"] for item in listed(api_for(alice), ordering="-name")]
    assert names.index("zzz last") < names.index("aaa first")
