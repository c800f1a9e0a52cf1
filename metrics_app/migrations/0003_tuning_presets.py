"""Seed a tuning policy users can pick at once; more are added in the admin."""

from django.db import migrations

PRESETS = [
    {
        "name": "Keep balance ≥ 95 %",
        "description": "Switch algorithm or weights when the 10 s balance score stays under 95 %; wait 15 s between changes.",
        "target_score": 95.0, "window_s": 10, "cooldown_s": 15,
        "allowed_actions": ["set_algorithm", "set_weights"],
        "algorithms": ["least_conn", "p2c", "ewma", "round_robin"],
        "min_replicas": 1, "max_replicas": 10, "max_weight": 10.0,
    },
    {
        "name": "Scale out to keep balance",
        "description": "Like the first, and may also add replicas (up to 10) when pods are saturated.",
        "target_score": 95.0, "window_s": 10, "cooldown_s": 30,
        "allowed_actions": ["set_algorithm", "set_weights", "scale"],
        "algorithms": ["least_conn", "p2c", "ewma", "round_robin"],
        "min_replicas": 2, "max_replicas": 10, "max_weight": 10.0,
    },
]


def add_presets(apps, schema_editor):
    TuningPolicy = apps.get_model("metrics_app", "TuningPolicy")
    for preset in PRESETS:
        TuningPolicy.objects.update_or_create(name=preset["name"], defaults=preset)


def remove_presets(apps, schema_editor):
    apps.get_model("metrics_app", "TuningPolicy").objects.filter(name__in=[p["name"] for p in PRESETS]).delete()


class Migration(migrations.Migration):
    dependencies = [("metrics_app", "0002_initial")]
    operations = [migrations.RunPython(add_presets, remove_presets)]
