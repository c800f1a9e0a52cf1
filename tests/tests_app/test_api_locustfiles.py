"""Registered locustfiles through the API: `GET /api/locustfiles/` lists the operator's files with
their user classes (in the OpenAPI schema too), `POST /api/runs/` names one (`"locustfile":
"shop.py"`, optional `"user_classes"`) and the run keeps its text and hash. Anything that is not a
registered, runnable file is a 400 on the field, before any load, with nothing created."""

import hashlib
import os

import pytest
from django.urls import reverse

from tests.tests_app.locustfile_support import SHOP, write
from tests_app.models import LoadTestRun, Target

pytestmark = pytest.mark.django_db

RUN = {"target": {"kind": "sandbox", "pods": 3}, "scenario": {"shape": "steady", "users": 4, "duration_s": 5}}


def test_the_list_names_each_registered_file_with_its_user_classes_and_shape(alice, api_for, registry):
    write(registry, "_helpers.py", "PATH = '/'\n")  # a helper module beside them: not a locustfile
    write(registry, "broken.py", "from locust import HttpUser\n\nclass Shopper(HttpUser)\n    pass\n")
    response = api_for(alice).get(reverse("api:locustfile-list"))
    assert response.status_code == 200
    listed = {entry["name"]: entry for entry in response.json()}
    assert set(listed) == {"shop.py", "steps.py", "broken.py"}
    assert listed["shop.py"]["user_classes"] == ["Shopper", "Admin"] and listed["shop.py"]["shape"] is None
    assert listed["shop.py"]["sha256"] == hashlib.sha256((registry / "shop.py").read_bytes()).hexdigest()
    assert listed["steps.py"]["shape"] == "TwoSteps" and listed["steps.py"]["error"] == ""
    # why a file cannot run, by its name: the server's path is not shown
    assert listed["broken.py"]["error"] == "broken.py, line 3: SyntaxError: expected ':'"
    assert str(registry) not in response.content.decode()


def test_a_changed_file_is_listed_as_it_is_now(alice, api_for, registry):
    api = api_for(alice)
    api.get(reverse("api:locustfile-list"))
    write(registry, "shop.py", SHOP)  # the operator drops the Admin class
    listed = {entry["name"]: entry for entry in api.get(reverse("api:locustfile-list")).json()}
    assert listed["shop.py"]["user_classes"] == ["Shopper"]


def test_no_directory_set_lists_none(alice, api_for, settings):
    settings.LBLAB_LOCUSTFILES_DIR = None
    assert api_for(alice).get(reverse("api:locustfile-list")).json() == []


def test_the_list_needs_a_login(client, registry):
    assert client.get(reverse("api:locustfile-list")).status_code in (401, 403)


def test_a_run_of_a_registered_file_keeps_its_text_hash_and_user_classes(alice, api_for, registry):
    response = api_for(alice).post(reverse("api:run-list"), {**RUN, "locustfile": "shop.py",
                                                             "user_classes": ["Admin"]}, format="json")
    assert response.status_code == 201, response.content
    run = LoadTestRun.objects.get(pk=response.json()["id"])
    assert run.status == LoadTestRun.Status.QUEUED
    text = (registry / "shop.py").read_text()
    assert run.locustfile_text == text and run.locustfile_sha256 == hashlib.sha256(text.encode()).hexdigest()
    assert run.locustfile == {"path": str(registry / "shop.py"), "user_classes": ["Admin"], "named": True,
                              "shape": None, "registered": "shop.py"}
    assert run.name.startswith("shop.py")


def test_without_user_classes_all_of_them_run(alice, api_for, registry):
    response = api_for(alice).post(reverse("api:run-list"), {**RUN, "locustfile": "steps.py"}, format="json")
    assert response.status_code == 201, response.content
    run = LoadTestRun.objects.get()
    assert (run.locustfile["user_classes"], run.locustfile["named"], run.locustfile["shape"]) == (
        ["Shopper"], False, "TwoSteps")


