"""The run lifecycle: queued after commit, claimed once, stopped, reaped when its worker dies."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from tests.factories import LoadTestRunFactory, ScenarioFactory, TargetFactory, UrlTargetFactory
from tests_app import services
from tests_app.models import LoadTestRun

pytestmark = pytest.mark.django_db


def test_start_run_freezes_scenario_and_queues_after_commit(alice, django_capture_on_commit_callbacks):
    target, scenario = TargetFactory(owner=alice), ScenarioFactory(owner=alice, users=7)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = services.submit_run(owner=alice, request=services.RunRequest(target=target, scenario=scenario))
    assert run.status == LoadTestRun.Status.QUEUED
    assert run.scenario_config["users"] == 7
    assert len(callbacks) == 1  # the task is queued only once the run is committed


def test_start_run_refuses_others_targets_and_disallowed_hosts(alice, bob):
    scenario = ScenarioFactory(owner=alice)
    with pytest.raises(ValidationError) as caught:
        services.submit_run(owner=alice, request=services.RunRequest(target=TargetFactory(owner=bob), scenario=scenario))
    assert "target" in caught.value.message_dict
    remote = UrlTargetFactory(owner=alice, base_url="http://198.51.100.7:80")
    with pytest.raises(ValidationError) as caught:
        services.submit_run(owner=alice, request=services.RunRequest(target=remote, scenario=scenario))
    assert "base_url" in caught.value.message_dict
    assert not LoadTestRun.objects.exists()


def test_claim_is_once_and_a_redelivery_ends_the_run_as_lost():
    run = LoadTestRunFactory()
    claimed = services.claim_run(run.pk)
    assert claimed.status == LoadTestRun.Status.RUNNING and claimed.attempt == 1
    assert services.claim_run(run.pk) is None  # django-q2 handed the task out again
    run.refresh_from_db()
    assert run.status == LoadTestRun.Status.ERROR
    assert "worker lost" in run.error
    assert services.claim_run(run.pk) is None  # finished runs stay finished


def test_stop_cancels_a_queued_run_and_flags_a_running_one():
    queued = services.request_stop(run=LoadTestRunFactory())
    assert queued.status == LoadTestRun.Status.CANCELLED and queued.stop_requested
    running = services.claim_run(LoadTestRunFactory().pk)
    stopping = services.request_stop(run=running)
    assert stopping.status == LoadTestRun.Status.STOPPING
    assert services.beat(running) is True


def test_reaper_ends_runs_without_heartbeat_and_spares_live_ones():
    stale = services.claim_run(LoadTestRunFactory().pk)
    live = services.claim_run(LoadTestRunFactory().pk)
    LoadTestRun.objects.filter(pk=stale.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=31))
    assert services.reap_stale_runs() == 1
    stale.refresh_from_db()
    live.refresh_from_db()
    assert stale.status == LoadTestRun.Status.ERROR and "no heartbeat" in stale.error
    assert live.status == LoadTestRun.Status.RUNNING


def test_finish_run_records_verdict_and_keeps_first_ending():
    run = services.claim_run(LoadTestRunFactory().pk)
    services.finish_run(run, status=LoadTestRun.Status.FAILED, summary={"requests": 5}, passed=False,
                        reasons=["balance 80.0 < 95.0"])
    services.finish_run(run, status=LoadTestRun.Status.PASSED, passed=True)
    run.refresh_from_db()
    assert (run.status, run.verdict_passed, run.verdict_reasons) == ("failed", False, ["balance 80.0 < 95.0"])
    assert run.ended_at >= run.started_at
