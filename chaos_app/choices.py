"""chaos_app's choices, one class per field vocabulary, in one place (as NetBox keeps `choices.py`).

Fault kinds and severities come from the registry in the pure layer (clusters.faults) and are
read when Django asks for them: models get `choices=<X>Choices.choices`, a callable Django
evaluates lazily, so a newly registered kind is a choice at once. The database's check
constraints freeze the names at migration time: a new kind needs a migration.
"""

from __future__ import annotations

from django.db import models

from clusters.faults import DEFAULT_SEVERITY, FAULT_KINDS, SEVERITIES


class FaultKindChoices:
    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        return [(name, kind.label) for name, kind in FAULT_KINDS.items()]

    @classmethod
    def values(cls) -> list[str]:
        return list(FAULT_KINDS)


class SeverityChoices:
    DEFAULT = DEFAULT_SEVERITY

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        return [(severity, severity.capitalize()) for severity in SEVERITIES]

    @classmethod
    def values(cls) -> list[str]:
        return list(SEVERITIES)


class RollbackChoices(models.TextChoices):
    PENDING = "pending", "Pending"
    ROLLED_BACK = "rolled_back", "Rolled back"
    FAILED = "failed", "Rollback failed"
    NOT_RUN = "not_run", "Not run"  # never applied: steady state broken, aborted, or the load ended first
