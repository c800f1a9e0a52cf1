"""Behind nginx and HAProxy an L4 config (stream, `mode tcp`) proxies each client connection to one
pod, and a reload leaves those connections with the old workers, which cannot end them at a
request's end: a client kept alive would stay pinned after a switch to an L7 algorithm. So after a
switch out of L4 the pods end each connection they hold after its next answer (`Connection: close`):
that request is answered, the client reconnects to the new config. LB Lab's own balancer switches
in process and asks nothing of the pods."""

from __future__ import annotations

import http.client

import pytest

from tests.clusters.test_balancer_backends import REAL

pytestmark = pytest.mark.timeout(90)


def get(conn: http.client.HTTPConnection) -> tuple[int, str | None, str | None]:
    conn.request("GET", "/")
    response = conn.getresponse()
    response.read()
    return response.status, response.getheader("X-Pod"), response.getheader("Connection")


@pytest.mark.parametrize("balancer", [*REAL, "lblab"])
def test_a_kept_alive_client_is_answered_then_let_go_after_a_switch_out_of_l4(start_sandbox, balancer):
    cluster = start_sandbox(pods=3, balancer=balancer, algorithm="l4_connection")
    host, port = cluster.endpoint.split("//")[1].rsplit(":", 1)
    pinned = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        status, first_pod, connection = get(pinned)
        assert (status, connection) == (200, None)  # kept alive, pinned to one pod
        assert {get(pinned)[1] for _ in range(5)} == {first_pod}

        cluster.set_algorithm("round_robin")

        status, pod, connection = get(pinned)  # the request after the switch is answered in full
        assert status == 200
        if balancer == "lblab":  # its own balancer spreads this connection's requests itself, kept alive
            assert connection is None
            assert len({get(pinned)[1] for _ in range(6)}) == 3
            return
        assert pod == first_pod  # by the old worker, still pinned ...
        assert connection == "close"  # ... which lets the connection go after it
        fresh = http.client.HTTPConnection(host, int(port), timeout=10)
        try:  # a new connection meets the L7 config: its requests are spread, and it is kept alive
            answers = [get(fresh) for _ in range(6)]
        finally:
            fresh.close()
        assert {status for status, _, _ in answers} == {200}
        assert len({pod for _, pod, _ in answers}) == 3 and "close" not in {c for _, _, c in answers}
    finally:
        pinned.close()
