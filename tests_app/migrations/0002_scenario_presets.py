"""Seed the four scenario presets. Reversible: removes only these presets."""

from django.db import migrations

THRESHOLDS = {"threshold_balance": 95.0, "threshold_p95_ms": 250.0, "threshold_error_rate": 0.01}

PRESETS = [
    {
        "name": "High traffic",
        "description": "Steady heavy load: 200 users for two minutes. Does the balancer stay fair when busy?",
        "shape": "steady", "users": 200, "spawn_rate": 50.0, "duration_s": 120,
    },
    {
        "name": "Spike ×3",
        "description": "50 users, then three times as many for 30 s from t=30 s, then back. Watch balance and p95 through the spike.",
        "shape": "spike", "users": 50, "spawn_rate": 100.0, "duration_s": 120,
        "spike_factor": 3.0, "spike_at_s": 30, "spike_length_s": 30,
    },
    {
        "name": "Sustained",
        "description": "A 30-minute plateau of 100 users: slow drifts, leaks and imbalance that builds over time.",
        "shape": "sustained", "users": 100, "spawn_rate": 20.0, "duration_s": 1800,
    },
    {
        "name": "Gradual ramp",
        "description": "From 0 to 200 users over five minutes: where does the spread start to fail?",
        "shape": "ramp", "users": 200, "spawn_rate": 1.0, "duration_s": 300,
    },
]


def add_presets(apps, schema_editor):
    Scenario = apps.get_model("tests_app", "Scenario")
    for preset in PRESETS:
        Scenario.objects.update_or_create(
            owner=None, name=preset["name"],
            defaults={**THRESHOLDS, "request_mix": [{"path": "/", "method": "GET", "weight": 1}], **preset},
        )


def remove_presets(apps, schema_editor):
    Scenario = apps.get_model("tests_app", "Scenario")
    Scenario.objects.filter(owner=None, name__in=[p["name"] for p in PRESETS]).delete()


class Migration(migrations.Migration):
    dependencies = [("tests_app", "0001_initial")]
    operations = [migrations.RunPython(add_presets, remove_presets)]
