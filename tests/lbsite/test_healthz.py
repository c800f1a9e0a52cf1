"""`/healthz`: what Kubernetes' probes and the image's HEALTHCHECK ask; the database and the channel
layer really asked, whichever backends are configured (CI runs it on both)."""

import pytest
from django.db import connection


@pytest.mark.django_db
def test_healthy_when_the_database_and_the_channel_layer_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok", "problems": []}
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405  # a probe reads; nothing else is taken


@pytest.mark.django_db
def test_a_database_that_does_not_answer_is_503_and_named(client, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr(connection, "cursor", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["problems"] == ["database: OSError: connection refused"]


@pytest.mark.django_db
def test_a_channel_layer_that_does_not_answer_is_503_and_named(client, settings):
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                           "CONFIG": {"hosts": ["redis://127.0.0.1:9/0"]}}}
    channel_layers.backends.clear()
    try:
        response = client.get("/healthz")
    finally:
        channel_layers.backends.clear()
    assert response.status_code == 503
    [problem] = response.json()["problems"]
    assert problem.startswith("channel layer: ") and "ConnectionError" in problem, problem
