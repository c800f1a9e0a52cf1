"""The target pages: field errors in the form, nothing saved until everything is right; the fields
of the chosen kind only; saved targets open, are edited (in place while no run uses them, else as a
new version) and deleted (refused, with why, while runs use them)."""

import re

import pytest
from django.urls import reverse

from clusters import targets
from clusters.targets.url import Url
from tests.factories import LoadTestRunFactory, TargetFactory, UrlTargetFactory
from tests_app.models import Target

pytestmark = pytest.mark.django_db

BASE = {"kind": "sandbox", "pods": 4, "nodes": 2, "algorithm": "round_robin", "service_time_ms": 1,
        "attribution": "header", "pod_header": "X-Pod", "expected_pods": "[]", "weights": "{}"}


def test_form_shows_field_errors_and_saves_nothing(alice, client):
    client.force_login(alice)
    response = client.post(reverse("target-new"), {**BASE, "name": "bad", "pods": 0})
    assert response.status_code == 200
    assert "pods" in response.context["form"].errors
    assert not Target.objects.filter(owner=alice).exists()


def test_form_rejects_a_target_outside_the_allow_list(alice, client):
    client.force_login(alice)
    response = client.post(
        reverse("target-new"), {**BASE, "name": "remote", "kind": "url", "base_url": "http://198.51.100.4/"}
    )
    assert "not allow-listed" in response.context["form"].errors["base_url"][0]
    assert not Target.objects.filter(owner=alice).exists()


def test_form_creates_target_for_the_logged_in_user(alice, client):
    client.force_login(alice)
    response = client.post(reverse("target-new"), {**BASE, "name": "lab"})
    assert response.status_code == 302
    assert Target.objects.get(name="lab").owner == alice


def shown_when(page: str, name: str) -> str | None:
    """The condition the block around field `name` is shown under; None when it is always shown."""
    field = page.index(f'name="{name}"')
    block = page.rfind("<div", 0, page.rfind('<div class="field', 0, field))
    match = re.match(r'<div data-shown-when="([^"]+)">', page[block:])
    return match.group(1) if match else None


@pytest.fixture
def mirror_kind(monkeypatch):
    """A kind that uses the URL kind's field and one of its own."""
    class Mirror(Url):
        name = "mirror_test"
        label = "Mirror (test)"
        fields = ("base_url", "label_selector")

    monkeypatch.setitem(targets.TARGET_KINDS, Mirror.name, Mirror())


def test_each_kinds_fields_are_shown_for_that_kind_only(alice, client, mirror_kind):
    client.force_login(alice)
    page = client.get(reverse("target-new")).content.decode()
    assert shown_when(page, "pods") == "id_kind=sandbox"
    assert shown_when(page, "algorithm") == "id_kind=sandbox"
    assert shown_when(page, "base_url") == "id_kind=url,kubernetes,mirror_test"  # from the registry, not our own list
    assert shown_when(page, "label_selector") == "id_kind=kubernetes,mirror_test"
    assert shown_when(page, "namespace") == "id_kind=kubernetes"
    assert shown_when(page, "pod_header") == "id_attribution=header"
    assert shown_when(page, "prometheus_query") == "id_attribution=prometheus"
    for every_kind in ("name", "kind", "attribution", "expected_pods", "weights"):
        assert shown_when(page, every_kind) is None, every_kind


def test_a_saved_target_opens_and_is_edited_in_place_while_no_run_uses_it(alice, bob, client):
    target = UrlTargetFactory(owner=alice, name="shop")
    client.force_login(alice)
    page = client.get(reverse("targets")).content.decode()
    assert f'href="{reverse("target-edit", args=[target.pk])}"' in page
    opened = client.get(reverse("target-edit", args=[target.pk]))
    assert opened.context["form"].instance.pk == target.pk and "new-version-notice" not in opened.content.decode()
    response = client.post(reverse("target-edit", args=[target.pk]), {
        **BASE, "name": "shop", "kind": "url", "base_url": "http://127.0.0.1:9090/", "pod_header": "X-Served-By"})
    assert response.status_code == 302
    target.refresh_from_db()
    assert (target.base_url, target.pod_header) == ("http://127.0.0.1:9090", "X-Served-By")
    assert Target.objects.filter(owner=alice).count() == 1
    client.force_login(bob)
    assert client.get(reverse("target-edit", args=[target.pk])).status_code == 404


def test_a_target_runs_use_is_saved_as_a_new_version_and_the_runs_keep_theirs(alice, client):
    run = LoadTestRunFactory(owner=alice, target__name="lab", target__pods=4)
    TargetFactory(owner=alice, name="lab v2")  # taken: the next version is v3
    client.force_login(alice)
    opened = client.get(reverse("target-edit", args=[run.target_id]))
    assert opened.context["form"]["name"].value() == "lab v3"
    assert "new-version-notice" in opened.content.decode() and "Save as a new version" in opened.content.decode()
    response = client.post(reverse("target-edit", args=[run.target_id]), {**BASE, "name": "lab v3", "pods": 6})
    assert response.status_code == 302
    run.target.refresh_from_db()
    assert (run.target.name, run.target.pods) == ("lab", 4)
    assert Target.objects.get(owner=alice, name="lab v3").pods == 6


def test_a_name_already_taken_is_a_field_error(alice, client):
    TargetFactory(owner=alice, name="lab")
    client.force_login(alice)
    response = client.post(reverse("target-new"), {**BASE, "name": "lab"})
    assert "You already have a target named “lab”." in response.context["form"].errors["name"]
    assert Target.objects.filter(owner=alice).count() == 1


def test_delete_asks_first_and_removes_an_unused_target(alice, bob, client):
    target = TargetFactory(owner=alice, name="old")
    client.force_login(bob)
    assert client.post(reverse("target-delete", args=[target.pk])).status_code == 404
    client.force_login(alice)
    assert "Delete “old”" in client.get(reverse("target-delete", args=[target.pk])).content.decode()
    assert client.post(reverse("target-delete", args=[target.pk])).status_code == 302
    assert not Target.objects.filter(pk=target.pk).exists()


def test_deleting_a_target_runs_use_is_refused_with_why_and_the_way_out(alice, client):
    run = LoadTestRunFactory(owner=alice, target__name="lab")
    client.force_login(alice)
    response = client.post(reverse("target-delete", args=[run.target_id]))
    page = response.content.decode()
    assert "“lab” is kept because runs refer to it (1)" in page
    assert f'href="{reverse("target-edit", args=[run.target_id])}"' in page
    assert Target.objects.filter(pk=run.target_id).exists()


@pytest.mark.parametrize("route", ["target-edit", "target-delete"])
def test_target_pages_need_login(route, alice, client):
    target = TargetFactory(owner=alice)
    for response in (client.get(reverse(route, args=[target.pk])), client.post(reverse(route, args=[target.pk]))):
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert Target.objects.filter(pk=target.pk).exists()
