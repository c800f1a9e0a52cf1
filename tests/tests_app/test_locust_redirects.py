"""A target cannot send the load (or the plugin's Prometheus polling) elsewhere with a redirect:
a 3xx is the response unless the target follows redirects, and then each `Location` is checked
against the allow-list before anything is sent there. Real Locust against loopback servers: the
allowed target's port is on the allow-list, the other address's port is not."""

import pytest

from tests_app.engine.testing import FakePrometheus, PodEchoServer, RedirectServer, base_config, run_to_end


def allow_only(*servers) -> list[str]:
    return [server.url.removeprefix("http://") for server in servers]  # 127.0.0.1:<port>


@pytest.mark.timeout(90)
def test_a_redirect_is_the_response_and_nothing_is_sent_where_it_points():
    with PodEchoServer(["elsewhere"]) as elsewhere, RedirectServer(elsewhere.url) as target:
        result = run_to_end(base_config(target.url, users=2, duration_s=2, allowed_hosts=allow_only(target)))
    final = result.final
    assert final is not None, result.log
    assert elsewhere.served == {}
    assert final["requests"] == target.requests > 0
    assert final["failures"] == 0 and final["unattributed"] == final["requests"]  # a 3xx is an answer


@pytest.mark.timeout(90)
def test_a_followed_redirect_off_the_allow_list_is_refused_before_it_is_sent():
    with PodEchoServer(["elsewhere"]) as elsewhere, RedirectServer(elsewhere.url) as target:
        result = run_to_end(base_config(target.url, users=2, duration_s=2, follow_redirects=True,
                                        allowed_hosts=allow_only(target)))
    final = result.final
    assert final is not None, result.log
    assert elsewhere.served == {}
    assert final["requests"] == final["failures"] == target.requests > 0
    [error] = final["errors"]
    assert error["type"] == "RedirectRefused" and error["status"] == 302
    assert f"redirect to {elsewhere.url}/ refused: 127.0.0.1 is not allow-listed" in error["message"]


@pytest.mark.timeout(90)
def test_a_followed_redirect_to_an_allowed_address_is_answered_there():
    with PodEchoServer(["pod-a", "pod-b"]) as elsewhere, RedirectServer(elsewhere.url, status=307) as target:
        result = run_to_end(base_config(target.url, users=2, duration_s=2, follow_redirects=True,
                                        allowed_hosts=allow_only(target, elsewhere)))
    final = result.final
    assert final is not None, result.log
    assert final["failures"] == 0 and final["requests"] == target.requests > 0
    assert sum(pod["requests"] for pod in final["pods"].values()) == final["requests"] == sum(elsewhere.served.values())


@pytest.mark.timeout(90)
@pytest.mark.parametrize("allowed", [False, True])
def test_the_prometheus_polling_follows_a_redirect_only_to_an_allowed_address(allowed):
    with PodEchoServer(["pod-a"]) as target, FakePrometheus(lambda: []) as prometheus, \
            RedirectServer(prometheus.url) as moved:
        hosts = allow_only(target, moved, prometheus) if allowed else allow_only(target, moved)
        result = run_to_end(base_config(target.url, users=1, duration_s=2, allowed_hosts=hosts, attribution={
            "method": "prometheus", "url": moved.url, "query": "sum by (pod) (requests_total)"}))
    assert result.final is not None, result.log
    assert moved.requests > 0
    assert (len(prometheus.queries) > 0) is allowed
