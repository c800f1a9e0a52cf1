"""A TuningPolicy row as the controller reads it (`spec`), checked against the target's balancer: what
the row's own checks cannot know (nginx has no ewma) is refused with the model's field name."""

import pytest
from django.core.exceptions import ValidationError

from clusters.base import ClusterError
from metrics_app.models import TuningPolicy
from tests.factories import TuningPolicyFactory


def test_spec_carries_every_setting():
    row = TuningPolicyFactory.build(target_score=90, view="utilisation", p95_margin_pct=5, window_s=4, cooldown_s=6,
                                    allowed_actions=["set_weights", "scale"], algorithms=[], min_replicas=2,
                                    max_replicas=6, max_weight=4, dry_run=True)
    spec = row.spec(balancer="haproxy")
    assert (spec.target_score, spec.view, spec.p95_margin_pct, spec.window_s, spec.cooldown_s) == (90, "utilisation", 5, 4, 6)
    assert (spec.actions, spec.min_replicas, spec.max_replicas, spec.max_weight, spec.dry_run) == (
        ("set_weights", "scale"), 2, 6, 4, True)


def test_an_algorithm_the_balancer_lacks_is_refused_with_the_models_field():
    row = TuningPolicyFactory.build(allowed_actions=["set_algorithm"], algorithms=["least_conn", "ewma"])
    row.spec(balancer="lblab")  # LB Lab's balancer has every algorithm
    with pytest.raises(ClusterError) as caught:
        row.spec(balancer="nginx")
    assert TuningPolicy.field_of(caught.value.field) == "algorithms"
    assert "ewma" in str(caught.value)


@pytest.mark.django_db
def test_a_pure_check_reaches_full_clean_under_the_models_field():
    # only the controller's own check knows a name listed twice
    row = TuningPolicyFactory.build(allowed_actions=["set_algorithm", "set_algorithm"], algorithms=["least_conn"])
    with pytest.raises(ValidationError) as caught:
        row.full_clean()
    assert "twice" in caught.value.message_dict["allowed_actions"][0]
