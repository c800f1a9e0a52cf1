"""What LB Lab writes into nginx's and HAProxy's configs, from the algorithm registry (pure: no process)."""

import pytest

from clusters.algorithms import ALGORITHMS, algorithm_named
from clusters.base import ClusterError
from clusters.sandbox.backends import BALANCER_BACKENDS, backend_named, choices, integer_weights
from clusters.sandbox.backends.haproxy import balance
from clusters.sandbox.backends.nginx import directive


def test_every_backend_names_an_equivalent_or_none_for_every_algorithm():
    assert [name for name, _ in choices()] == list(BALANCER_BACKENDS) == ["lblab", "nginx", "haproxy"]
    for algorithm in ALGORITHMS.values():
        assert backend_named("lblab").equivalent(algorithm) == algorithm.name
    runs = {name: [a for a in ALGORITHMS.values() if backend_named(name).equivalent(a) is not None]
            for name in ("nginx", "haproxy")}
    assert {a.name for a in runs["nginx"]} == {"round_robin", "weighted_round_robin", "least_conn", "random", "p2c",
                                               "consistent_hash", "l4_connection"}
    assert {a.name for a in runs["haproxy"]} == {a.name for a in runs["nginx"]}


@pytest.mark.parametrize(("name", "options", "nginx", "haproxy"), [
    ("round_robin", {}, "", "static-rr"),
    ("weighted_round_robin", {}, "", "roundrobin"),
    ("least_conn", {}, "least_conn", "leastconn"),
    ("random", {}, "random", "random(1)"),
    ("p2c", {}, "random two least_conn", "random(2)"),
    ("consistent_hash", {"header": "X-User-Id"}, "hash $http_x_user_id consistent", "hdr(X-User-Id)"),
    ("l4_connection", {}, "random", "random(1)"),  # L4: nginx's stream module, HAProxy's mode tcp
    ("l4_connection", {"pick": "round_robin"}, "", "roundrobin"),
])
def test_the_directive_written_for_each_algorithm(name, options, nginx, haproxy):
    assert directive(algorithm_named(name), options) == nginx
    assert balance(algorithm_named(name), options) == haproxy


def test_consistent_hash_without_a_header_is_per_connection_on_nginx_and_refused_on_haproxy():
    assert directive(algorithm_named("consistent_hash"), {}) == "hash $remote_addr:$remote_port consistent"
    with pytest.raises(ClusterError) as refused:
        backend_named("haproxy").check_algorithm("consistent_hash", {})
    assert refused.value.field == "algorithm"


@pytest.mark.parametrize("header", ["X-User; deny all", "a b", "x\ny", "${evil}", ""])
def test_a_header_that_is_not_a_plain_name_never_reaches_a_config(header):
    for name in ("nginx", "haproxy"):
        with pytest.raises(ClusterError) as refused:
            backend_named(name).check_algorithm("consistent_hash", {"header": header})
        assert refused.value.field == "options.header"


@pytest.mark.parametrize(("name", "algorithm"), [("nginx", "ewma"), ("haproxy", "ewma")])
def test_no_equivalent_is_one_line_naming_what_the_balancer_runs(name, algorithm):
    with pytest.raises(ClusterError) as refused:
        backend_named(name).check_algorithm(algorithm, {})
    message = str(refused.value.args[0])
    assert refused.value.field == "algorithm" and "\n" not in message
    assert message.startswith(f"{algorithm} has no {name} equivalent; on {name}: round_robin")


def test_weights_become_whole_numbers_in_the_same_ratios():
    assert integer_weights({"a": 3.0, "b": 1.0}, 256) == {"a": 3, "b": 1}
    assert integer_weights({"a": 1.5, "b": 1.0}, 256) == {"a": 256, "b": 171}
    assert integer_weights({"a": 1000.0, "b": 1.0}, 256) == {"a": 256, "b": 1}
    assert integer_weights({}, 256) == {}
