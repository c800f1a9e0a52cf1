"""Of a user's own locustfile, only the user classes named run (all when none is named), with one
Locust process and with workers; each request is counted for the pod that answered it."""

import textwrap

import pytest

from tests_app.engine.testing import PodEchoServer, base_config, run_to_end

FILE = '''
    from locust import FastHttpUser, HttpUser, constant, task


    class Shopper(HttpUser):
        wait_time = constant(0.01)

        @task
        def home(self):
            self.client.get("/")


    class Admin(FastHttpUser):
        wait_time = constant(0.01)

        @task
        def report(self):
            self.client.get("/admin/report")
'''


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("named", "workers", "endpoints"), [
    (["Admin"], 1, {"GET /admin/report"}),
    (["Admin"], 2, {"GET /admin/report"}),
    ([], 1, {"GET /", "GET /admin/report"}),
])
def test_only_the_named_user_classes_run(tmp_path, named, workers, endpoints):
    path = tmp_path / "two_users.py"
    path.write_text(textwrap.dedent(FILE))
    with PodEchoServer(["pod-a", "pod-b"]) as target:
        result = run_to_end(base_config(target.url, users=4, duration_s=2, expected_pods=["pod-a", "pod-b"],
                                        locustfile={"path": str(path), "user_classes": named, "shape": None}),
                            workers=workers)
    final = result.final
    assert final is not None, result.log
    assert {row["endpoint"] for row in final["endpoints"]} == endpoints
    assert {path for _method, path in target.requests} == {endpoint.split(" ", 1)[1] for endpoint in endpoints}
    assert {name: pod["requests"] for name, pod in final["pods"].items()} == target.served
    assert final["unattributed"] == 0 and final["failures"] == 0
