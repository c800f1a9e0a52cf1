import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from clusters.tuning import actions
from metrics_app.models import TuningPolicy
from tests.factories import (
    LoadTestRunFactory,
    MetricSampleFactory,
    PodSampleFactory,
    TuningDecisionFactory,
    TuningPolicyFactory,
)

pytestmark = pytest.mark.django_db


def test_one_metric_sample_per_second_of_a_run():
    sample = MetricSampleFactory(t=3.0)
    with pytest.raises(IntegrityError, match="metricsample_unique_second|metricsample.run_id"), transaction.atomic():
        MetricSampleFactory(run=sample.run, t=3.0)


@pytest.mark.parametrize(
    ("changes", "constraint"),
    [
        ({"t": -1.0}, "metricsample_t_nonnegative"),
        ({"requests": 5, "failures": 6}, "metricsample_failures_le_requests"),
        ({"rps": -1.0}, "metricsample_rates_nonnegative"),
    ],
)
def test_database_refuses_invalid_metric_sample(changes, constraint):
    run = LoadTestRunFactory()
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        MetricSampleFactory(run=run, **changes)


@pytest.mark.parametrize(
    ("changes", "constraint"),
    [
        ({"requests": 1, "failures": 2}, "podsample_failures_le_requests"),
        ({"cpu": -0.5}, "podsample_cpu_nonnegative"),
        ({"memory_bytes": -1}, "podsample_memory_nonnegative"),
    ],
)
def test_database_refuses_invalid_pod_sample(changes, constraint):
    run = LoadTestRunFactory()
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        PodSampleFactory(run=run, **changes)


def test_one_pod_sample_per_pod_and_second():
    sample = PodSampleFactory(pod="pod-0", t=1.0)
    with pytest.raises(IntegrityError, match="podsample_unique_pod_second|podsample.run_id"), transaction.atomic():
        PodSampleFactory(run=sample.run, pod="pod-0", t=1.0)
    PodSampleFactory(run=sample.run, pod="pod-1", t=1.0)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"allowed_actions": []}, "allowed_actions"),
        ({"allowed_actions": ["reboot"]}, "allowed_actions"),
        ({"algorithms": ["fastest"]}, "algorithms"),
        ({"allowed_actions": ["set_algorithm"], "algorithms": []}, "algorithms"),
        ({"min_replicas": 5, "max_replicas": 2}, "max_replicas"),
        ({"target_score": 120}, "target_score"),
        ({"window_s": 0}, "window_s"),
        ({"max_weight": 0.5}, "max_weight"),
    ],
)
def test_tuning_policy_field_errors(changes, field):
    policy = TuningPolicyFactory.build(**changes)
    with pytest.raises(ValidationError) as caught:
        policy.full_clean()
    assert field in caught.value.message_dict


def test_database_refuses_unordered_replica_bounds():
    with pytest.raises(IntegrityError, match="tuningpolicy_replicas_ordered"), transaction.atomic():
        TuningPolicyFactory(min_replicas=5, max_replicas=2)


def test_tuning_decision_action_is_constrained():
    with pytest.raises(IntegrityError, match="tuningdecision_action_valid"), transaction.atomic():
        TuningDecisionFactory(action="reboot")
    assert TuningPolicy.Action.choices == actions.choices()  # the model's names are the registry's
