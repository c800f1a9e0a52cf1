"""Production mode refuses to start half-configured and passes `check --deploy`."""

import re
import subprocess

import pytest

from lbsite.env import DEV_SECRET_KEY, secret_key
from tests.conftest import PYTHON, REPO

STRONG_KEY = "k3y-" + "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMN"
# The only warnings left without LBLAB_HTTPS: each is about HTTPS, documented in the README.
HTTPS_ONLY_WARNINGS = {"security.W004", "security.W008", "security.W012", "security.W016"}


def run_manage(*args, **env):
    base = {"PATH": "/usr/bin:/bin", "DEBUG": "off"}
    return subprocess.run(
        [PYTHON, "manage.py", *args], cwd=REPO, capture_output=True, text=True, timeout=120, env={**base, **env}
    )


def test_refuses_to_start_without_secret_key():
    result = run_manage("check", ALLOWED_HOSTS="lblab.example.test")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_refuses_to_start_without_allowed_hosts():
    result = run_manage("check", SECRET_KEY=STRONG_KEY)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must be set when DEBUG is off" in result.stderr


@pytest.mark.parametrize(("https", "expected"), [("off", HTTPS_ONLY_WARNINGS), ("on", set())])
def test_check_deploy_leaves_only_https_warnings(https, expected):
    result = run_manage(
        "check", "--deploy", SECRET_KEY=STRONG_KEY, ALLOWED_HOSTS="lblab.example.test", LBLAB_HTTPS=https
    )
    output = result.stdout + result.stderr
    found = set(re.findall(r"\((security\.[WE]\d+)\)", output))
    assert found == expected, output


@pytest.mark.parametrize(
    ("key", "reason"),
    [("short-key-0123456789", "SECRET_KEY is too short or too plain"),
     ("a" * 60, "SECRET_KEY is too short or too plain"),
     ("dev-only-insecure-key-do-not-use-in-production", "SECRET_KEY is a known default"),
     ("django-insecure-" + "x1y2z3" * 10, "SECRET_KEY is a known default"),
     ("build-only", "SECRET_KEY is a known default")],
)
def test_refuses_to_start_with_a_short_or_known_secret_key(key, reason):
    result = run_manage("check", SECRET_KEY=key, ALLOWED_HOSTS="lblab.example.test")
    assert result.returncode != 0
    assert reason in result.stderr


def test_debug_keeps_its_development_key():
    assert secret_key(None, debug=True) == DEV_SECRET_KEY
    assert secret_key(STRONG_KEY, debug=False) == STRONG_KEY


def test_behind_tls_probes_and_scrapes_are_answered_over_plain_http_and_pages_redirected():
    """Kubernetes' probes and Prometheus (k8s/monitoring) ask the pod over plain HTTP, with no
    X-Forwarded-Proto: /healthz and /metrics answer them; everything else goes to HTTPS."""
    code = ("from django.http import HttpResponse; from django.middleware.security import SecurityMiddleware; "
            "from django.test import RequestFactory; middleware = SecurityMiddleware(lambda request: HttpResponse()); "
            "print(*[middleware(RequestFactory().get(path, HTTP_HOST='10.244.1.17')).status_code "
            "for path in ('/healthz', '/metrics', '/', '/api/runs/', '/healthz/x')])")
    result = run_manage("shell", "--verbosity", "0", "-c", code,
                        SECRET_KEY=STRONG_KEY, ALLOWED_HOSTS="10.244.1.17", LBLAB_HTTPS="on")
    assert result.stdout.split() == ["200", "200", "301", "301", "301"], result.stderr[-2000:]
