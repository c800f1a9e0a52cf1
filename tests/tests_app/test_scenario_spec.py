"""The frozen scenario is a typed dataclass with its defaults in one place: the model's field
defaults are its defaults, a run reads its copy by attribute, and an older stored copy missing
fields reads the defaults."""

import dataclasses

import pytest

from tests.factories import LoadTestRunFactory, ScenarioFactory
from tests_app.models import Scenario
from tests_app.scenario_spec import DEFAULTS, ScenarioSpec

pytestmark = pytest.mark.django_db


def test_the_model_defaults_are_the_specs():
    blank = Scenario()
    for field in dataclasses.fields(ScenarioSpec):
        if field.name in ("id", "name"):
            continue
        value = getattr(blank, field.name)
        assert (tuple(value) if isinstance(value, list) else value) == getattr(DEFAULTS, field.name), field.name


def test_a_runs_copy_round_trips_and_is_read_by_attribute(alice):
    scenario = ScenarioFactory(owner=alice, users=7, request_mix=[{"path": "/a", "method": "GET", "weight": 2}])
    run = LoadTestRunFactory(owner=alice, scenario=scenario)
    spec = run.scenario_spec
    assert (spec.users, spec.id, spec.request_mix[0]["path"]) == (7, scenario.pk, "/a")
    assert ScenarioSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.users = 8


def test_an_older_copy_missing_fields_reads_the_defaults():
    spec = ScenarioSpec.from_dict({"shape": "ramp", "users": 3, "duration_s": 9, "a_field_of_the_future": 1})
    assert (spec.shape, spec.users, spec.keep_alive, spec.threshold_balance) == ("ramp", 3, True, 95.0)
