"""The algorithm registry (clusters/algorithms.py) is the one list: every entry works in the
sandbox balancer and in the simulator, its options are checked as they always were, and a new
algorithm is one new entry."""

import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from clusters import algorithms
from clusters.algorithms import ALGORITHMS, choices
from clusters.base import ClusterError
from clusters.sandbox.balancer import Balancer, ClientConnection, Upstream
from clusters.sandbox.config import validate_algorithm
from clusters.simulate import KernelPicks, Picks, PodSpec, Workload, simulate

PODS = [PodSpec("pod-0"), PodSpec("pod-1", speed=0.5), PodSpec("pod-2", weight=2.0)]
OPEN = Workload(requests=3_000, rate_rps=1_500.0, connections=6)
CLOSED = Workload(requests=3_000, users=6, think_time_ms=1.0)


def client(port: int, key: bytes) -> ClientConnection:
    """A client connection as the balancer holds it, with no socket: a peer port and one request."""
    connection = ClientConnection(balancer=None)
    connection.transport = SimpleNamespace(get_extra_info=lambda name: ("127.0.0.1", port))
    connection.request = b"GET / HTTP/1.1\r\nHost: lb\r\nX-Key: " + key + b"\r\n\r\n"
    connection.head_lower = connection.request[:-4].lower()
    return connection


def ready_upstreams(count: int) -> list[Upstream]:
    upstreams = [Upstream(f"pod-{i}", "127.0.0.1", 9000 + i) for i in range(count)]
    for upstream in upstreams:
        upstream.ready = upstream.eligible = True
    return upstreams


def test_choices_keep_the_names_labels_and_order_users_know():
    assert choices() == [
        ("round_robin", "Round robin"),
        ("weighted_round_robin", "Weighted round robin"),
        ("least_conn", "Least connections"),
        ("random", "Random"),
        ("p2c", "Power of two choices"),
        ("ewma", "Peak EWMA latency"),
        ("consistent_hash", "Consistent hash"),
        ("l4_connection", "L4 per connection (kube-proxy)"),
    ]
    assert all(name == entry.name and entry.help for name, entry in ALGORITHMS.items())


@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_every_sandbox_picker_spreads_fresh_clients_over_the_pods(name):
    picker = ALGORITHMS[name].sandbox_picker({})
    picker.update([])
    assert picker.pick(client(40_000, b"k")) is None  # no ready pod: nothing to pick
    upstreams = ready_upstreams(3)
    picker.update(upstreams)
    picked = {picker.pick(client(40_000 + i, b"key-%d" % i)).name for i in range(300)}
    assert picked == {upstream.name for upstream in upstreams}


def test_a_header_keyed_picker_sends_one_key_to_one_pod():
    picker = ALGORITHMS["consistent_hash"].sandbox_picker({"header": "X-Key"})
    picker.update(ready_upstreams(4))
    assert len({picker.pick(client(41_000 + i, b"user-7")).name for i in range(50)}) == 1


@pytest.mark.parametrize("workload", [OPEN, CLOSED], ids=["open", "closed"])
@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_every_algorithm_simulates(name, workload):
    entry = ALGORITHMS[name]
    assert issubclass(entry.simulator_picks, Picks if entry.stateless else KernelPicks)
    prediction = simulate(PODS, workload, name, seed=1)
    assert prediction.algorithm == name
    assert sum(prediction.counts().values()) == workload.requests
    assert (prediction.connections > 0) == entry.picks_per_connection(entry.simulator_options(None))


# (algorithm, options, field the sandbox rejects, field the simulator rejects); None: accepted.
# The sandbox and the simulator differ where they always have: only the sandbox takes pod
# weights as an option, only the simulator draws header keys.
OPTION_CASES = [
    ("fastest", None, "algorithm", "algorithm"),
    ("ewma", ["decay_s"], "options", "options"),
    ("round_robin", {"decay_s": 1.0}, "options.decay_s", "options.decay_s"),
    ("ewma", {"decay_s": 0.0}, "options.decay_s", "options.decay_s"),
    ("ewma", {"decay_s": 2e6}, None, "options.decay_s"),
    ("l4_connection", {"pick": "least"}, "options.pick", "options.pick"),
    ("l4_connection", {"pick": "round_robin"}, None, None),
    ("consistent_hash", {"colour": "red"}, "options.colour", "options.colour"),
    ("consistent_hash", {"vnodes": 0}, "options.vnodes", "options.vnodes"),
    ("consistent_hash", {"vnodes": 1.5}, "options.vnodes", "options.vnodes"),
    ("consistent_hash", {"header": ""}, "options.header", "options.header"),
    ("consistent_hash", {"header": None}, "options.header", None),
    ("consistent_hash", {"keys": 10}, "options.keys", "options.header"),
    ("consistent_hash", {"header": "X-Key", "keys": 0}, "options.keys", "options.keys"),
    ("consistent_hash", {"header": "X-Key", "zipf": -1.0}, "options.zipf", "options.zipf"),
    ("weighted_round_robin", {"weights": {"pod-0": 2}}, None, "options.weights"),
    ("weighted_round_robin", {"weights": {"pod-0": 0}}, "options.weights", "options.weights"),
    ("weighted_round_robin", {"weights": [2]}, "options.weights", "options.weights"),
]


