"""Runs get a name. Runs made before it are named as new ones are by default: their scenario's name
(or, for a custom scenario, its shape, users and duration) on their target's name."""

from django.db import migrations, models

BATCH = 500


def _title(config: dict) -> str:
    # A copy of what ScenarioSpec.title said when this migration was written (a migration keeps its own).
    name = config.get("name") or "custom"
    if name != "custom":
        return name
    return f"{config.get('shape', 'steady')} · {config.get('users', 10)} users · {config.get('duration_s', 30)} s"


def name_runs(apps, schema_editor):
    LoadTestRun = apps.get_model("tests_app", "LoadTestRun")
    named = []
    for run in LoadTestRun.objects.filter(name="").select_related("target").iterator(chunk_size=BATCH):
        config = run.scenario_config if isinstance(run.scenario_config, dict) else {}
        run.name = f"{_title(config)} on {run.target.name}"[:200]
        named.append(run)
        if len(named) == BATCH:
            LoadTestRun.objects.bulk_update(named, ["name"])
            named = []
    LoadTestRun.objects.bulk_update(named, ["name"])


class Migration(migrations.Migration):

    dependencies = [
        ('tests_app', '0007_registry_choices'),
    ]

    operations = [
        migrations.AddField(
            model_name='loadtestrun',
            name='name',
            field=models.CharField(blank=True, db_default='', default='', help_text='Empty: named after its scenario and target.', max_length=200),
        ),
        migrations.RunPython(name_runs, migrations.RunPython.noop),
    ]
