"""PostgreSQL reads a run's pods one row per second (names joined, counts packed); every other
database reads a row per pod. Both must give the same cells, so SQLite's comparisons equal
PostgreSQL's."""

import numpy as np
import pytest

from metrics_app.selectors import _pod_cells_grouped, _pod_cells_rows
from tests.factories import LoadTestRunFactory, MetricSampleFactory, PodSampleFactory

pytestmark = [pytest.mark.django_db, pytest.mark.needs_postgresql]


def test_grouped_read_equals_the_row_read():
    run = LoadTestRunFactory()
    for t in range(4):
        MetricSampleFactory(run=run, t=float(t))
        for slot in range(3 if t != 2 else 2):  # a pod missing from one second
            PodSampleFactory(run=run, t=float(t), pod=f"pod-{slot}", requests=10 * t + slot)
    grouped, rows = _pod_cells_grouped(run.pk), _pod_cells_rows(run.pk)
    for left, right in zip(grouped[:3], rows[:3], strict=True):
        np.testing.assert_array_equal(left, right)
    assert grouped[3] == rows[3] == ["pod-0", "pod-1", "pod-2"]


def test_a_pod_name_holding_the_separator_falls_back_to_rows():
    run = LoadTestRunFactory()
    MetricSampleFactory(run=run, t=0.0)
    PodSampleFactory(run=run, t=0.0, pod="pod\x1fodd", requests=3)
    PodSampleFactory(run=run, t=0.0, pod="pod-1", requests=4)
    assert _pod_cells_grouped(run.pk) is None