def field_of(call) -> str | None:
    try:
        call()
    except ClusterError as error:
        return error.field
    return None


@pytest.mark.parametrize(("name", "options", "sandbox_field", "simulator_field"), OPTION_CASES)
def test_options_are_checked_as_the_sandbox_and_the_simulator_always_did(name, options, sandbox_field,
                                                                        simulator_field):
    assert field_of(lambda: validate_algorithm(name, options)) == sandbox_field
    assert field_of(lambda: simulate(PODS, Workload(requests=10, rate_rps=10.0, connections=2), name,
                                     options=options)) == simulator_field


def test_errors_say_what_is_wrong():
    with pytest.raises(ClusterError, match=r"^options.weights: unknown pod 'pod-9'$"):
        validate_algorithm("round_robin", {"weights": {"pod-9": 2}}, pod_names={"pod-0"})
    with pytest.raises(ClusterError, match=r"^options.pick: must be 'random' or 'round_robin'$"):
        simulate(PODS, OPEN, "l4_connection", options={"pick": "least"})
    with pytest.raises(ClusterError, match=r"^options.header: keys are drawn per request only with a header$"):
        simulate(PODS, OPEN, "consistent_hash", options={"zipf": 1.0})


def test_options_come_back_normalised():
    assert validate_algorithm("consistent_hash", {"vnodes": 7.0, "header": "X-Key"}) == (
        "consistent_hash", {"vnodes": 7, "header": "X-Key"})  # only what was given: the picker has the defaults
    assert validate_algorithm("ewma", {"weights": {"pod-0": 3}}) == ("ewma", {"weights": {"pod-0": 3.0}})
    assert ALGORITHMS["consistent_hash"].simulator_options({"vnodes": 7.0}) == {
        "header": None, "vnodes": 7, "keys": 1000, "zipf": 0.0}


def test_consistent_hash_picks_per_connection_only_without_a_header():
    entry = ALGORITHMS["consistent_hash"]
    assert entry.picks_per_connection({}) and not entry.picks_per_connection({"header": "X-Key"})
    assert ALGORITHMS["l4_connection"].picks_per_connection({"pick": "round_robin"})
    assert not any(ALGORITHMS[name].picks_per_connection({}) for name in ("round_robin", "p2c", "ewma"))


@pytest.fixture
def copies(monkeypatch):
    """Register a copy of an entry under a new name, as adding an algorithm would."""

    def register(original: str) -> str:
        name = f"copy_of_{original}"
        monkeypatch.setitem(ALGORITHMS, name, replace(ALGORITHMS[original], name=name, label=f"Copy of {original}"))
        return name

    return register


@pytest.mark.parametrize("original", list(ALGORITHMS))
def test_a_new_entry_is_all_a_new_algorithm_needs(copies, original):
    name = copies(original)
    assert validate_algorithm(name, {"weights": {"pod-0": 2}}) == (name, {"weights": {"pod-0": 2.0}})
    assert (name, f"Copy of {original}") in choices()
    options = {"header": "X-Key"} if original == "consistent_hash" else None
    assert simulate(PODS, OPEN, name, seed=2, options=options) == replace(
        simulate(PODS, OPEN, original, seed=2, options=options), algorithm=name)


async def test_the_balancer_builds_a_new_entrys_picker(copies):
    name = copies("least_conn")
    balancer = Balancer(algorithm=name, options={})
    assert type(balancer.picker) is ALGORITHMS["least_conn"].sandbox_picker
    balancer.set_algorithm(copies("l4_connection"), {"pick": "round_robin"})
    assert type(balancer.picker) is ALGORITHMS["l4_connection"].sandbox_picker


def test_unknown_names_are_refused_with_the_list():
    with pytest.raises(ClusterError, match="one of round_robin, weighted_round_robin") as caught:
        algorithms.algorithm_named(["round_robin"])
    assert caught.value.field == "algorithm"


def test_reading_the_registry_imports_no_implementation():
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, clusters.algorithms; "
         "print(sorted(m for m in ('numpy', 'clusters.simulate', 'clusters.sandbox.algorithms', 'django') "
         "if m in sys.modules))"],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[2])
    assert loaded.stdout.strip() == "[]"
