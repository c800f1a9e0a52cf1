"""factory_boy factories for every model."""

import factory
from django.contrib.auth import get_user_model

from chaos_app.models import ChaosExperiment, ChaosInjection
from metrics_app.models import MetricSample, PodSample, TuningDecision, TuningPolicy
from tests_app.models import LoadTestRun, Scenario, Target


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def saved(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class TargetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Target

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"target-{n}")
    kind = "sandbox"
    pods = 4
    algorithm = "round_robin"


class UrlTargetFactory(TargetFactory):
    kind = "url"
    base_url = "http://127.0.0.1:8080"


class ScenarioFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Scenario

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"scenario-{n}")
    shape = Scenario.Shape.STEADY
    users = 10
    spawn_rate = 10.0
    duration_s = 10
    request_mix = factory.LazyFunction(lambda: [{"path": "/", "method": "GET", "weight": 1}])


class TuningPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TuningPolicy

    name = factory.Sequence(lambda n: f"policy-{n}")
    allowed_actions = factory.LazyFunction(lambda: ["set_algorithm"])
    algorithms = factory.LazyFunction(lambda: ["least_conn", "p2c"])


class LoadTestRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LoadTestRun

    owner = factory.SubFactory(UserFactory)
    target = factory.SubFactory(TargetFactory, owner=factory.SelfAttribute("..owner"))
    scenario = factory.SubFactory(ScenarioFactory, owner=factory.SelfAttribute("..owner"))
    scenario_config = factory.LazyAttribute(lambda run: run.scenario.frozen())


class MetricSampleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MetricSample

    run = factory.SubFactory(LoadTestRunFactory)
    t = factory.Sequence(float)
    users = 10
    requests = 100
    failures = 0
    rps = 100.0
    p50_ms = 1.0
    p95_ms = 3.0
    p99_ms = 5.0


class PodSampleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PodSample

    run = factory.SubFactory(LoadTestRunFactory)
    t = 0.0
    pod = factory.Sequence(lambda n: f"pod-{n}")
    requests = 25
    failures = 0
    p95_ms = 3.0


class TuningDecisionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TuningDecision

    run = factory.SubFactory(LoadTestRunFactory)
    t = 12.0
    action = TuningPolicy.Action.SET_ALGORITHM
    before = factory.LazyFunction(lambda: {"algorithm": "l4_connection"})
    after = factory.LazyFunction(lambda: {"algorithm": "least_conn"})
    reason = "score 41.0 under target 95.0 for 10 s"
    score_before = 41.0


class ChaosExperimentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChaosExperiment

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"experiment-{n}")
    steps = factory.LazyFunction(
        lambda: [{"kind": "pod_kill", "target": "", "severity": "medium", "start_s": 5, "duration_s": 0}]
    )


class ChaosInjectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChaosInjection

    run = factory.SubFactory(LoadTestRunFactory)
    step = factory.Sequence(int)
    kind = "pod_kill"
    target = "pod-1"
    started_at_s = 10.0
