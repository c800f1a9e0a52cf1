"""The runs list: the API's filters and sort on a page, compare checkboxes, pagination that
keeps the filters, run names, *Run again*, and nobody else's runs (staff see everyone's, with
their owners)."""

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from tests.factories import LoadTestRunFactory, TargetFactory, UrlTargetFactory, UserFactory
from tests_app.models import LoadTestRun

pytestmark = pytest.mark.django_db


def summary(score, grade):
    return {"balance": {"score": score, "grade": grade}}


@pytest.fixture
def logged_in(client, alice):
    client.force_login(alice)
    return client


def shown(response) -> list[int]:
    return [run.pk for run in response.context["runs"]]


def test_filters_by_status_and_target_and_hides_others(logged_in, alice, bob):
    lab = TargetFactory(owner=alice, name="lab")
    passed = LoadTestRunFactory(owner=alice, target=lab, status="passed", summary=summary(99.0, "A"))
    LoadTestRunFactory(owner=alice, status="passed")
    LoadTestRunFactory(owner=alice, target=lab, status="failed")
    LoadTestRunFactory(owner=bob, status="passed")
    response = logged_in.get(reverse("runs"), {"status": "passed", "target": lab.pk})
    assert shown(response) == [passed.pk]
    page = response.content.decode()
    assert "99.0 % · A" in page and f'name="ids" value="{passed.pk}"' in page


def test_sorts_by_balance_score_both_ways_missing_last(logged_in, alice):
    low = LoadTestRunFactory(owner=alice, summary=summary(40.0, "F"))
    high = LoadTestRunFactory(owner=alice, summary=summary(98.0, "A"))
    none = LoadTestRunFactory(owner=alice, summary={})
    assert shown(logged_in.get(reverse("runs"), {"ordering": "balance_score"})) == [low.pk, high.pk, none.pk]
    assert shown(logged_in.get(reverse("runs"), {"ordering": "-balance_score"})) == [high.pk, low.pk, none.pk]


def test_bad_filter_shows_the_field_error_and_no_runs(logged_in, alice):
    LoadTestRunFactory(owner=alice)
    response = logged_in.get(reverse("runs"), {"created_after": "yesterday-ish"})
    assert shown(response) == []
    assert "created_after" in response.context["filter"].form.errors
    assert "No run matches these filters." in response.content.decode()


def test_pagination_keeps_the_filters(logged_in, alice):
    for _ in range(27):
        LoadTestRunFactory(owner=alice, status="failed")
    LoadTestRunFactory(owner=alice, status="passed")
    response = logged_in.get(reverse("runs"), {"status": "failed"})
    assert len(shown(response)) == 25
    assert "?status=failed&amp;page=2" in response.content.decode()
    assert len(shown(logged_in.get(reverse("runs"), {"status": "failed", "page": 2}))) == 2


class FormDefaults(HTMLParser):
    """What a browser submits for a GET form left as it is: each input's value, each select's
    selected option (or its first)."""

    def __init__(self, form_id: str):
        super().__init__()
        self.form_id, self.inside, self.values, self.select = form_id, False, {}, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        elif self.inside and tag == "input" and attrs.get("name"):
            self.values[attrs["name"]] = attrs.get("value") or ""
        elif self.inside and tag == "select":
            self.select = attrs["name"]
        elif self.inside and tag == "option" and self.select and (self.select not in self.values or "selected" in attrs):
            self.values[self.select] = attrs.get("value", "")

    def handle_endtag(self, tag):
        if tag == "select":
            self.select = None
        elif tag == "form":
            self.inside = False


def submitted_as_it_stands(page: str) -> dict:
    parser = FormDefaults("run-filters")
    parser.feed(page)
    return parser.values


def test_pressing_filter_on_the_untouched_form_hides_no_run(logged_in, alice):
    passed = LoadTestRunFactory(owner=alice, status="passed", verdict_passed=True)
    failed = LoadTestRunFactory(owner=alice, status="failed", verdict_passed=False)
    unjudged = LoadTestRunFactory(owner=alice, status="queued")
    query = submitted_as_it_stands(logged_in.get(reverse("runs")).content.decode())
    assert query["verdict"] == ""  # a blank choice comes first: "Any"
    assert set(shown(logged_in.get(reverse("runs"), query))) == {passed.pk, failed.pk, unjudged.pk}
    assert shown(logged_in.get(reverse("runs"), {**query, "verdict": "false"})) == [failed.pk]


