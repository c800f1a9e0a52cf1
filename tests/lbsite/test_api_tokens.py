"""API tokens: a user holds several (one per pipeline), lists them and revokes any; a revoked key
is refused at once; nobody else's are visible; only a digest of a key is stored."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from lbsite.models import ApiToken

pytestmark = pytest.mark.django_db

TARGETS = reverse("api:target-list")


def issue(username: str, name: str) -> str:
    response = APIClient().post(reverse("api:token"), {"username": username, "password": "correct-horse-battery",
                                                       "name": name}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["token"]


def client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_tokens_are_listed_and_revoked_by_their_owner(alice):
    ci, laptop = issue("alice", "ci"), issue("alice", "laptop")
    listed = client_with(ci).get(reverse("api:api-token-list")).json()["results"]
    assert [(token["name"], token["prefix"], token["current"]) for token in listed] == [
        ("laptop", laptop[:8], False), ("ci", ci[:8], True)]
    assert ci not in str(listed) and laptop not in str(listed)  # a key is shown once, when issued

    laptop_id = next(token["id"] for token in listed if token["name"] == "laptop")
    assert client_with(ci).delete(reverse("api:api-token-detail", args=[laptop_id])).status_code == 204
    refused = client_with(laptop).get(TARGETS)
    assert refused.status_code == 401 and refused["WWW-Authenticate"] == "Token"
    assert client_with(ci).get(TARGETS).status_code == 200


def test_nobody_sees_or_revokes_anyone_elses_tokens(alice, bob):
    alices, bobs = issue("alice", "ci"), issue("bob", "ci")
    bobs_id = ApiToken.objects.get(owner=bob).pk
    client = client_with(alices)
    assert [token["name"] for token in client.get(reverse("api:api-token-list")).json()["results"]] == ["ci"]
    assert client.get(reverse("api:api-token-detail", args=[bobs_id])).status_code == 404
    assert client.delete(reverse("api:api-token-detail", args=[bobs_id])).status_code == 404
    assert client_with(bobs).get(TARGETS).status_code == 200


def test_only_a_digest_of_a_key_is_stored_and_its_use_is_recorded(alice):
    key = issue("alice", "ci")
    token = ApiToken.objects.get(owner=alice)
    assert key not in (token.digest, token.prefix) and len(token.digest) == 64
    assert token.last_used_at is None
    client_with(key).get(TARGETS)
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_wrong_password_issues_nothing(alice):
    response = APIClient().post(reverse("api:token"), {"username": "alice", "password": "wrong"}, format="json")
    assert response.status_code == 400
    assert not ApiToken.objects.exists()
