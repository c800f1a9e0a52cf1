"""Runs recorded before runs had names get one when the database is migrated: their scenario's name
(a preset's) or what a custom scenario did, on their target's name."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests_app.models import LoadTestRun

BEFORE = ("tests_app", "0007_registry_choices")


@pytest.mark.django_db(transaction=True)
def test_runs_made_before_names_are_named_by_the_migration():
    call_command("migrate", *BEFORE, verbosity=0)
    old = MigrationExecutor(connection).loader.project_state(BEFORE).apps
    owner = old.get_model("auth", "User").objects.create(username="early")
    target = old.get_model("tests_app", "Target").objects.create(owner=owner, name="lab")
    run = old.get_model("tests_app", "LoadTestRun")
    preset = run.objects.create(owner=owner, target=target, scenario_config={"name": "Spike ×3", "shape": "spike"})
    custom = run.objects.create(owner=owner, target=target,
                                scenario_config={"name": "custom", "shape": "steady", "users": 12, "duration_s": 20})
    call_command("migrate", verbosity=0)
    assert LoadTestRun.objects.get(pk=preset.pk).name == "Spike ×3 on lab"
    assert LoadTestRun.objects.get(pk=custom.pk).name == "steady · 12 users · 20 s on lab"
