"""The runs list, the new-run form and the target pages in a real browser, against what `make run`
starts (no Redis), at a desktop width and at 390 px (a phone): nothing wider than the screen, and
no console error on any page."""

import re

import pytest

from clusters.algorithms import ALGORITHMS
from tests.conftest import log_in
from tests.factories import LoadTestRunFactory, TargetFactory, UserFactory
from tests.tests_app.locustfile_support import SHOP_AND_ADMIN, write
from tests_app import services
from tests_app.models import LoadTestRun, Scenario, Target

pytestmark = pytest.mark.timeout(240)

PASSWORD = "a-long-browser-password"
PHONE = {"width": 390, "height": 844}


def user(username: str, **fields):
    person = UserFactory(username=username, **fields)
    person.set_password(PASSWORD)
    person.save()
    return person


def fits_the_screen(page) -> bool:
    """No horizontal page scrolling: the document is no wider than the window."""
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def header_fits(page) -> bool:
    return page.evaluate("""() => [...document.querySelectorAll('header.site a, header.site button')].every(element => {
        const box = element.getBoundingClientRect();
        return box.left >= 0 && box.right <= window.innerWidth;
    })""")


def stop_quietly(run_pk: int) -> None:
    """The runs started here only have to exist: stop them so they send no load."""
    services.request_stop(run=LoadTestRun.objects.get(pk=run_pk))


def new_run_pk(page) -> int:
    page.wait_for_url(re.compile(r"/runs/\d+/$"))
    return int(page.url.rstrip("/").rsplit("/", 1)[1])


def test_runs_list_filters_shows_owners_to_staff_and_runs_again(start_site, browser, transactional_db):
    user("operator", is_staff=True)
    alice = UserFactory(username="alice")
    passed = LoadTestRunFactory(owner=alice, status="passed", verdict_passed=True,
                                summary={"balance": {"score": 99.0, "grade": "A"}})
    failed = LoadTestRunFactory(owner=alice, status="failed", verdict_passed=False,
                                summary={"balance": {"score": 41.0, "grade": "F"}})
    cli = LoadTestRunFactory(owner=UserFactory(username="lblab-cli"), status="passed", verdict_passed=True,
                             name="nightly canary with a rather long name on sandbox 4 pods round_robin")
    site = start_site(REDIS_URL=None)
    page = browser.page
    log_in(page, site.url, "operator", password=PASSWORD)

    page.click("#run-filters button[type=submit]")  # the untouched form: nothing filtered out
    page.wait_for_url(re.compile(r"\?"))
    listed = page.locator("table.runs tbody tr")
    assert listed.count() == 3
    for run in (passed, failed, cli):
        assert page.locator(f"input[name=ids][value='{run.pk}']").count() == 1
    assert page.locator("table.runs th", has_text="Owner").count() == 1

    page.select_option("#id_owner", "lblab-cli")
    page.click("#run-filters button[type=submit]")
    page.wait_for_url(re.compile(r"owner=lblab-cli"))
    assert listed.count() == 1
    assert page.locator("td.owner").inner_text() == "lblab-cli"
    assert page.locator("td.name").inner_text() == cli.name

    page.set_viewport_size(PHONE)
    page.goto(site.url + "/")
    assert fits_the_screen(page) and header_fits(page)
    assert page.locator("table.runs tbody tr").count() == 3

    page.click(f"button[form='run-again-{cli.pk}']")
    again = new_run_pk(page)
    stop_quietly(again)
    copy = LoadTestRun.objects.get(pk=again)
    assert (copy.owner.username, copy.name) == ("operator", cli.name)
    assert copy.scenario_config == {**cli.scenario_config, "id": None}
    assert browser.console_problems == []


