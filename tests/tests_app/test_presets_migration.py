"""The presets migration seeds scenarios, chaos experiments and tuning policies, all valid."""

import pytest
from django.core.management import call_command

from chaos_app.models import ChaosExperiment
from metrics_app.models import TuningPolicy
from tests_app.models import Scenario

pytestmark = pytest.mark.django_db


def test_scenario_presets_are_seeded_and_valid():
    presets = {s.name: s for s in Scenario.objects.filter(owner=None)}
    assert set(presets) >= {"High traffic", "Spike ×3", "Sustained", "Gradual ramp"}
    assert presets["Spike ×3"].shape == "spike" and presets["Spike ×3"].spike_factor == 3.0
    assert presets["Gradual ramp"].shape == "ramp"
    assert presets["Sustained"].shape == "sustained"
    for preset in presets.values():
        preset.full_clean()


def test_chaos_presets_are_seeded_and_valid():
    presets = {e.name: e for e in ChaosExperiment.objects.filter(owner=None)}
    expected = {"Latency low", "Latency medium", "Latency high", "Errors 5 %", "Errors 20 %", "Errors 50 %",
                "Pod kill", "Network partition", "Node drain"}
    assert expected <= set(presets)
    assert [presets[f"Latency {s}"].steps[0]["severity"] for s in ("low", "medium", "high")] == ["low", "medium", "high"]
    assert presets["Pod kill"].steps[0]["kind"] == "pod_kill"
    for preset in presets.values():
        preset.full_clean()


def test_tuning_presets_are_valid():
    policies = list(TuningPolicy.objects.all())
    assert policies
    for policy in policies:
        policy.full_clean()


@pytest.mark.django_db(transaction=True)
def test_presets_migration_reverses_and_reapplies():
    call_command("migrate", "tests_app", "0001", verbosity=0)
    call_command("migrate", "chaos_app", "0002", verbosity=0)
    assert not Scenario.objects.filter(owner=None).exists()
    assert not ChaosExperiment.objects.filter(owner=None).exists()
    call_command("migrate", verbosity=0)
    assert Scenario.objects.filter(owner=None).count() == 4
    assert ChaosExperiment.objects.filter(owner=None).count() == 9
