"""django-q2 entry points: plain functions taking ids; the services do the work."""

from tests_app import services


def run_load_test(run_id: int) -> None:
    services.execute_run(run_id)


def reap_stale_runs() -> int:
    return services.reap_stale_runs()
