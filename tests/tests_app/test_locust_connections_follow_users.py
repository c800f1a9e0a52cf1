"""Active connections follow the users: when a spike ends, the users that stop close their
keep-alive connections, so the count falls back with them instead of staying at the peak;
after the run's users stop, none is left open."""

import pytest

from tests_app.engine.testing import PodEchoServer, base_config, run_to_end


@pytest.mark.timeout(120)
@pytest.mark.parametrize("workers", [1, 2])
def test_connections_fall_when_users_stop(workers):
    shape = {"kind": "spike", "users": 2, "spawn_rate": 50, "duration_s": 7, "spike_factor": 3, "spike_at_s": 2,
             "spike_length_s": 2}
    with PodEchoServer(["pod-a", "pod-b"], header="X-Pod") as server:
        result = run_to_end(base_config(server.url, shape=shape, keep_alive=True), workers=workers)
    assert result.final is not None, result.log
    by_t = {sample["t"]: sample for sample in result.samples}
    assert (by_t[4.0]["users"], by_t[4.0]["active_connections"]) == (6, 6)  # a connection per user at the peak
    for t in (5.0, 6.0):  # whole seconds after the spike: one connection per remaining user
        assert (by_t[t]["users"], by_t[t]["active_connections"]) == (2, 2), by_t[t]
    last = result.samples[-1]  # measured after the users stopped at the end of the run
    assert (last["t"], last["active_connections"]) == (7.0, 0)
