"""The durability probe's writer (clusters/sandbox/stateful/probe.py) against a stand-in pod: a 200
is acknowledged, anything else or a dropped connection is failed, and only the probe's own ids are
judged when the set is read back (the load's own writes, ids of the pods, are not `unexpected`)."""

from __future__ import annotations

import http.server
import threading

import pytest

from clusters.sandbox.stateful.probe import DurabilityProbe
from tests.conftest import wait_for


class FlakyStore(http.server.BaseHTTPRequestHandler):
    """Confirms even ids, answers 503 to odd ones; remembers every id it applied."""

    applied: set = set()

    def do_POST(self):  # noqa: N802 - http.server's name
        record = self.path.rsplit("/", 1)[-1]
        number = int(record.rsplit("-", 1)[-1])
        FlakyStore.applied.add(record)  # odd ones too: applied, then the confirmation failed
        self.send_response(200 if number % 2 == 0 else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def flaky_store():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FlakyStore)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_acks_failures_and_the_verdict_over_the_probes_own_ids(flaky_store):
    probe = DurabilityProbe(flaky_store, prefix="run7-", mode="sync", rate=200.0)
    probe.start()
    wait_for(lambda: len(probe.log.acked) >= 10, "10 acknowledged writes", poll_s=0.05)
    log = probe.stop()
    assert log.acked and log.failed
    assert all(int(record.split("-")[1]) % 2 == 0 for record in log.acked)
    assert log.errors["HTTP 503"] == len(log.failed)
    lost = sorted(log.acked)[0]
    present = (FlakyStore.applied - {lost}) | {"pod-0-abc-1", "run8-3"}  # the load's and another run's ids
    result = probe.check(present)
    assert (result.acked, result.lost, result.lost_ids) == (len(log.acked), 1, (lost,))
    assert result.recovered == len(log.failed) and result.unexpected == 0
    assert result.rpo_s is None  # sync: no data-loss window is computed
