import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from tests.factories import ChaosExperimentFactory, ChaosInjectionFactory, UserFactory

pytestmark = pytest.mark.django_db


def step(**changes):
    return [{"kind": "latency", "target": "", "severity": "medium", "start_s": 5, "duration_s": 10, **changes}]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"steps": []}, "steps", "at least one step"),
        ({"steps": step(kind="meteor")}, "steps", "kind must be one of"),
        ({"steps": step(severity="apocalyptic")}, "steps", "severity must be"),
        ({"steps": step(start_s=-1)}, "steps", "start_s must be"),
        ({"steps": step(duration_s="10s")}, "steps", "duration_s must be"),
        ({"steps": ["pod_kill"]}, "steps", "not an object"),
        ({"hypothesis": {"vibes": 1}}, "hypothesis", "keys among"),
        ({"hypothesis": {"max_rto_s": -3}}, "hypothesis", "0 or more"),
    ],
)
def test_experiment_field_errors(changes, field, message):
    experiment = ChaosExperimentFactory.build(owner=UserFactory(), **changes)
    with pytest.raises(ValidationError) as caught:
        experiment.full_clean()
    assert message in " ".join(caught.value.message_dict[field])


@pytest.mark.parametrize(
    ("changes", "constraint"),
    [
        ({"kind": "meteor"}, "chaosinjection_kind_valid"),
        ({"severity": "severe"}, "chaosinjection_severity_valid"),
        ({"started_at_s": 10.0, "ended_at_s": 5.0}, "chaosinjection_ends_after_start"),
        ({"availability": 1.5}, "chaosinjection_availability_range"),
        ({"rto_s": -1.0}, "chaosinjection_rto_nonnegative"),
    ],
)
def test_database_refuses_invalid_injection(changes, constraint):
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        ChaosInjectionFactory(**changes)


def test_one_injection_per_step_of_a_run():
    injection = ChaosInjectionFactory(step=0)
    with pytest.raises(IntegrityError, match="chaosinjection_unique_step|chaosinjection.run_id"), transaction.atomic():
        ChaosInjectionFactory(run=injection.run, step=0)
