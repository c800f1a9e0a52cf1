"""A target that refuses connections gives failures in a finished run, not a crash."""

import socket

import pytest

from tests_app.engine.testing import base_config, run_to_end, sum_samples


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


@pytest.mark.timeout(90)
def test_refused_connections_are_counted_failures():
    result = run_to_end(base_config(f"http://127.0.0.1:{closed_port()}", users=2, duration_s=2, think_time_ms=[5, 10],
                                    expected_pods=["pod-a"]), wait_exit=True)
    final = result.final
    assert not result.errors, result.log
    assert final is not None, result.log
    assert final["requests"] > 0
    assert final["failures"] == final["requests"] == final["unattributed"]
    assert final["pods"] == {"pod-a": {"requests": 0, "failures": 0, "p95_ms": None}}
    assert sum_samples(result.samples)["failures"] == final["failures"]
    assert result.returncode == 0
