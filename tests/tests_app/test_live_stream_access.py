"""Who may open a run's live stream: its owner only. Anyone else, and a run that does not exist,
is refused at the handshake the same way (no difference between "not yours" and "absent")."""

from __future__ import annotations

import pytest

from tests.factories import LoadTestRunFactory
from tests.tests_app.live_stream_support import (  # noqa: F401 - release_db_connections is a fixture
    TIMEOUT_S,
    asession_cookie,
    communicator,
    receive_opening,
    release_db_connections,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("release_db_connections")]


@pytest.fixture
def alices_run(alice):
    return LoadTestRunFactory(owner=alice)


async def refused(comm) -> bool:
    connected, _ = await comm.connect(timeout=TIMEOUT_S)
    await comm.disconnect()
    return not connected


async def test_the_owner_is_let_in(alices_run, alice):
    comm = communicator(alices_run.pk, await asession_cookie(alice))
    try:
        status, _ = await receive_opening(comm)
        assert (status["run"], status["status"]) == (alices_run.pk, "queued")
    finally:
        await comm.disconnect()


async def test_an_anonymous_visitor_is_refused(alices_run):
    assert await refused(communicator(alices_run.pk, None))


async def test_another_users_run_is_refused(alices_run, bob):
    assert await refused(communicator(alices_run.pk, await asession_cookie(bob)))


async def test_a_missing_run_is_refused_like_another_users(alices_run, alice):
    assert await refused(communicator(alices_run.pk + 1000, await asession_cookie(alice)))


async def test_a_foreign_origin_is_refused(alices_run, alice):
    assert await refused(communicator(alices_run.pk, await asession_cookie(alice), origin=(b"origin", b"http://evil.example")))


async def test_a_since_that_is_not_a_number_is_refused(alices_run, alice):
    comm = communicator(alices_run.pk, await asession_cookie(alice))
    comm.scope["query_string"] = b"since=yesterday"
    assert await refused(comm)


async def test_a_viewer_counts_in_the_websocket_clients_metric_while_connected(alices_run, alice):
    from lbsite.prometheus import WEBSOCKET_CLIENTS

    before = WEBSOCKET_CLIENTS._value.get()
    comm = communicator(alices_run.pk, await asession_cookie(alice))
    try:
        await receive_opening(comm)
        assert WEBSOCKET_CLIENTS._value.get() == before + 1
    finally:
        await comm.disconnect()
    assert WEBSOCKET_CLIENTS._value.get() == before
    assert await refused(communicator(alices_run.pk, None))  # one refused at the handshake never counted
    assert WEBSOCKET_CLIENTS._value.get() == before
