"""Claiming a run is once only, on SQLite as on PostgreSQL: `select_for_update` locks the row on
PostgreSQL and is a no-op on SQLite, where IMMEDIATE transactions (lbsite.env) serialise the
claims instead. Several workers claiming the same run at the same moment: one wins, none errs."""

import threading

import pytest
from django.db import connection

from tests.factories import LoadTestRunFactory
from tests_app import services
from tests_app.models import LoadTestRun

pytestmark = pytest.mark.django_db(transaction=True)

CLAIMERS = 6


def test_concurrent_claims_take_the_run_once_without_errors():
    run = LoadTestRunFactory()
    barrier = threading.Barrier(CLAIMERS)
    won, failed = [], []

    def claim():
        try:
            barrier.wait()
            if services.claim_run(run.pk) is not None:
                won.append(True)
        except Exception as error:  # "database is locked" would land here
            failed.append(f"{type(error).__name__}: {error}")
        finally:
            connection.close()  # each thread's own connection

    threads = [threading.Thread(target=claim) for _ in range(CLAIMERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failed == []
    assert len(won) == 1
    run.refresh_from_db()
    # the claims that came second saw attempt 1: a re-delivery, which ends the run as lost
    assert run.attempt == 1
    assert run.status == LoadTestRun.Status.ERROR and run.error.startswith("worker lost")
