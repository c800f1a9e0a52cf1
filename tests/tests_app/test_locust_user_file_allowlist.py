"""A user's own locustfile cannot send the load elsewhere than the target: every request it sends
(an absolute URL, or a redirect its client follows, as HttpUser and FastHttpUser do by default) is
checked against the allow-list before it goes out, and a refused one is a failed request of its
endpoint. Real Locust against loopback servers: the target's port is allow-listed, the other not."""

import textwrap

import pytest

from tests_app.engine.testing import PodEchoServer, RedirectServer, base_config, run_to_end

FILE = '''
    from locust import {client}, constant, task


    class Visitor({client}):
        wait_time = constant(0.01)

        @task
        def follow(self):
            self.client.get("/go", name="/go")

        @task
        def absolute(self):
            self.client.get("{elsewhere}/direct", name="direct")
'''


@pytest.mark.timeout(90)
@pytest.mark.parametrize("client", ["HttpUser", "FastHttpUser"])
def test_requests_of_a_user_file_off_the_allow_list_are_refused_before_they_are_sent(tmp_path, client):
    with PodEchoServer(["elsewhere"]) as elsewhere, RedirectServer(elsewhere.url) as target:
        path = tmp_path / "visitor.py"
        path.write_text(textwrap.dedent(FILE.format(client=client, elsewhere=elsewhere.url)))
        allowed = [target.url.removeprefix("http://")]
        result = run_to_end(base_config(target.url, users=2, duration_s=2, allowed_hosts=allowed,
                                        locustfile={"path": str(path), "user_classes": [], "shape": None}))

    final = result.final
    assert final is not None, result.log
    assert elsewhere.served == {}  # nothing reached the address off the allow-list
    endpoints = {row["endpoint"]: (row["requests"], row["failures"]) for row in final["endpoints"]}
    assert set(endpoints) == {"GET /go", "GET direct"}
    assert all(requests == failures > 0 for requests, failures in endpoints.values())
    assert endpoints["GET /go"][0] == target.requests  # the first hop went to the target, the next one nowhere
    refused = {row["endpoint"]: row for row in final["errors"]}
    assert refused["GET direct"]["type"] == refused["GET /go"]["type"] == "RequestRefused"
    assert f"request to {elsewhere.url}/direct refused: 127.0.0.1 is not allow-listed" in refused["GET direct"]["message"]
    assert f"request to {elsewhere.url}/go refused" in refused["GET /go"]["message"]