def test_runs_show_their_names_and_are_found_by_name(logged_in, alice):
    canary = LoadTestRunFactory(owner=alice, name="nightly canary")
    LoadTestRunFactory(owner=alice, name="smoke")
    page = logged_in.get(reverse("runs")).content.decode()
    assert f'<a href="/runs/{canary.pk}/">nightly canary</a>' in page
    assert shown(logged_in.get(reverse("runs"), {"name": "canary"})) == [canary.pk]


def test_staff_see_every_users_runs_with_an_owner_column_and_filter(client, alice, bob):
    staff = UserFactory(username="operator", is_staff=True)
    cli = LoadTestRunFactory(owner=UserFactory(username="lblab-cli"))
    alices = LoadTestRunFactory(owner=alice)
    client.force_login(staff)
    response = client.get(reverse("runs"))
    assert set(shown(response)) == {cli.pk, alices.pk}
    page = response.content.decode()
    assert "<th>Owner</th>" in page and 'name="owner"' in page
    assert '<td data-label="Owner" class="owner">lblab-cli</td>' in page
    assert shown(client.get(reverse("runs"), {"owner": "lblab-cli"})) == [cli.pk]


def test_others_see_only_their_own_runs_and_no_owner_column(logged_in, alice, bob):
    own = LoadTestRunFactory(owner=alice)
    LoadTestRunFactory(owner=bob)
    response = logged_in.get(reverse("runs"))
    assert shown(response) == [own.pk]
    page = response.content.decode()
    assert "<th>Owner</th>" not in page and 'name="owner"' not in page


def test_run_again_starts_the_same_target_scenario_and_options_and_others_get_404(
        logged_in, alice, bob, django_capture_on_commit_callbacks):
    first = LoadTestRunFactory(owner=alice, name="checkout smoke", workers=2, status="passed",
                               scenario__shape="spike", scenario__duration_s=60, scenario__spike_at_s=10,
                               scenario__spike_length_s=5, scenario__users=7)
    first.scenario.users = 70  # the preset changed since: the run again keeps the frozen copy
    first.scenario.save()
    page = logged_in.get(reverse("runs")).content.decode()
    assert f'action="{reverse("run-again", args=[first.pk])}"' in page and f'form="run-again-{first.pk}"' in page
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = logged_in.post(reverse("run-again", args=[first.pk]))
    again = LoadTestRun.objects.exclude(pk=first.pk).get()
    assert response.status_code == 302 and response["Location"] == reverse("run-detail", args=[again.pk])
    assert len(queued) == 1 and again.status == LoadTestRun.Status.QUEUED
    assert (again.owner, again.target, again.scenario, again.workers, again.name) == (
        alice, first.target, first.scenario, 2, "checkout smoke")
    assert again.scenario_config == first.scenario_config and again.scenario_config["users"] == 7
    theirs = LoadTestRunFactory(owner=bob)
    assert logged_in.post(reverse("run-again", args=[theirs.pk])).status_code == 404
    assert LoadTestRun.objects.filter(owner=alice).count() == 2


def test_staff_run_someone_elses_run_again_on_their_own_copy_of_its_target(client, alice):
    staff = UserFactory(username="operator", is_staff=True)
    first = LoadTestRunFactory(owner=alice, target__pods=3, target__algorithm="p2c", target__name="alices-lab")
    client.force_login(staff)
    response = client.post(reverse("run-again", args=[first.pk]))
    again = LoadTestRun.objects.get(owner=staff)
    assert response.status_code == 302
    assert again.target.owner == staff and again.target != first.target
    assert (again.target.kind, again.target.pods, again.target.algorithm) == ("sandbox", 3, "p2c")
    assert again.scenario_config == {**first.scenario_config, "id": None}  # alice's scenario is hers alone


def test_a_run_again_that_is_refused_says_why(logged_in, alice, settings):
    first = LoadTestRunFactory(owner=alice, target=UrlTargetFactory(owner=alice))
    settings.LBLAB_ALLOWED_TARGETS = ["10.0.0.0/8"]  # the target is no longer allow-listed
    response = logged_in.post(reverse("run-again", args=[first.pk]), follow=True)
    assert "could not run again" in response.content.decode() and "not allow-listed" in response.content.decode()
    assert LoadTestRun.objects.count() == 1


def test_run_again_needs_login(client, alice):
    run = LoadTestRunFactory(owner=alice)
    response = client.post(reverse("run-again", args=[run.pk]))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert LoadTestRun.objects.count() == 1
