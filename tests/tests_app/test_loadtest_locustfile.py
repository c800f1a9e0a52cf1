"""`loadtest --locustfile`: a team's own locustfile runs unchanged with LB Lab's plugin beside it,
against the sandbox, and every request it sends is attributed to the pod that served it; its
LoadTestShape drives the users; a file LB Lab cannot run is refused before any load."""

import hashlib
import json

import pytest
from django.core.management import CommandError, call_command

from metrics_app.models import MetricSample
from tests.tests_app.locustfile_support import SHOP, STEPS, write
from tests_app.models import LoadTestRun, Target

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.mark.timeout(240)
@pytest.mark.parametrize("workers", [1, 2])
def test_own_locustfile_is_attributed_per_pod_with_its_request_names(tmp_path, served, workers):
    locustfile = write(tmp_path, "locustfile.py", SHOP)
    out = tmp_path / "summary.json"
    call_command("loadtest", "--sandbox", "--pods", "3", "--locustfile", str(locustfile), "--users", "4",
                 "--duration", "4s", "--workers", str(workers), "--json", str(out))

    run = LoadTestRun.objects.get()
    summary = json.loads(out.read_text())
    assert run.status == LoadTestRun.Status.PASSED, (run.error, run.verdict_reasons)
    # every request the file sent is counted for the pod whose own counter counted it
    per_pod = {name: figures["requests"] for name, figures in summary["pods"].items()}
    assert per_pod == served()
    assert len(per_pod) == 3 and summary["unattributed"] == 0
    assert summary["requests"] == sum(per_pod.values()) > 0
    # the per-endpoint table has the file's own request names, and adds up to the run
    endpoints = {row["endpoint"]: row["requests"] for row in summary["endpoints"]}
    assert set(endpoints) == {"POST /login", "GET /", "GET /items/[id]", "POST /cart/checkout"}
    assert endpoints["POST /login"] == 4  # on_start: once per user, whatever the processes
    assert min(endpoints.values()) > 0 and sum(endpoints.values()) == summary["requests"]
    assert endpoints["GET /"] > endpoints["POST /cart/checkout"]  # weights 6 and 1 over ~1000 requests
    # the balance is computed over the three pods, and each second was recorded
    assert summary["balance"]["grade"] in "ABCDF" and summary["balance"]["score"] is not None
    assert MetricSample.objects.filter(run=run).count() >= 4
    # the run keeps what it ran
    assert run.locustfile_text == locustfile.read_text()
    assert run.locustfile_sha256 == hashlib.sha256(locustfile.read_bytes()).hexdigest()
    assert summary["locustfile"] == {"path": str(locustfile), "sha256": run.locustfile_sha256,
                                     "user_classes": ["Shopper"], "shape": None}
    assert run.name.startswith("locustfile.py")


@pytest.mark.timeout(240)
def test_a_load_test_shape_in_the_file_drives_the_users(tmp_path, served):
    locustfile = write(tmp_path, "steps.py", STEPS)
    call_command("loadtest", "--sandbox", "--pods", "2", "--locustfile", str(locustfile), "--users", "10",
                 "--duration", "60s", "--threshold", "0")

    run = LoadTestRun.objects.get()
    assert run.status == LoadTestRun.Status.PASSED, (run.error, run.verdict_reasons)
    users = dict(MetricSample.objects.filter(run=run).order_by("t").values_list("t", "users"))
    assert users[1.0] == 2  # the shape's first step, not the scenario's 10 users
    assert users[3.0] == 5  # its second step
    assert max(users.values()) == 5
    assert run.summary["duration_s"] < 60  # the shape ended the run, not the scenario's duration
    assert run.summary["locustfile"]["shape"] == "TwoSteps"
    assert any("TwoSteps" in note and "LoadTestShape" in note for note in run.summary["notes"])
    assert {name: figures["requests"] for name, figures in run.summary["pods"].items()} == served()


