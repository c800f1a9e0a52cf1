"""Reading a run's chaos: what the live protocol's `events` message, the summary and the reports show."""

from __future__ import annotations

from chaos_app.models import ChaosInjection

# The figures of an injection once the run's recovery analysis has measured them.
FIGURES = ("recovered_at_s", "rto_s", "healing_s", "balance_recovery_s", "availability", "requests_failed",
           "p95_during_ms", "p95_after_ms", "passed", "reason")


def injections(run_id: int, *, applied_only: bool = False) -> list[dict]:
    """The run's chaos steps, in the order they happened (or were planned, for a step not run)."""
    rows = ChaosInjection.objects.filter(run_id=run_id).order_by("started_at_s", "step")
    if applied_only:
        rows = rows.exclude(rollback=ChaosInjection.Rollback.NOT_RUN)
    return [
        {"id": row.pk, "step": row.step, "spec": row.spec, "kind": row.kind, "target": row.target,
         "severity": row.severity, "started_at_s": row.started_at_s, "ended_at_s": row.ended_at_s,
         **{name: getattr(row, name) for name in FIGURES},
         "rolled_back": row.rolled_back, "rollback": row.rollback, "error": row.error}
        for row in rows
    ]
