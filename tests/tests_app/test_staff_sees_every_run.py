"""One scoping rule (lbsite.permissions.owned_by) with one exception in one place: staff see every
user's runs (the ones `loadtest` records as `lblab-cli` too) in every medium that shows a run: the
pages, the exports, the API and the live stream. Anyone else still gets a 404 for a run that is
not theirs, and staff still see only their own targets."""

import pytest
from django.urls import reverse

from metrics_app.models import MetricSample, PodSample
from tests.factories import LoadTestRunFactory, TargetFactory, UserFactory
from tests.tests_app.live_stream_support import (  # noqa: F401 - release_db_connections is a fixture
    asession_cookie,
    communicator,
    receive_opening,
    release_db_connections,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db):
    return UserFactory(username="operator", is_staff=True)


@pytest.fixture
def cli_run(db):
    """A run as `manage.py loadtest` records it: owned by its own user, nobody logs in as."""
    run = LoadTestRunFactory(owner=UserFactory(username="lblab-cli"), status="passed", verdict_passed=True,
                             summary={"run_id": 0, "requests": 3})
    MetricSample.objects.create(run=run, t=0.0, requests=3, rps=3.0, p95_ms=2.0)
    PodSample.objects.create(run=run, t=0.0, pod="pod-a", requests=3)
    return run


def page_urls(run, other) -> list[str]:
    return [
        reverse("run-detail", args=[run.pk]), reverse("run-results", args=[run.pk]),
        reverse("run-report", args=[run.pk]), reverse("run-export", args=[run.pk, "samples.csv"]),
        reverse("run-export", args=[run.pk, "summary.json"]), f"{reverse('run-compare')}?ids={run.pk},{other.pk}",
    ]


def api_urls(run, other) -> list[str]:
    return [
        reverse("api:run-detail", args=[run.pk]), reverse("api:run-samples", args=[run.pk]),
        reverse("api:run-export", args=[run.pk]), f"{reverse('api:run-compare')}?ids={run.pk},{other.pk}",
    ]


def test_staff_open_anyones_run_on_every_page_and_in_the_api(staff, cli_run, client, api_for):
    own = LoadTestRunFactory(owner=staff, status="passed")
    client.force_login(staff)
    for url in page_urls(cli_run, own):
        assert client.get(url).status_code == 200, url
    api = api_for(staff)
    for url in api_urls(cli_run, own):
        assert api.get(url).status_code == 200, url
    assert api.get(reverse("api:run-detail", args=[cli_run.pk])).json()["owner"] == "lblab-cli"


def test_anyone_else_still_gets_404_for_a_run_not_theirs(bob, cli_run, client, api_for):
    own = LoadTestRunFactory(owner=bob, status="passed")
    client.force_login(bob)
    for url in page_urls(cli_run, own):
        assert client.get(url).status_code == 404, url
    api = api_for(bob)
    for url in api_urls(cli_run, own):
        assert api.get(url).status_code == 404, url
    listed = {run["id"] for run in api.get(reverse("api:run-list")).json()["results"]}
    assert listed == {own.pk}


def test_the_api_list_has_every_users_runs_for_staff_with_owners_and_an_owner_filter(staff, alice, cli_run, api_for):
    alices = LoadTestRunFactory(owner=alice)
    api = api_for(staff)
    listed = {run["id"]: run["owner"] for run in api.get(reverse("api:run-list")).json()["results"]}
    assert listed == {cli_run.pk: "lblab-cli", alices.pk: "alice"}
    only_cli = api.get(reverse("api:run-list"), {"owner": "lblab-cli"}).json()["results"]
    assert [run["id"] for run in only_cli] == [cli_run.pk]


def test_an_owner_filter_naming_someone_else_is_a_400_for_others(alice, bob, api_for):
    LoadTestRunFactory(owner=bob)
    response = api_for(alice).get(reverse("api:run-list"), {"owner": "bob"})
    assert response.status_code == 400 and "owner" in response.json()


def test_staff_can_stop_anyones_run(staff, alice, client):
    run = LoadTestRunFactory(owner=alice, status="running")
    client.force_login(staff)
    assert client.post(reverse("run-stop", args=[run.pk])).status_code == 302
    run.refresh_from_db()
    assert run.stop_requested


def test_staff_see_only_their_own_targets(staff, alice, client, api_for):
    theirs = TargetFactory(owner=alice, name="alices-lab")
    client.force_login(staff)
    assert "alices-lab" not in client.get(reverse("targets")).content.decode()
    assert client.get(reverse("target-edit", args=[theirs.pk])).status_code == 404
    assert api_for(staff).get(reverse("api:target-detail", args=[theirs.pk])).status_code == 404


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("release_db_connections")
async def test_staff_may_watch_anyones_run_live_and_others_may_not(staff, bob, cli_run):
    comm = communicator(cli_run.pk, await asession_cookie(staff))
    try:
        status, _ = await receive_opening(comm)
        assert status["run"] == cli_run.pk
    finally:
        await comm.disconnect()
    refused = communicator(cli_run.pk, await asession_cookie(bob))
    connected, _ = await refused.connect(timeout=30)
    await refused.disconnect()
    assert not connected
