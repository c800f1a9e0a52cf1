"""A user over the API rate gets 429 with Retry-After; other users are not held back."""

import uuid

import pytest
from django.urls import reverse
from rest_framework.throttling import UserRateThrottle

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_per_minute(monkeypatch, settings):
    # DRF reads the rates when the class is defined, so the setting is overridden on the class.
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "3/minute"})
    # The throttle's history lives in the cache (Redis when REDIS_URL is set): keys of this test's
    # own, so no earlier request of a user with the same id counts. Not cache.clear(): on Redis that
    # empties the whole database, the other test sessions' and workers' queues and groups with it.
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"throttle-test-{uuid.uuid4().hex[:12]}"}}


def test_over_the_rate_is_429_and_others_still_served(three_per_minute, alice, bob, api_for):
    api = api_for(alice)
    url = reverse("api:run-list")
    assert [api.get(url).status_code for _ in range(3)] == [200, 200, 200]
    refused = api.get(url)
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert "throttled" in refused.json()["detail"].lower()
    assert api.post(reverse("api:target-list"), {"name": "t"}, format="json").status_code == 429
    assert api_for(bob).get(url).status_code == 200

