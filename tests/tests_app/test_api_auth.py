"""API authentication: a token (automation) or the browser's session (with its CSRF token for
writes); anything else is refused and writes nothing."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from tests_app.models import Target

pytestmark = pytest.mark.django_db

TARGETS = reverse("api:target-list")
NEW = {"name": "shop", "kind": "sandbox", "pods": 2}


def test_token_from_the_token_endpoint_reads_and_writes(alice):
    client = APIClient()
    token = client.post(reverse("api:token"), {"username": "alice", "password": "correct-horse-battery"},
                        format="json").json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get(TARGETS).status_code == 200
    assert client.post(TARGETS, NEW, format="json").status_code == 201  # no CSRF token needed
    assert Target.objects.filter(owner=alice, name="shop").exists()


def test_wrong_token_is_401_with_the_scheme_to_use(alice):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    response = client.get(TARGETS)
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    assert client.post(TARGETS, NEW, format="json").status_code == 401
    assert not Target.objects.exists()


def test_session_reads_and_writes_with_its_csrf_token(alice):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.get(TARGETS).status_code == 200
    refused = client.post(TARGETS, NEW, format="json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert not Target.objects.exists()
    client.get(reverse("login"))  # the login page sets the CSRF cookie, as a browser page would
    csrf = client.cookies["csrftoken"].value
    assert client.post(TARGETS, NEW, format="json", HTTP_X_CSRFTOKEN=csrf).status_code == 201
    assert Target.objects.filter(owner=alice).count() == 1


def test_no_credentials_is_refused(db):
    client = APIClient()
    assert client.get(TARGETS).status_code == 401
    assert client.post(TARGETS, NEW, format="json").status_code == 401
    assert not Target.objects.exists()
