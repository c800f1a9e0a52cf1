"""A fault the user causes (`external@START:DURATION`): on a URL target, where LB Lab cannot inject,
the step marks when the user's own fault starts, and its recovery is measured from the load's own
requests as for any injection."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError

from chaos_app.models import ChaosInjection
from chaos_app.schedule import Layout, plan_problem
from clusters.base import ClusterError
from clusters.durations import SpecError
from clusters.faults import FAULT_KINDS, parse_step
from clusters.sandbox import SandboxCluster, SandboxConfig
from tests.clusters.support import assert_no_faults
from tests.factories import ScenarioFactory, UrlTargetFactory
from tests_app import services
from tests_app.cli_display import cli_console, print_results
from tests_app.models import LoadTestRun

AGREE_S = 0.25  # as the sandbox chaos tests: the run's figures against the cluster's own timestamps


def test_an_external_step_names_no_target_and_injects_nothing():
    step = parse_step("external@5s:10s")
    assert (step.kind, step.start_s, step.duration_s, step.target) == ("external", 5.0, 10.0, "")
    assert FAULT_KINDS["external"].injects is False
    assert all(kind.injects for name, kind in FAULT_KINDS.items() if name != "external")
    with pytest.raises(SpecError, match="you cause an external fault yourself.*leave the target empty"):
        parse_step("external@5s:10s:medium:pod-1")
    # nothing to resolve, nothing to apply: no cluster needed
    fault = FAULT_KINDS["external"].inject(None, step, rng=None)
    assert (fault.kind, fault.pods, fault.duration_s) == ("external", (), 10.0)


def test_it_is_checked_like_any_step_before_the_run():
    unknown = Layout(slots=None, nodes=None)  # a URL target: nothing known of its pods
    assert plan_problem(["external@5s:10s"], duration_s=30, layout=unknown) is None
    assert "at or after the end of the 30 s load" in plan_problem(["external@30s:10s"], duration_s=30, layout=unknown)


@pytest.mark.django_db
def test_a_url_target_takes_external_steps_and_refuses_the_ones_lb_lab_would_inject(alice):
    target = UrlTargetFactory(owner=alice)
    scenario = ScenarioFactory(owner=alice, duration_s=20)

    def submit(*chaos):
        return services.submit_run(owner=alice, request=services.RunRequest(
            target=target, scenario=scenario, chaos=list(chaos)), queue=False)

    run = submit("external@5s:10s")
    assert run.chaos == ["external@5s:10s"]
    for chaos in (["pod_kill@5s:0s"], ["external@5s:10s", "latency@2s:3s"]):
        with pytest.raises(ValidationError) as refused:
            submit(*chaos)
        message = refused.value.message_dict["chaos"][0]
        assert "cannot inject faults into a URL target" in message and "external@START:DURATION" in message
    assert LoadTestRun.objects.count() == 1  # nothing half-created


@pytest.fixture
def service():
    """Three real pods that LB Lab only knows by their URL; the test stands for the user who breaks them."""
    with SandboxCluster(SandboxConfig(pods=3)) as cluster:
        yield cluster


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(240)
def test_the_recovery_of_a_fault_the_user_causes_is_measured_from_the_load(alice, service):
    target = UrlTargetFactory(owner=alice, base_url=service.endpoint, expected_pod_count=3)
    scenario = ScenarioFactory(owner=alice, users=8, spawn_rate=8, duration_s=10)
    run = services.submit_run(owner=alice, request=services.RunRequest(
        target=target, scenario=scenario, chaos=["external@3s:2s"]), queue=False)
    caused: list[float] = []

    def the_user_breaks_every_pod_at_3s(events):
        # What the user does at the time they declared (krkn, kubectl...): every pod answers 503
        # for 2 s, a fault the service clears itself.
        def tick(ctx):
            if not caused and ctx.load_s() is not None and ctx.load_s() >= 3.0:
                before = ctx.load_s()
                service.add_errors([pod.name for pod in service.pods()], rate=1.0, status=503, duration=2.0)
                caused.append((before, ctx.load_s()))  # the fault began within this span (a busy machine widens it)
        events.tick.add_listener(tick)

    run = services.execute_run(run.pk, listeners=[the_user_breaks_every_pod_at_3s])
    assert run.status in (LoadTestRun.Status.PASSED, LoadTestRun.Status.FAILED), run.error
    assert caused, "the load's clock never reached 3 s"
    [injection] = run.summary["chaos"]
    assert (injection["kind"], injection["target"]) == ("external", "")
    assert injection["started_at_s"] == pytest.approx(3.0, abs=AGREE_S)
    # the failures began with the user's fault, and users saw them until it cleared 2 s later
    (before, after) = caused[0]
    assert before - AGREE_S <= injection["first_failure_s"] <= after + AGREE_S
    assert before + 2.0 - AGREE_S <= injection["last_failure_s"] <= after + 2.0 + AGREE_S
    assert before + 2.0 - AGREE_S <= injection["recovered_at_s"] <= after + 2.0 + AGREE_S
    assert injection["requests_failed"] > 0 and injection["availability"] < 0.5
    assert injection["passed"] is True and "within 60 s" in injection["reason"]
    # LB Lab sees no cluster behind a URL: healing is not measured, not guessed
    assert injection["healing_s"] is None
    row = ChaosInjection.objects.get(run=run)
    assert (row.kind, row.rto_s, row.requests_failed) == ("external", injection["rto_s"], injection["requests_failed"])
    assert_no_faults(service)  # the user's fault cleared itself; LB Lab applied nothing
    out = io.StringIO()
    print_results(run, console=cli_console(out))
    [line] = [line for line in out.getvalue().splitlines() if "external@3s:2s" in line]
    cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
    assert cells[-1] == "yours", line  # the "rolled back" column: nothing of LB Lab's to roll back
    with pytest.raises(ClusterError):  # and the kind still refuses a target, whatever the cluster
        FAULT_KINDS["external"].parse_target("pod-0")
