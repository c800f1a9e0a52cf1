"""Fixtures of the load test tests: the operator's registry of locustfiles, and each sandbox pod's
own request counter over a run."""

from __future__ import annotations

import pytest

from tests.tests_app.locustfile_support import SHOP, SHOP_AND_ADMIN, STEPS, write
from tests_app import run_listeners
from tests_app.engine.testing import delta, pod_requests


@pytest.fixture
def registry(tmp_path, settings):
    """The operator's directory of locustfiles (LBLAB_LOCUSTFILES_DIR) with `shop.py` (Shopper and
    Admin) and `steps.py` (Shopper driven by its LoadTestShape TwoSteps), and a file outside it."""
    directory = tmp_path / "locustfiles"
    directory.mkdir()
    write(directory, "shop.py", SHOP_AND_ADMIN)
    write(directory, "steps.py", STEPS)
    write(tmp_path, "outside.py", SHOP)
    settings.LBLAB_LOCUSTFILES_DIR = str(directory.resolve())
    return directory


@pytest.fixture
def served(monkeypatch):
    """Each sandbox pod's own request counter (its /metrics) over the run, read by a listener at the
    run's start and once the load is over (the sandbox is still up then)."""
    counts = {}

    def attach(events):
        events.start.add_listener(lambda ctx: counts.update(before=pod_requests(ctx.cluster)))
        events.stop.add_listener(lambda ctx: counts.update(after=pod_requests(ctx.cluster)))

    monkeypatch.setattr(run_listeners, "EVERY_RUN", (*run_listeners.EVERY_RUN, attach))
    return lambda: delta(counts["before"], counts["after"])
