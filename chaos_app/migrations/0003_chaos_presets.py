"""Seed the chaos presets. Reversible: removes only these presets.

Each starts 10 s into a run so the steady state before it is measured. Severities map
to magnitudes in clusters.faults (latency 50/250/1000 ms, errors 5/20/50 %).
"""

from django.db import migrations

HYPOTHESIS = {"max_error_rate": 0.01, "min_availability": 0.99, "max_rto_s": 30}


def step(kind, severity="medium", duration_s=30):
    return [{"kind": kind, "target": "", "severity": severity, "start_s": 10, "duration_s": duration_s}]


PRESETS = [
    ("Latency low", "50 ms added to one pod for 30 s.", step("latency", "low")),
    ("Latency medium", "250 ms added to one pod for 30 s.", step("latency", "medium")),
    ("Latency high", "1 s added to one pod for 30 s.", step("latency", "high")),
    ("Errors 5 %", "One pod answers 5 % of requests with HTTP 500 for 30 s.", step("errors", "low")),
    ("Errors 20 %", "One pod answers 20 % of requests with HTTP 500 for 30 s.", step("errors", "medium")),
    ("Errors 50 %", "One pod answers 50 % of requests with HTTP 500 for 30 s.", step("errors", "high")),
    ("Pod kill", "One pod is killed; its ReplicaSet brings a new one.", step("pod_kill", duration_s=0)),
    ("Network partition", "One pod accepts connections but never answers, for 20 s.", step("partition", duration_s=20)),
    ("Node drain", "A node's pods are evicted and come back on another node.", step("node_drain", duration_s=30)),
]


def add_presets(apps, schema_editor):
    ChaosExperiment = apps.get_model("chaos_app", "ChaosExperiment")
    for name, description, steps in PRESETS:
        hypothesis = {**HYPOTHESIS}
        if steps[0]["kind"] == "errors":
            hypothesis.pop("max_error_rate")  # the injected errors are the point, not a failure
        ChaosExperiment.objects.update_or_create(
            owner=None, name=name, defaults={"description": description, "steps": steps, "hypothesis": hypothesis}
        )


def remove_presets(apps, schema_editor):
    apps.get_model("chaos_app", "ChaosExperiment").objects.filter(
        owner=None, name__in=[name for name, _, _ in PRESETS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("chaos_app", "0002_initial")]
    operations = [migrations.RunPython(add_presets, remove_presets)]
