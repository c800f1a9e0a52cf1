"""The fair run queue on the run lifecycle: a queued run has no task until the dispatcher gives it
its turn (when a run is submitted, when one ends, from a waiting `loadtest`, every minute with the
reaper); runs of different users take turns; a waiting run's place shows on its page, in the API
and in `loadtest`. On SQLite and PostgreSQL (the dispatcher's lock)."""

import subprocess
import threading
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from tests.conftest import PYTHON, REPO, wait_for
from tests.factories import LoadTestRunFactory, UserFactory
from tests_app import services
from tests_app.models import LoadTestRun

SANDBOX = {"kind": "sandbox", "pods": 2}
SHORT = {"shape": "steady", "users": 2, "spawn_rate": 2, "duration_s": 2}


def submit(owner, target=SANDBOX) -> LoadTestRun:
    return services.submit_run(owner=owner, request=services.RunRequest(target=target, scenario=SHORT))


def going(owner) -> LoadTestRun:
    """A run a worker is running now."""
    return services.claim_run(LoadTestRunFactory(owner=owner).pk)


@pytest.mark.django_db
def test_two_users_queued_runs_alternate(alice, bob):
    blocker = going(UserFactory(username="carol"))
    queued = [submit(alice) for _ in range(3)] + [submit(bob) for _ in range(3)]
    assert services.dispatch_runs() == []  # the one slot is taken
    started_by = []
    for _ in queued:
        services.finish_run(blocker, status=LoadTestRun.Status.PASSED)
        [turn] = services.dispatch_runs()
        blocker = services.claim_run(turn)
        started_by.append(blocker.owner.username)
    assert started_by == ["alice", "bob", "alice", "bob", "alice", "bob"]


@pytest.mark.django_db
def test_a_queued_run_reports_its_position_in_the_api_and_on_its_page(alice, bob, api_for, client):
    going(bob)
    first, second = submit(alice), submit(bob)
    api = api_for(alice)
    body = api.get(reverse("api:run-detail", args=[first.pk])).json()
    assert body["status"] == "queued"
    assert body["queue"]["position"] == 1
    assert body["queue"]["text"] == "1st in line: 1 run(s) going, the most at once (LBLAB_MAX_CONCURRENT_RUNS=1)"
    listed = {run["id"]: run["queue"] for run in api.get(reverse("api:run-list")).json()["results"]}
    assert listed[first.pk]["position"] == 1
    assert api_for(bob).get(reverse("api:run-detail", args=[second.pk])).json()["queue"]["position"] == 2
    client.force_login(alice)
    assert "1st in line: 1 run(s) going" in client.get(reverse("run-detail", args=[first.pk])).content.decode()
    services.finish_run(LoadTestRun.objects.get(owner=bob, status="running"), status=LoadTestRun.Status.PASSED)
    services.dispatch_runs()
    assert api.get(reverse("api:run-detail", args=[first.pk])).json()["queue"] is None  # its turn: no place


@pytest.mark.django_db
def test_runs_on_a_busy_target_wait_while_runs_elsewhere_start(alice, bob, settings):
    settings.LBLAB_MAX_CONCURRENT_RUNS = 3
    shop = {"kind": "url", "base_url": "http://127.0.0.1:8080"}
    first, second, sandbox = submit(alice, shop), submit(bob, {**shop, "name": "bob's shop"}), submit(alice)
    assert services.dispatch_runs() == [first.pk, sandbox.pk]  # bob's target is alice's: the same address
    place = services.queue_place(second)
    assert place.position == 1 and "(LBLAB_MAX_RUNS_PER_TARGET=1)" in place.reason


