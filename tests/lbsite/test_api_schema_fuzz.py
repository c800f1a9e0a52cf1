"""The OpenAPI schema fuzzed with schemathesis: whatever a token-holding client, or anyone without
credentials, sends to any operation of `/api/schema/`, the answer is never a server error; and every
operation that takes a body refuses one too large (413) or nested too deep (400), before or after login.

The project's WSGI app runs in-process on the test's database transaction, so runs that fuzzing
starts through `POST /api/runs/` are created but never run: their task is queued only when the
transaction commits, which it never does (and no qcluster is started here). Path ids are sometimes
those of real objects (own, someone else's, presets), so the code behind a 200 is fuzzed too, not
only the 404s.

Examples per operation are bounded (valid and invalid ones alike) to keep the whole test to a
couple of minutes; schemathesis's coverage phase is off because it is unbounded by design (over
500 cases for `POST /api/targets/` alone: every field's boundaries in three body encodings).
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

from chaos_app.models import ChaosExperiment
from clusters.algorithms import NAMES as ALGORITHMS
from clusters.faults import FAULT_KINDS
from lbsite.models import ApiToken
from metrics_app.models import MetricSample, PodSample, TuningPolicy
from tests.factories import ChaosExperimentFactory, LoadTestRunFactory, ScenarioFactory, TargetFactory
from tests_app.models import LoadTestRun, Scenario, Target
from tests_app.services import validate_target_allowed

pytestmark = pytest.mark.django_db

EXAMPLES_PER_OPERATION = 40
UNAUTHENTICATED_EXAMPLES = 10  # refused at the door: fewer examples reach as much code


class InProcessApp:
    """Django's WSGI app, kept from closing the test's connection after each request (its open
    transaction holds the test's data), as Django's own test client does."""

    def __init__(self):
        self.handler = get_wsgi_application()

    def __call__(self, environ, start_response):
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            return list(self.handler(environ, start_response))
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)


# Loaded when the module is collected (the schema's generation reads no database), so each operation
# is a test of its own. The ids the hooks below use are the current test's (see `fuzz_world`).
schema = schemathesis.openapi.from_wsgi(
    "/api/schema/?format=json", InProcessApp(),
    config=SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}}),
)
KNOWN_IDS: dict[str, list[int]] = {}  # by the path's collection: every object's id (others', presets')
OWN_IDS: dict[str, list[int]] = {}  # the fuzzing user's own


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    kind = next((kind for kind in KNOWN_IDS if f"/{kind}/" in context.operation.path), None)
    if not isinstance(path_parameters, dict) or "id" not in path_parameters or kind is None:
        return st.just(path_parameters)
    with_id = lambda ids: st.sampled_from(ids).map(lambda pk: {**path_parameters, "id": pk})  # noqa: E731
    return st.one_of(st.just(path_parameters), with_id(KNOWN_IDS[kind]), with_id(OWN_IDS[kind]))


@schema.hook
def flatmap_query(context, query):
    if not context.operation.path.endswith("/compare/") or not OWN_IDS.get("runs") or not isinstance(query, dict | None):
        return st.just(query)
    own = st.lists(st.sampled_from(OWN_IDS["runs"]), min_size=2, max_size=len(OWN_IDS["runs"]), unique=True)
    anyone = st.lists(st.sampled_from(KNOWN_IDS["runs"]), min_size=1, max_size=7)
    return st.one_of(st.just(query), st.one_of(own, anyone).map(lambda pks: {**(query or {}), "ids": ",".join(map(str, pks))}))


def numbers(low, high):
    return st.one_of(st.integers(low, high), st.floats(low, high), st.sampled_from([None, "", "10", True]))


def run_bodies():
    """`POST /api/runs/` bodies: valid ones (ids, inline objects), and near misses."""
    valid_target = st.fixed_dictionaries({"kind": st.just("sandbox"), "pods": st.integers(1, 64),
                                          "algorithm": st.sampled_from(ALGORITHMS)})
    messy_target = st.fixed_dictionaries(
        {"kind": st.sampled_from(["sandbox", "url", "kubernetes", "mainframe"])},
        optional={"pods": numbers(-1, 70), "algorithm": st.sampled_from([*ALGORITHMS, "fastest"]),
                  "base_url": st.sampled_from(["http://127.0.0.1:8080", "http://203.0.113.9", "ftp://x", ""]),
                  "weights": st.dictionaries(st.text(max_size=8), numbers(-1, 5), max_size=3),
                  "name": st.text(max_size=120)},
    )
    valid_scenario = st.fixed_dictionaries({"shape": st.sampled_from(["steady", "ramp", "sustained"]),
                                            "users": st.integers(1, 100), "duration_s": st.integers(1, 600)})
    messy_scenario = st.fixed_dictionaries(
        {"shape": st.sampled_from(["steady", "spike", "ramp", "sustained", "stages", "zigzag"])},
        optional={"users": numbers(-1, 200), "spawn_rate": numbers(-1, 50), "duration_s": numbers(-1, 90000),
                  "stages": st.lists(st.dictionaries(st.sampled_from(["duration_s", "users", "spawn_rate"]),
                                                     numbers(-1, 50)), max_size=3),
                  "request_mix": st.lists(st.fixed_dictionaries({"path": st.sampled_from(["/", "x", "/a?b"])},
                                                                optional={"weight": numbers(-1, 3)}), max_size=2)},
    )
    valid = st.fixed_dictionaries({
        "target": st.one_of(st.sampled_from(OWN_IDS["targets"]), valid_target),
        "scenario": st.one_of(st.sampled_from(KNOWN_IDS["scenarios"]), valid_scenario),
    }, optional={"workers": st.integers(1, 16)})
    messy = st.fixed_dictionaries(
        {"target": st.one_of(st.sampled_from(KNOWN_IDS["targets"]), messy_target),
         "scenario": st.one_of(st.sampled_from(KNOWN_IDS["scenarios"]), messy_scenario)},
        optional={"workers": numbers(-1, 20), "chaos": st.lists(st.text(max_size=20), max_size=2),
                  "autotune": st.one_of(st.none(), st.integers(0, 3))},
    )
    return st.one_of(valid, messy)


def experiment_bodies():
    """Chaos experiment bodies: valid ones and near misses."""
    valid_step = st.fixed_dictionaries({"kind": st.sampled_from(list(FAULT_KINDS)), "start_s": st.integers(0, 100),
                                        "duration_s": st.integers(0, 100),
                                        "severity": st.sampled_from(["low", "medium", "high"])})
    messy_step = st.fixed_dictionaries(
        {"kind": st.sampled_from([*FAULT_KINDS, "meteor"])},
        optional={"severity": st.sampled_from(["low", "medium", "high", "extreme"]), "start_s": numbers(-5, 100),
                  "duration_s": numbers(-5, 100), "target": st.one_of(st.text(max_size=10), st.integers())},
    )
    name = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=110)
    valid = st.fixed_dictionaries({"name": name, "steps": st.lists(valid_step, min_size=1, max_size=3)},
                                  optional={"hypothesis": st.fixed_dictionaries({"max_rto_s": st.integers(0, 60)})})
    messy = st.fixed_dictionaries({"name": st.text(max_size=110), "steps": st.lists(messy_step, max_size=3)},
                                  optional={"hypothesis": st.dictionaries(st.sampled_from(["max_rto_s", "max_fun"]),
                                                                          numbers(-1, 10), max_size=2)})
    return st.one_of(valid, messy)


def _with_body(case, body):
    case.body = body
    return case


@schema.hook
def flatmap_case(context, case):
    """Valid-looking JSON bodies for the JSONField payloads (inline targets and scenarios, chaos
    steps), which random JSON almost never gets past the first check: the positive JSON cases of
    these operations get them; the negative ones and the form encodings stay as schemathesis made them."""
    path, method = context.operation.path, case.method.upper()
    mode = getattr(case.meta.generation.mode, "value", None) if case.meta else None
    if case.media_type != "application/json" or mode != "positive" or not KNOWN_IDS:
        return st.just(case)
    if method == "POST" and path == "/api/runs/":
        return run_bodies().map(lambda body: _with_body(case, body))
    if method in ("POST", "PUT", "PATCH") and path.startswith("/api/chaos/experiments/"):
        return experiment_bodies().map(lambda body: _with_body(case, body))
    return st.just(case)


@pytest.fixture
def fuzz_world(alice, bob):
    """Alice's objects (with a finished run that has seconds and pods), and one of Bob's of each."""
    target = TargetFactory(owner=alice, name="shop", pods=2)
    run = LoadTestRunFactory(owner=alice, target=target, status="passed", summary={"rps": 10.0, "balance": {"score": 90.0}})
    for t in range(15):
        MetricSample.objects.create(run=run, t=float(t), requests=20, rps=20.0, p95_ms=3.0)
        PodSample.objects.bulk_create([PodSample(run=run, t=float(t), pod="pod-0", requests=12),
                                       PodSample(run=run, t=float(t), pod="pod-1", requests=8)])
    LoadTestRunFactory(owner=alice, target=target)
    LoadTestRunFactory(owner=bob)
    ChaosExperimentFactory(owner=alice)
    ChaosExperimentFactory(owner=bob)
    ScenarioFactory(owner=bob)
    models = {"runs": LoadTestRun, "targets": Target, "scenarios": Scenario, "experiments": ChaosExperiment}
    KNOWN_IDS.update({kind: list(model.objects.values_list("pk", flat=True)) for kind, model in models.items()})
    KNOWN_IDS["tuning-policies"] = list(TuningPolicy.objects.values_list("pk", flat=True))
    OWN_IDS.update({kind: list(model.objects.filter(owner=alice).values_list("pk", flat=True))
                    for kind, model in models.items()})
    OWN_IDS["tuning-policies"] = KNOWN_IDS["tuning-policies"]  # shared
    yield {"token": ApiToken.issue(owner=alice)[1], "alice": alice}
    KNOWN_IDS.clear()
    OWN_IDS.clear()


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_a_server_error(case, fuzz_world):
    response = case.call_and_validate(headers={"Authorization": f"Token {fuzz_world['token']}"},
                                      checks=[not_a_server_error])
    if case.method.upper() == "POST" and case.operation.path == "/api/runs/" and response.status_code == 201:
        # A run fuzzing started is queued, never picked up; an inline target it made is a valid one.
        run = LoadTestRun.objects.select_related("target").get(pk=response.json()["id"])
        assert run.status == "queued" and run.attempt == 0
        run.target.full_clean()
        validate_target_allowed(run.target)


@schema.parametrize()
@settings(max_examples=UNAUTHENTICATED_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_a_server_error_without_credentials(case, fuzz_world):
    """As anyone on the network could call them: no token, no session."""
    response = case.call_and_validate(checks=[not_a_server_error])
    if case.operation.path != "/api/auth/token/":
        assert response.status_code in (401, 404, 405, 429), (case.method, case.formatted_path, response.status_code)


OPERATIONS = [result.ok() for result in schema.get_all_operations()]
WITH_BODY = [operation for operation in OPERATIONS if operation.method.upper() in ("POST", "PUT", "PATCH")]
DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("operation", WITH_BODY, ids=lambda operation: f"{operation.method.upper()} {operation.path}")
@pytest.mark.parametrize("authenticated", [True, False], ids=["token", "anonymous"])
def test_oversized_and_deeply_nested_bodies_are_refused_by_every_operation(operation, authenticated, fuzz_world,
                                                                           client, settings):
    kind = next((kind for kind in OWN_IDS if f"/{kind}/" in operation.path), None)
    path = operation.path.replace("{id}", str(OWN_IDS[kind][0] if kind else 1))
    headers = {"HTTP_AUTHORIZATION": f"Token {fuzz_world['token']}"} if authenticated else {}
    oversized = '{"name": "' + "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE + '"}'
    answers = [client.generic(operation.method.upper(), path, body, content_type="application/json", **headers)
               for body in (oversized, DEEP)]
    assert answers[0].status_code == 413 and answers[0].json()["detail"].startswith("The request body is larger")
    if list(operation.body):  # it reads a body: a deep one is a 400 (a 401 first without credentials)
        assert 400 <= answers[1].status_code < 500 and answers[1].status_code != 413
    else:  # it reads none (POST /api/runs/<id>/stop/): whatever comes is ignored
        assert answers[1].status_code < 500