@pytest.fixture
def bad_files(registry, tmp_path):
    write(registry, "syntax.py", "from locust import HttpUser\n\nclass Shopper(HttpUser)\n    pass\n")
    write(registry, "empty.py", "from locust import HttpUser\n\nVALUE = 1\n")
    os.symlink(tmp_path / "outside.py", registry / "escape.py")
    return registry


@pytest.mark.parametrize(("given", "field", "message"), [
    ({"locustfile": "syntax.py"}, "locustfile", "syntax.py, line 3: SyntaxError"),
    ({"locustfile": "empty.py"}, "locustfile", "empty.py: defines no User class"),
    ({"locustfile": "shop.py", "user_classes": ["Browser"]}, "user_classes",
     "shop.py: no user class Browser (it has Shopper, Admin)"),
    ({"locustfile": "../outside.py"}, "locustfile", "'../outside.py' is not a registered locustfile"),
    ({"locustfile": "{tmp}/outside.py"}, "locustfile", "is not a registered locustfile"),
    ({"locustfile": "{tmp}/locustfiles/shop.py"}, "locustfile", "is not a registered locustfile"),
    ({"locustfile": "escape.py"}, "locustfile", "'escape.py' is not a registered locustfile"),
    ({"locustfile": "locustfiles/../shop.py"}, "locustfile", "is not a registered locustfile"),
    ({"locustfile": "nothing.py"}, "locustfile", "'nothing.py' is not a registered locustfile"),
    ({"locustfile": ""}, "locustfile", "may not be blank"),
    ({"locustfile": ["shop.py"]}, "locustfile", "Not a valid string"),
    ({"user_classes": ["Shopper"]}, "user_classes", "give the locustfile too"),
    ({"locustfile": "shop.py", "user_classes": "Shopper"}, "user_classes", "Expected a list"),
    ({"locustfile": "shop.py", "scenario": {"shape": "steady", "users": 4, "arrival_rate": 20}}, "arrival_rate",
     "not with a locustfile"),
], ids=["syntax-error", "no-user-class", "unknown-user-class", "dot-dot", "absolute-outside", "absolute-inside",
        "symlink-out", "dot-dot-inside", "not-registered", "blank", "not-a-string", "classes-without-file",
        "classes-not-a-list", "open-model"])
def test_what_cannot_run_is_400_on_the_field_and_nothing_is_created(alice, api_for, bad_files, tmp_path, given,
                                                                     field, message):
    payload = {**RUN, **{key: value.format(tmp=tmp_path) if isinstance(value, str) else value
                         for key, value in given.items()}}
    response = api_for(alice).post(reverse("api:run-list"), payload, format="json")
    assert response.status_code == 400, response.content
    errors = response.json()
    assert list(errors) == [field], errors
    assert message in " ".join(errors[field]), errors
    if "{tmp}" not in str(given):  # the server's paths are not shown (only what the user sent is echoed)
        assert str(tmp_path) not in response.content.decode()
    assert not LoadTestRun.objects.exists() and not Target.objects.exists()


def test_with_no_directory_set_a_named_file_is_refused(alice, api_for, settings):
    settings.LBLAB_LOCUSTFILES_DIR = None
    response = api_for(alice).post(reverse("api:run-list"), {**RUN, "locustfile": "shop.py"}, format="json")
    assert response.status_code == 400
    assert "no locustfiles are registered on this server" in response.json()["locustfile"][0]
    assert not LoadTestRun.objects.exists()


def test_the_schema_has_the_list_and_the_run_fields(client, alice):
    client.force_login(alice)
    schema = client.get(reverse("api:schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    listed = schema["paths"]["/api/locustfiles/"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert listed["type"] == "array"
    item = schema["components"]["schemas"][listed["items"]["$ref"].rsplit("/", 1)[1]]
    assert set(item["properties"]) == {"name", "user_classes", "shape", "sha256", "error"}
    body = schema["paths"]["/api/runs/"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    run_fields = schema["components"]["schemas"][body.rsplit("/", 1)[1]]["properties"]
    assert run_fields["locustfile"]["type"] == "string" and run_fields["locustfile"].get("nullable") is True
    assert run_fields["user_classes"]["items"]["type"] == "string"
