"""*Run again* of a registered locustfile's run, from the web: it runs the file registered under the
same name now, with the same user classes (the new run keeps the text it runs, and the page says when
the file changed since); a file no longer registered, or a file named on a command line, is refused
with why and nothing created."""

import hashlib

import pytest
from django.urls import reverse
from django.utils.html import escape

from tests.factories import LoadTestRunFactory
from tests.tests_app.locustfile_support import SHOP_AND_ADMIN, write
from tests_app import services
from tests_app.models import LoadTestRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def first(alice, registry):
    """Alice's run of shop.py's Admin users, finished."""
    run = services.submit_run(owner=alice, request=services.RunRequest(
        target={"kind": "sandbox", "pods": 2}, scenario={"shape": "steady", "users": 3, "duration_s": 5},
        locustfile="shop.py", user_classes=["Admin"], workers=2))
    LoadTestRun.objects.filter(pk=run.pk).update(status=LoadTestRun.Status.PASSED)
    return run


@pytest.fixture
def logged_in(client, alice):
    client.force_login(alice)
    return client


def test_run_again_runs_the_registered_file_with_the_same_classes(logged_in, first):
    response = logged_in.post(reverse("run-again", args=[first.pk]))
    again = LoadTestRun.objects.exclude(pk=first.pk).get()
    assert response.status_code == 302 and response["Location"] == reverse("run-detail", args=[again.pk])
    assert again.locustfile == first.locustfile  # registered shop.py, Admin named
    assert (again.locustfile_text, again.locustfile_sha256) == (first.locustfile_text, first.locustfile_sha256)
    assert (again.target, again.workers, again.scenario_config) == (first.target, 2, first.scenario_config)
    messages = [str(message) for message in response.wsgi_request._messages]
    assert not any("changed since" in message for message in messages)


def test_a_changed_file_runs_as_it_is_now_and_the_page_says_so(logged_in, first, registry):
    changed = write(registry, "shop.py", SHOP_AND_ADMIN + "\n    # tuned by the operator\n")
    response = logged_in.post(reverse("run-again", args=[first.pk]), follow=True)
    again = LoadTestRun.objects.exclude(pk=first.pk).get()
    assert again.locustfile_text == changed.read_text() != first.locustfile_text
    assert again.locustfile_sha256 == hashlib.sha256(changed.read_bytes()).hexdigest()
    assert first.locustfile_text == LoadTestRun.objects.get(pk=first.pk).locustfile_text  # history kept
    page = response.content.decode()
    assert f"shop.py changed since run {first.pk}" in page and again.locustfile_sha256[:12] in page


@pytest.mark.parametrize("change", ["removed", "class dropped", "directory unset"])
def test_a_file_that_can_no_longer_run_is_refused_with_why(logged_in, first, registry, settings, change):
    if change == "removed":
        (registry / "shop.py").unlink()
        why = "'shop.py' is not a registered locustfile"
    elif change == "class dropped":
        write(registry, "shop.py", SHOP_AND_ADMIN.replace("class Admin", "class Auditor"))
        why = "no user class Admin"
    else:
        settings.LBLAB_LOCUSTFILES_DIR = None
        why = "no locustfiles are registered on this server"
    response = logged_in.post(reverse("run-again", args=[first.pk]), follow=True)
    assert f"Run {first.pk} could not run again" in response.content.decode()
    assert escape(why) in response.content.decode()
    assert LoadTestRun.objects.count() == 1


def test_a_command_line_files_run_stays_refused_from_the_web(logged_in, alice, registry):
    cli = LoadTestRunFactory(owner=alice, locustfile={"path": str(registry / "shop.py"), "user_classes": ["Shopper"],
                                                      "named": False, "shape": None})
    response = logged_in.post(reverse("run-again", args=[cli.pk]), follow=True)
    assert "runs again from the command line" in response.content.decode()
    assert LoadTestRun.objects.count() == 1
