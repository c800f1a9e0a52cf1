"""The live `status` message says when the run started, in the zone the pages show and to the
millisecond: the live page shows it and puts its charts on that clock, as the report does."""

from datetime import UTC, datetime

import pytest

from metrics_app.figures import wall_clock_ms
from tests.factories import LoadTestRunFactory
from tests.tests_app.live_stream_support import write_second
from tests_app.selectors import report_figures, run_status_message

pytestmark = pytest.mark.django_db


def test_started_at_is_the_pages_local_time_with_its_offset(settings):
    settings.TIME_ZONE = "Europe/Paris"
    run = LoadTestRunFactory(status="running", started_at=datetime(2025, 3, 4, 12, 30, 15, 250_999, tzinfo=UTC))
    assert run_status_message(run)["started_at"] == "2025-03-04T13:30:15.250+01:00"
    queued = LoadTestRunFactory(status="queued")
    assert run_status_message(queued)["started_at"] is None


def test_the_report_is_on_the_same_clock_as_the_page(settings):
    settings.TIME_ZONE = "Europe/Paris"
    run = LoadTestRunFactory(status="passed", started_at=datetime(2025, 3, 4, 12, 30, 15, 250_999, tzinfo=UTC))
    write_second(run, 1.0, {"pod-a": 5, "pod-b": 5})
    write_second(run, 2.0, {"pod-a": 5, "pod-b": 5})
    throughput = report_figures(run)["throughput"]
    origin = wall_clock_ms(datetime(2025, 3, 4, 13, 30, 15, 250_000))  # what the page computes from started_at
    assert throughput["data"][0]["x"] == [origin + 1000, origin + 2000]
    assert throughput["layout"]["xaxis"]["type"] == "date"
