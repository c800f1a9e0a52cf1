"""Failed logins are limited per username and per address, on the login page, the admin's and the
token endpoint: past the limit a login answers 429, even with the right password."""

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from lbsite.models import ApiToken
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def token(username: str, password: str, address: str = "198.51.100.1"):
    return APIClient(REMOTE_ADDR=address).post(reverse("api:token"), {"username": username, "password": password},
                                               format="json")


def fail(username: str, times: int, address: str = "198.51.100.1") -> None:
    for _ in range(times):
        assert token(username, "wrong", address).status_code == 400


def test_a_username_with_too_many_failures_is_refused_with_429_even_with_the_right_password(alice, settings):
    fail("alice", settings.LBLAB_LOGIN_FAILURES_PER_USERNAME)
    refused = token("alice", PASSWORD, address="203.0.113.50")  # from elsewhere too
    assert refused.status_code == 429
    assert refused.json()["detail"] == "Too many failed logins for this username: try again in 15 minutes."
    assert refused["Retry-After"] == str(settings.LBLAB_LOGIN_WINDOW_S)
    page = Client(REMOTE_ADDR="203.0.113.51").post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert page.status_code == 429
    admin = Client(REMOTE_ADDR="203.0.113.52").post(reverse("admin:login"), {"username": "alice", "password": PASSWORD})
    assert admin.status_code == 429
    assert not ApiToken.objects.exists()


def test_an_address_with_too_many_failures_is_refused_for_every_username(alice, settings):
    for index in range(settings.LBLAB_LOGIN_FAILURES_PER_ADDRESS):
        fail(f"nobody-{index}", 1)
    assert token("alice", PASSWORD).status_code == 429
    assert token("alice", PASSWORD, address="198.51.100.2").status_code == 200  # another address is not held back


def test_failures_of_the_login_page_count_and_a_success_clears_the_username(settings):
    UserFactory(username="carol")
    page = Client(REMOTE_ADDR="198.51.100.9")
    for _ in range(settings.LBLAB_LOGIN_FAILURES_PER_USERNAME - 1):
        assert page.post(reverse("login"), {"username": "carol", "password": "wrong"}).status_code == 200
    assert page.post(reverse("login"), {"username": "carol", "password": PASSWORD}).status_code == 302
    fail("carol", settings.LBLAB_LOGIN_FAILURES_PER_USERNAME - 1, address="198.51.100.10")
    assert token("carol", PASSWORD, address="198.51.100.10").status_code == 200  # counted afresh after the login