def test_new_run_form_offers_every_scenario_field_and_shows_every_error_at_once(start_site, browser, transactional_db,
                                                                               tmp_path):
    user("alice")
    write(tmp_path, "shop.py", SHOP_AND_ADMIN)  # a registered locustfile (LBLAB_LOCUSTFILES_DIR)
    # the preset as its migration seeds it (a transactional test may start after another emptied the tables)
    Scenario.objects.update_or_create(owner=None, name="Spike ×3", defaults={
        "shape": "spike", "users": 50, "spawn_rate": 100.0, "duration_s": 120, "spike_factor": 3.0, "spike_at_s": 30,
        "spike_length_s": 30})
    site = start_site(REDIS_URL=None, LBLAB_LOCUSTFILES_DIR=str(tmp_path))
    page = browser.page
    log_in(page, site.url, "alice", password=PASSWORD)
    page.goto(site.url + "/runs/new/")

    # a registered locustfile as the scenario's source, with its user classes: its users replace the requests
    assert "shop.py — Shopper, Admin" in page.locator("#id_locustfile option").all_inner_texts()
    assert page.is_visible("#id_request_mix") and not page.is_visible("#id_user_classes")
    page.select_option("#id_locustfile", "shop.py")
    assert page.is_visible("#id_user_classes") and not page.is_visible("#id_request_mix")
    page.select_option("#id_locustfile", "")

    # a number beside each slider, the two in step
    page.fill("#id_users", "250")
    assert page.input_value("[data-slider-for=id_users]") == "250"
    page.fill("[data-slider-for=id_duration_s]", "60")
    assert page.input_value("#id_duration_s") == "60"

    # the chosen algorithm's one line of help
    page.select_option("#id_sandbox_algorithm", "least_conn")
    assert page.inner_text("[data-option-help-for=id_sandbox_algorithm]") == ALGORITHMS["least_conn"].help
    # presets say what they do
    assert "Spike ×3 (preset) — spike ×3 · 50 users · 2 min" in page.locator("#id_scenario option").all_inner_texts()

    # the fields of the chosen shape
    assert not page.is_visible("#id_spike_at_s") and not page.is_visible("#id_stages")
    page.select_option("#id_shape", "stages")
    assert page.is_visible("#id_stages") and not page.is_visible("#id_users")
    page.select_option("#id_shape", "spike")
    assert page.is_visible("#id_spike_at_s") and page.is_visible("#id_spike_factor") and not page.is_visible("#id_stages")

    # chaos steps, experiments and tuning policies are offered
    assert not page.is_disabled("#id_chaos") and not page.is_disabled("#id_experiment")
    assert not page.is_disabled("#id_autotune")

    page.fill("#id_users", "0")
    page.fill("#id_spike_at_s", "50")
    page.fill("#id_spike_length_s", "30")
    page.fill("#id_workers", "99")
    page.click("text=Start the run")
    page.wait_for_selector(".form-problems")
    invalid = {page.get_attribute(f".field.invalid:nth-match(.field.invalid, {i}) [name]", "name")
               for i in range(1, page.locator(".field.invalid").count() + 1)}
    assert invalid == {"users", "spike_length_s", "workers"}
    assert page.is_visible("#id_spike_length_s")  # the shape's fields stay shown with their errors

    page.set_viewport_size(PHONE)
    assert fits_the_screen(page) and header_fits(page)

    page.fill("#id_users", "4")
    page.fill("#id_spike_at_s", "10")
    page.fill("#id_spike_length_s", "10")
    page.fill("#id_workers", "1")
    page.click("text=Start the run")
    run = LoadTestRun.objects.get(pk=new_run_pk(page))
    stop_quietly(run.pk)
    assert (run.scenario_config["shape"], run.scenario_config["spike_at_s"], run.scenario_config["users"]) == ("spike", 10, 4)
    assert browser.console_problems == []


def test_targets_show_their_kinds_fields_and_are_edited_and_deleted(start_site, browser, transactional_db):
    alice = user("alice")
    used = LoadTestRunFactory(owner=alice, target=TargetFactory(owner=alice, name="lab", pods=4), status="passed")
    site = start_site(REDIS_URL=None)
    page = browser.page
    log_in(page, site.url, "alice", password=PASSWORD)

    page.goto(site.url + "/targets/new/")
    assert page.is_visible("#id_pods") and not page.is_visible("#id_base_url")
    page.select_option("#id_kind", "url")
    assert page.is_visible("#id_base_url") and not page.is_visible("#id_pods") and not page.is_visible("#id_namespace")
    page.select_option("#id_attribution", "json_field")
    assert page.is_visible("#id_pod_json_field") and not page.is_visible("#id_pod_header")
    page.select_option("#id_attribution", "header")
    page.fill("#id_name", "shop")
    page.fill("#id_base_url", "http://127.0.0.1:8080")
    page.click("text=Save target")
    page.wait_for_url(site.url + "/targets/")

    page.click("td.name a:text-is('shop')")
    page.wait_for_url(re.compile(r"/targets/\d+/$"))
    assert page.input_value("#id_kind") == "url" and not page.is_visible("#id_pods")
    page.fill("#id_pod_header", "X-Served-By")
    page.click("text=Save target")
    page.wait_for_url(site.url + "/targets/")
    assert Target.objects.get(owner=alice, name="shop").pod_header == "X-Served-By"

    page.goto(f"{site.url}/targets/{used.target_id}/")
    assert page.is_visible("#new-version-notice") and page.input_value("#id_name") == "lab v2"
    page.fill("#id_pods", "6")
    page.click("text=Save as a new version")
    page.wait_for_url(site.url + "/targets/")
    assert Target.objects.get(owner=alice, name="lab v2").pods == 6

    page.set_viewport_size(PHONE)
    assert fits_the_screen(page) and header_fits(page)
    page.goto(f"{site.url}/targets/{used.target_id}/delete/")
    page.click("button:text-is('Delete')")
    assert "is kept because runs refer to it" in page.inner_text("#delete-refused")
    assert Target.objects.filter(pk=used.target_id).exists()
    shop = Target.objects.get(owner=alice, name="shop")
    page.goto(f"{site.url}/targets/{shop.pk}/")
    assert fits_the_screen(page)
    page.click("text=Delete…")
    page.click("button:text-is('Delete')")
    page.wait_for_url(site.url + "/targets/")
    assert not Target.objects.filter(pk=shop.pk).exists()
    assert browser.console_problems == []
