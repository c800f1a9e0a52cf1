"""A run through the run service hands the plugin the allow-list and the target's redirect choice:
an allowed URL target that redirects to a loopback port off the allow-list gets nothing sent
there, whether it follows redirects or not (real Locust, loopback servers)."""

import pytest

from tests_app import services
from tests_app.engine.testing import PodEchoServer, RedirectServer
from tests_app.models import LoadTestRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]

STEADY = {"shape": "steady", "users": 2, "spawn_rate": 2, "duration_s": 2}


@pytest.mark.parametrize("follow_redirects", [False, True])
def test_a_run_sends_nothing_where_an_allowed_target_redirects_off_the_list(follow_redirects, alice, settings):
    with PodEchoServer(["elsewhere"]) as elsewhere, RedirectServer(elsewhere.url) as target:
        settings.LBLAB_ALLOWED_TARGETS = [target.url.removeprefix("http://")]  # this port of 127.0.0.1 only
        run = services.submit_run(owner=alice, request=services.RunRequest(target={
            "kind": "url", "base_url": target.url, "follow_redirects": follow_redirects}, scenario=STEADY), queue=False)
        run = services.execute_run(run.pk)
    assert run.status in (LoadTestRun.Status.PASSED, LoadTestRun.Status.FAILED), run.error
    assert elsewhere.served == {}
    assert run.summary["requests"] == target.requests > 0
    if follow_redirects:
        assert run.summary["failures"] == run.summary["requests"]
        assert [error["type"] for error in run.summary["errors"]] == ["RedirectRefused"]
    else:
        assert run.summary["failures"] == 0
