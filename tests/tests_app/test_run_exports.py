"""Downloads of a run: its seconds as CSV and JSON, its summary as JSON, its standalone report."""

import csv
import io
import json

import pytest
from django.urls import reverse

from metrics_app.models import MetricSample, PodSample
from tests.factories import LoadTestRunFactory

pytestmark = pytest.mark.django_db

SUMMARY = {"run_id": 0, "requests": 60, "failures": 1, "balance": {"score": 93.0, "grade": "B"}}


@pytest.fixture
def finished_run(alice):
    # a two-pod sandbox (its two pods are in every second, as the driver records them)
    run = LoadTestRunFactory(owner=alice, status="passed", summary=SUMMARY, verdict_passed=True, target__pods=2)
    for t in range(3):
        MetricSample.objects.create(run=run, t=float(t), requests=20, failures=1 if t == 1 else 0, rps=20.0, p95_ms=4.0)
        PodSample.objects.create(run=run, t=float(t), pod="pod-a", requests=12, failures=1 if t == 1 else 0)
        PodSample.objects.create(run=run, t=float(t), pod="pod-b", requests=8)
    return run


def download(client, run, name):
    response = client.get(reverse("run-export", args=[run.pk, name]))
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body.decode()


def test_samples_csv_has_a_totals_row_and_a_row_per_pod_each_second(client, alice, finished_run):
    client.force_login(alice)
    response, body = download(client, finished_run, "samples.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="lblab-run-{finished_run.pk}-samples.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 3 * 3
    pod_a = [row for row in rows if row["pod"] == "pod-a"]
    assert [int(row["requests"]) for row in pod_a] == [12, 12, 12] and pod_a[1]["failures"] == "1"


def test_samples_json_equals_the_api_samples(client, alice, api_for, finished_run):
    client.force_login(alice)
    _, body = download(client, finished_run, "samples.json")
    api = api_for(alice).get(reverse("api:run-samples", args=[finished_run.pk])).json()
    assert json.loads(body)["samples"] == api["samples"]


def test_summary_json_is_the_runs_summary(client, alice, finished_run):
    client.force_login(alice)
    _, body = download(client, finished_run, "summary.json")
    assert json.loads(body) == SUMMARY


def test_report_is_one_standalone_file_with_plotly_and_the_figures(client, alice, finished_run):
    client.force_login(alice)
    response = client.get(reverse("run-report", args=[finished_run.pk]))
    page = response.content.decode()
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    assert "plotly.js v" in page and "/static/" not in page  # no link back to the server
    figure = json.loads(page.split('<script id="pod_requests" type="application/json">')[1].split("</script>")[0])
    assert figure["figure"]["data"][0]["x"] == ["pod-a", "pod-b"] and figure["figure"]["data"][0]["y"] == [36, 24]


def test_exports_of_someone_elses_run_are_404(client, bob, finished_run):
    client.force_login(bob)
    for name in ("samples.csv", "samples.json", "summary.json"):
        assert client.get(reverse("run-export", args=[finished_run.pk, name])).status_code == 404
    assert client.get(reverse("run-report", args=[finished_run.pk])).status_code == 404


def test_unknown_export_is_404(client, alice, finished_run):
    client.force_login(alice)
    assert client.get(reverse("run-export", args=[finished_run.pk, "samples.xlsx"])).status_code == 404


TABLES = {
    "endpoints": [{"endpoint": "GET /api/items", "requests": 300, "failures": 0, "rps": 30.0, "failures_per_s": 0.0,
                   "p50_ms": 1.0, "p95_ms": 2.9, "p99_ms": 4.8, "max_ms": 9.0},
                  {"endpoint": "POST =cmd", "requests": 100, "failures": 4, "rps": 10.0, "failures_per_s": 0.4,
                   "p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}],
    "errors": [{"endpoint": "POST =cmd", "type": "HTTPError", "status": 503, "message": "Service Unavailable",
                "count": 3, "first_s": 0.5, "last_s": 9.2},
               {"endpoint": "POST =cmd", "type": "ConnectionResetError", "status": None,
                "message": "[Errno 104] Connection reset by peer", "count": 1, "first_s": 4.0, "last_s": 4.0},
               {"endpoint": "GET /api/items", "type": "ValueError", "status": None, "message": "=HYPERLINK(\"x\")",
                "count": 1, "first_s": 5.0, "last_s": 5.0}],
}


@pytest.fixture
def run_with_tables(alice):
    return LoadTestRunFactory(owner=alice, status="failed", summary={**SUMMARY, **TABLES}, verdict_passed=False)


def test_endpoints_csv_has_a_row_per_endpoint_of_the_summary(client, alice, run_with_tables):
    client.force_login(alice)
    response, body = download(client, run_with_tables, "endpoints.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="lblab-run-{run_with_tables.pk}-endpoints.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [row["endpoint"] for row in rows] == ["GET /api/items", "POST =cmd"]  # the mix's order
    assert rows[0] == {"endpoint": "GET /api/items", "requests": "300", "failures": "0", "rps": "30.0",
                       "failures_per_s": "0.0", "p50_ms": "1.0", "p95_ms": "2.9", "p99_ms": "4.8", "max_ms": "9.0"}
    assert rows[1]["p95_ms"] == ""  # not measured: empty


def test_errors_csv_has_a_row_per_failure_group(client, alice, run_with_tables):
    client.force_login(alice)
    _, body = download(client, run_with_tables, "errors.csv")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [(row["type"], row["status"], row["count"]) for row in rows] == [
        ("HTTPError", "503", "3"), ("ConnectionResetError", "", "1"), ("ValueError", "", "1")]
    assert rows[0]["message"] == "Service Unavailable" and (rows[0]["first_s"], rows[0]["last_s"]) == ("0.5", "9.2")
    assert rows[2]["message"] == "'=HYPERLINK(\"x\")"  # a message the target wrote never runs as a formula


def test_summary_json_and_the_report_hold_the_tables(client, alice, run_with_tables):
    client.force_login(alice)
    _, body = download(client, run_with_tables, "summary.json")
    assert {key: json.loads(body)[key] for key in TABLES} == TABLES
    report = client.get(reverse("run-report", args=[run_with_tables.pk])).content.decode()
    assert "<td>GET /api/items</td><td>300</td><td>0</td>" in report
    assert "[Errno 104] Connection reset by peer" in report
