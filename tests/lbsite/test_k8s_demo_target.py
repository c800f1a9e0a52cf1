"""k8s/demo, the target to try LB Lab on in a cluster: rendered by the real kustomize, valid for the
Kubernetes schemas, and its nginx configuration run by Debian's real nginx with the pod name the
Downward API would give: every answer carries it in `X-Pod`, which LB Lab's header mode reads."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request

import pytest

from clusters import procs
from tests import kustomize

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def rendered() -> list[dict]:
    return kustomize.rendered("demo")


def test_the_demo_renders_valid_objects_whose_pods_name_themselves():
    docs = rendered()
    for doc in docs:
        kustomize.validate(doc)
    deployment = next(doc for doc in docs if doc["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    [pod_name] = [env for env in container["env"] if env["name"] == "POD_NAME"]
    assert pod_name["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert deployment["spec"]["replicas"] >= 2
    service = next(doc for doc in docs if doc["kind"] == "Service")
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


@pytest.mark.timeout(60)
def test_its_nginx_config_answers_with_the_pod_name_in_x_pod(tmp_path):
    docs = rendered()
    config_map = next(doc for doc in docs if doc["kind"] == "ConfigMap")
    template = config_map["data"]["default.conf.template"]
    port = procs.free_port()
    # what the nginx image's entrypoint does with /etc/nginx/templates: envsubst of the pod's variables
    server = template.replace("${POD_NAME}", "echo-7d4b9-x2kq").replace("listen 8080;", f"listen 127.0.0.1:{port};")
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n access_log off;\n client_body_temp_path {tmp_path};\n{server}\n}}\n")
    nginx = procs.start([NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"],
                        stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/items/42", timeout=2) as response:
                    break
            except OSError:
                assert nginx.poll() is None and time.monotonic() < deadline, nginx.stderr.read().decode()
                time.sleep(0.1)
        assert response.status == 200
        assert response.headers["X-Pod"] == "echo-7d4b9-x2kq"
    finally:
        procs.stop(nginx, grace_s=5)
