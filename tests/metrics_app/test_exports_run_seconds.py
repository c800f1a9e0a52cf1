"""iter_run_seconds reads a whole run's history in chunks: every second once, in order, with its pods."""

import pytest

from metrics_app import exports
from metrics_app.selectors import iter_run_seconds, samples_since
from tests.factories import LoadTestRunFactory, MetricSampleFactory, PodSampleFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("seconds", "chunk"), [(25, 10), (20, 10), (3, 600), (0, 10)])
def test_every_second_once_in_order(seconds, chunk):
    run = LoadTestRunFactory()
    for t in range(seconds):
        MetricSampleFactory(run=run, t=float(t), requests=5)
        PodSampleFactory(run=run, t=float(t), pod="pod-0", requests=5)
    got = list(iter_run_seconds(run.pk, chunk_seconds=chunk))
    assert [s["t"] for s in got] == [float(t) for t in range(seconds)]
    assert all(s["pods"]["pod-0"]["requests"] == 5 for s in got)
    assert got == samples_since(run.pk, -1.0)


def test_a_runs_csv_from_the_database():
    run = LoadTestRunFactory()
    MetricSampleFactory(run=run, t=0.0, requests=7)
    PodSampleFactory(run=run, t=0.0, pod="pod-1", requests=4)
    PodSampleFactory(run=run, t=0.0, pod="pod-0", requests=3)
    lines = exports.samples_csv(iter_run_seconds(run.pk)).splitlines()
    assert [line.split(",")[:3] for line in lines[1:]] == [["0.0", "(total)", "7"], ["0.0", "pod-0", "3"],
                                                           ["0.0", "pod-1", "4"]]