@pytest.mark.parametrize(
    ("text", "flags", "reason"),
    [
        ("from locust import HttpUser\n\nclass Shopper(HttpUser)\n    pass\n", [],
         "--locustfile: {path}, line 3: SyntaxError"),
        ("import json\n\nraise RuntimeError('no config for this environment')\n", [],
         "--locustfile: {path}, line 3: RuntimeError: no config for this environment"),
        ("from locust import HttpUser\n\nVALUE = 1\n", [], "--locustfile: {path}: defines no User class"),
        (SHOP, ["--user-class", "Browser"], "--user-class: {path}: no user class Browser (it has Shopper)"),
        ("from locust import User, task\n\nclass Raw(User):\n    @task\n    def go(self):\n        pass\n", [],
         "--locustfile: {path}: Raw is a User: LB Lab attributes requests of HttpUser and FastHttpUser only"),
        (SHOP, ["--arrival-rate", "50"], "--arrival-rate: not with --locustfile"),
    ],
    ids=["syntax-error", "fails-at-import", "no-user-class", "unknown-user-class", "unattributable-client",
         "open-model"],
)
def test_a_file_lb_lab_cannot_run_is_exit_2_in_one_line_and_nothing_is_created(tmp_path, text, flags, reason):
    locustfile = write(tmp_path, "bad.py", text)
    with pytest.raises(CommandError) as caught:
        call_command("loadtest", "--sandbox", "--locustfile", str(locustfile), *flags)
    assert caught.value.returncode == 2
    assert str(caught.value).startswith(reason.format(path=locustfile)), str(caught.value)
    assert "\n" not in str(caught.value)
    assert not LoadTestRun.objects.exists()
    assert not Target.objects.exists()


def test_user_class_without_a_locustfile_is_exit_2():
    with pytest.raises(CommandError) as caught:
        call_command("loadtest", "--sandbox", "--user-class", "Shopper")
    assert caught.value.returncode == 2
    assert str(caught.value) == "--user-class: only with --locustfile"
    assert not LoadTestRun.objects.exists()


@pytest.mark.solo  # with another test on the 2 cores, 6 users left no request in flight on the killed pod
@pytest.mark.timeout(240)
def test_a_chaos_step_during_an_own_locustfile_run_is_measured_from_its_requests(tmp_path):
    locustfile = write(tmp_path, "locustfile.py", SHOP)
    # errors, not a kill: with the file's think time few requests are in flight on a killed pod, and
    # on a busy machine none may be, while half of a pod's answers failing for 2 s always shows
    with pytest.raises(CommandError) as verdict:  # the failures are over the default 1 % error rate
        call_command("loadtest", "--sandbox", "--pods", "3", "--no-retries", "--locustfile", str(locustfile),
                     "--users", "6", "--duration", "8s", "--chaos", "errors@2s:2s:high", "--threshold", "0")
    assert verdict.value.returncode == 1

    run = LoadTestRun.objects.get()
    summary = run.summary
    assert run.status in (LoadTestRun.Status.PASSED, LoadTestRun.Status.FAILED), run.error
    [injection] = summary["chaos"]
    assert injection["kind"] == "errors" and injection["rolled_back"] is True
    # recovery is measured from the file's own requests, as for a scenario's
    assert injection["requests_failed"] > 0, injection
    assert injection["recovered_at_s"] is not None and injection["rto_s"] is not None, injection
    assert summary["failures"] >= injection["requests_failed"]
    assert set(summary) >= {"run_id", "duration_s", "requests", "failures", "rps", "latency_ms", "pods",
                            "unattributed", "balance", "chaos", "tuning", "verdict", "endpoints", "errors",
                            "locustfile"}


def test_run_again_of_a_locustfile_run_is_refused_without_creating_a_run(alice):
    from tests.factories import LoadTestRunFactory
    from tests_app import services

    run = LoadTestRunFactory(owner=alice, locustfile={"path": "/srv/shop/locustfile.py", "user_classes": ["Shopper"],
                                                      "named": False, "shape": None})
    with pytest.raises(services.RunRejected) as refused:
        services.run_again(owner=alice, run=run)
    assert "locustfile" in refused.value.errors and "--locustfile" in refused.value.errors["locustfile"][0]
    assert LoadTestRun.objects.count() == 1