@pytest.mark.django_db
def test_a_waiting_loadtest_that_went_away_is_cancelled_and_frees_its_place(alice):
    waiting = services.submit_run(owner=alice, request=services.RunRequest(target=SANDBOX, scenario=SHORT), queue=False)
    LoadTestRun.objects.filter(pk=waiting.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    assert services.reap_stale_runs() == 1
    waiting.refresh_from_db()
    assert waiting.status == LoadTestRun.Status.CANCELLED and "stopped waiting" in waiting.error


@pytest.mark.django_db
def test_loadtest_no_wait_exits_2_saying_why_and_leaves_nothing(alice):
    blocker = going(alice)
    with pytest.raises(CommandError) as caught:
        call_command("loadtest", "--sandbox", "--users", "2", "--duration", "2s", "--no-wait")
    assert caught.value.returncode == 2
    assert str(caught.value) == ("--no-wait: run not started, the queue is full: 1st in line: 1 run(s) going, "
                                 "the most at once (LBLAB_MAX_CONCURRENT_RUNS=1)")
    assert list(LoadTestRun.objects.all()) == [blocker]


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
def test_dispatchers_at_once_never_start_more_runs_than_the_limit(alice, bob, settings):
    settings.LBLAB_MAX_CONCURRENT_RUNS = 0  # submitting dispatches too: none may start yet
    for index in range(8):
        submit(alice if index % 2 else bob)
    settings.LBLAB_MAX_CONCURRENT_RUNS = 2
    start, started, errors = threading.Barrier(6), [], []

    def dispatch():
        try:
            start.wait()
            started.extend(services.dispatch_runs())
        except Exception as error:  # noqa: BLE001 - the test reports it
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=dispatch) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(started) == len(set(started)) == 2
    assert LoadTestRun.objects.filter(dispatched_at__isnull=False).count() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(300)
def test_loadtest_waits_its_turn_then_runs(alice, child_env):
    blocker = going(alice)
    command = subprocess.Popen([PYTHON, "manage.py", "loadtest", "--sandbox", "--pods", "2", "--users", "2",
                                "--duration", "2s"], cwd=REPO, env=child_env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    # stderr read as it comes, so the test can see the waiting line before it frees the slot (freed
    # earlier, the command may find its turn before it had anything to say)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(command.stderr.readline, "")), daemon=True)
    reader.start()
    try:
        wait_for(lambda: LoadTestRun.objects.filter(foreground=True).exists(), "loadtest's run to wait")
        waiting = LoadTestRun.objects.get(foreground=True)
        assert services.queue_place(waiting).position == 1
        assert waiting.status == LoadTestRun.Status.QUEUED and waiting.started_at is None
        wait_for(lambda: any("waiting for a turn" in line for line in lines), "loadtest to say it waits")
        services.finish_run(blocker, status=LoadTestRun.Status.PASSED)  # its slot goes to the waiting run
        command.wait(timeout=240)
        reader.join(timeout=10)
    finally:
        if command.poll() is None:
            command.kill()
    err = "".join(lines)
    assert command.returncode in (0, 1), err[-2000:]
    assert "waiting for a turn: 1st in line: 1 run(s) going" in err
    waiting.refresh_from_db()
    blocker.refresh_from_db()
    assert waiting.status in (LoadTestRun.Status.PASSED, LoadTestRun.Status.FAILED)
    assert waiting.started_at >= blocker.ended_at


@pytest.fixture
def two_workers(child_env):
    """The qcluster started after this has two worker processes: both could take a run at once."""
    child_env["LBLAB_WORKERS"] = "2"


@pytest.mark.timeout(300)
def test_workers_run_queued_runs_one_at_a_time(two_workers, qcluster, alice, bob):
    first, second = submit(alice), submit(bob)
    wait_for(lambda: LoadTestRun.objects.get(pk=first.pk).status != LoadTestRun.Status.QUEUED, "the first to start")
    if not LoadTestRun.objects.get(pk=first.pk).is_finished:
        assert services.queue_place(LoadTestRun.objects.get(pk=second.pk)).position == 1
    wait_for(lambda: LoadTestRun.objects.get(pk=second.pk).is_finished, "the second to end", deadline_s=240)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status in ("passed", "failed") and second.status in ("passed", "failed"), (first.error, second.error)
    assert second.started_at >= first.ended_at  # never side by side
