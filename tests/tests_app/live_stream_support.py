"""Helpers of the live stream tests (`test_live_stream_*.py`): a WebsocketCommunicator on the
real ASGI application (origin check, session auth, routing), and seconds written as the run
driver writes them."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connections, transaction
from django.test import Client

from lbsite.asgi import application
from metrics_app.models import MetricSample, PodSample

ORIGIN = (b"origin", b"http://127.0.0.1")  # an allowed host: AllowedHostsOriginValidator lets it through
TIMEOUT_S = 30  # generous: never a statement about speed, only a bound on a hung test


@pytest.fixture
async def release_db_connections():
    """Close the database connections the consumers opened in asgiref's one thread for sync code,
    so the test database can be flushed and dropped (they would live CONN_MAX_AGE otherwise)."""
    yield
    await database_sync_to_async(connections.close_all)()


def session_cookie(user) -> tuple[bytes, bytes]:
    """A `cookie` header carrying a logged-in session of `user` (`asession_cookie` in async code)."""
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return b"cookie", f"{name}={client.cookies[name].value}".encode()


def communicator(run_id: int, cookie: tuple[bytes, bytes] | None, *, since: float | None = None,
                 origin: tuple[bytes, bytes] = ORIGIN) -> WebsocketCommunicator:
    path = f"/ws/runs/{run_id}/" + (f"?since={since}" if since is not None else "")
    return WebsocketCommunicator(application, path, headers=[origin, *([cookie] if cookie else [])])


def write_second(run, t: float, pods: dict[str, int], *, unattributed: int = 0, users: int = 10) -> None:
    """One recorded second, in one transaction as the run driver writes it."""
    requests = sum(pods.values()) + unattributed
    with transaction.atomic():
        MetricSample.objects.create(run=run, t=t, users=users, requests=requests, rps=float(requests),
                                    p50_ms=1.0, p95_ms=3.0, p99_ms=5.0, max_ms=9.0, active_connections=users)
        PodSample.objects.bulk_create(
            [PodSample(run=run, t=t, pod=name, requests=count, p95_ms=3.0, cpu=0.1, memory_bytes=1 << 20)
             for name, count in pods.items()]
            + ([PodSample(run=run, t=t, pod="unattributed", requests=unattributed)] if unattributed else [])
        )


asession_cookie = database_sync_to_async(session_cookie)
awrite_second = database_sync_to_async(write_second)


async def receive(comm: WebsocketCommunicator) -> dict:
    return await comm.receive_json_from(timeout=TIMEOUT_S)


async def receive_opening(comm: WebsocketCommunicator) -> tuple[dict, dict]:
    """Connect and read the two messages every connection starts with: status, events."""
    connected, _ = await comm.connect(timeout=TIMEOUT_S)
    assert connected
    status, events = await receive(comm), await receive(comm)
    assert (status["type"], events["type"]) == ("status", "events")
    return status, events


async def receive_samples(comm: WebsocketCommunicator, count: int) -> list[dict]:
    """The next `count` messages, which must all be samples."""
    messages = [await receive(comm) for _ in range(count)]
    assert [message["type"] for message in messages] == ["sample"] * count, messages
    return messages
