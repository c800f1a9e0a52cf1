"""A Content-Security-Policy on every response, and every page working under it in Chromium with
no console error and no violation: the runs list, a live run page with its Plotly charts, the
compare page, the forms, the target pages, the admin, the Swagger UI and the login page."""

from pathlib import Path

import plotly
import pytest
from django.urls import reverse

from metrics_app.models import MetricSample, PodSample
from tests.conftest import log_in
from tests.factories import LoadTestRunFactory, TargetFactory, UserFactory
from tests_app.engine.testing import LoopbackHTTPServer, QuietHandler

PASSWORD = "a-long-browser-password"
# Collected before any script of the page runs: every violation the browser reports.
CSP_WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
  (event) => window.__violations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`));
"""


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/login/", "/api/schema/", "/static/js/live_run.js", "/nowhere/"])
def test_every_response_has_the_policy(path, client, settings):
    assert client.get(path)["Content-Security-Policy"] == settings.LBLAB_CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in settings.LBLAB_CONTENT_SECURITY_POLICY  # no inline script, no eval


def finished_run(owner, target):
    run = LoadTestRunFactory(owner=owner, target=target, status="passed", verdict_passed=True,
                             summary={"requests": 60, "failures": 0, "balance": {"score": 99.0, "grade": "A"}})
    for t in range(1, 6):
        MetricSample.objects.create(run=run, t=float(t), users=2, requests=12, rps=12.0, p50_ms=1.0, p95_ms=2.0)
        PodSample.objects.bulk_create([PodSample(run=run, t=float(t), pod="pod-0", requests=6),
                                       PodSample(run=run, t=float(t), pod='<a href="https://evil.test/">x</a>',
                                                 requests=6)])
    return run


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_every_page_works_under_the_policy_in_chromium(start_site, browser, transactional_db):
    admin = UserFactory(username="operator", is_staff=True, is_superuser=True)
    admin.set_password(PASSWORD)
    admin.save()
    target = TargetFactory(owner=admin, name="lab", pods=2)
    first, second = finished_run(admin, target), finished_run(admin, target)
    site = start_site(REDIS_URL=None)
    page = browser.page
    page.add_init_script(CSP_WATCH)
    log_in(page, site.url, "operator", password=PASSWORD)
    pages = ["/", reverse("run-new"), reverse("run-detail", args=[first.pk]), f"/runs/compare/?ids={first.pk},{second.pk}",
             reverse("targets"), reverse("target-new"), reverse("target-edit", args=[target.pk]),
             reverse("target-delete", args=[target.pk]), "/admin/", "/admin/tests_app/loadtestrun/",
             f"/admin/tests_app/loadtestrun/{first.pk}/change/", "/admin/tests_app/target/add/", reverse("api:docs")]
    for path in pages:
        response = page.goto(site.url + path)
        assert response.headers["content-security-policy"].startswith("default-src 'self'"), path
        page.wait_for_load_state("networkidle")
        if path.startswith("/runs/") and "compare" in path:
            page.wait_for_selector("[data-plotted=true]")
        elif path == reverse("run-detail", args=[first.pk]):
            page.wait_for_function("() => Number(document.querySelector('#run-live').dataset.samples) === 5")
        elif path == reverse("api:docs"):
            page.wait_for_selector(".swagger-ui .opblock")
        assert page.evaluate("() => window.__violations") == [], path
    assert page.locator("svg a").count() == 0  # no target's link either
    assert browser.console_problems == []


PLOTLY_CSS = Path(__file__).resolve().parents[2] / "static" / "css" / "plotly.css"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


@pytest.mark.browser
def test_the_plotly_css_file_holds_the_rules_plotly_js_would_insert(browser):
    """plotly.js skips its own <style> for the file's <link>: the file must be what it would insert
    (this fails when the pinned plotly brings other rules: write them there, in this order)."""
    files = {"/": ("text/html", b'<!doctype html><html><head><script src="/plotly.js"></script></head><body>'
                                b'<div id="a"></div><script src="/draw.js"></script></body></html>'),
             "/plotly.js": ("text/javascript", PLOTLY_JS.read_bytes()),
             "/draw.js": ("text/javascript", b"Plotly.newPlot('a', [{x: [1, 2], y: [1, 2]}], {}, {});")}

    class Files(QuietHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            content_type, body = files.get(self.path, ("text/plain", b""))
            self.send_response(200 if self.path in files else 404)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with LoopbackHTTPServer(Files) as server:
        browser.page.goto(server.url + "/")
        browser.page.wait_for_selector("#a .main-svg")
        inserted = browser.page.evaluate(
            "() => [...document.getElementById('plotly.js-style-global').sheet.cssRules].map((rule) => rule.cssText)")
    written = [line for line in PLOTLY_CSS.read_text().splitlines() if line and not line.startswith(("/*", "   "))]
    assert written == inserted
