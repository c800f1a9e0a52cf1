"""Comparing runs' summaries: one value per run for every figure, deltas against the first run,
verdicts that call a difference under 10 % (or under the window-to-window spread of the balance
score) noise, and notes that say so in words."""

import pytest

from metrics_app.comparison import FIGURES, figures, notes


def summary(*, rps=1000.0, p95=10.0, score=98.0, windows=(98.0, 98.0), failures=0, requests=30000, utilisation=None):
    return {
        "duration_s": 30.0, "requests": requests, "failures": failures, "rps": rps,
        "latency_ms": {"p50": 2.0, "p95": p95, "p99": 20.0, "max": 50.0},
        "pods": {"pod-0": {"requests": requests // 2}, "pod-1": {"requests": requests // 2}}, "unattributed": 0,
        "balance": {"score": score, "cv": 0.01, "jain": 0.999, "max_over_mean": 1.01, "p_value": 0.5, "grade": "A",
                    "threshold": 95.0, "balanced": True, "window_s": 10, "windows": list(windows)},
        "utilisation": {"score": utilisation} if utilisation is not None else None,
    }


def by_key(found):
    return {figure["key"]: figure for figure in found}


def test_every_summary_figure_is_compared_once_per_run():
    found = by_key(figures([summary(), summary(), summary()]))
    assert set(found) == {f.key for f in FIGURES} - {"utilisation_score"}  # no run has a CPU balance
    for figure in found.values():
        assert len(figure["values"]) == len(figure["deltas"]) == len(figure["verdicts"]) == 3
        assert figure["deltas"][0] is None and figure["verdicts"][0] is None
    assert found["rps"]["label"] == "Throughput" and found["rps"]["unit"] == "req/s" and found["rps"]["better"] == "higher"
    assert found["pods"]["values"] == [2, 2, 2]


def test_derived_figures():
    found = by_key(figures([summary(failures=300, requests=30000), summary(utilisation=80.0)]))
    assert found["error_rate"]["values"] == [pytest.approx(1.0), 0.0]
    assert found["utilisation_score"]["values"] == [None, 80.0]


@pytest.mark.parametrize(
    ("first", "other", "verdict"),
    [
        ({"rps": 1000.0}, {"rps": 1300.0}, "better"),
        ({"rps": 1000.0}, {"rps": 700.0}, "worse"),
        ({"rps": 1000.0}, {"rps": 1090.0}, "within noise"),
        ({"rps": 1000.0}, {"rps": 1000.0}, "same"),
        ({"p95": 10.0}, {"p95": 8.0}, "better"),
        ({"p95": 10.0}, {"p95": 12.0}, "worse"),
        ({"p95": 10.0}, {"p95": 9.5}, "within noise"),
    ],
)
def test_verdict_follows_the_direction_and_the_ten_percent_noise(first, other, verdict):
    found = by_key(figures([summary(**first), summary(**other)]))
    key = "rps" if "rps" in first else "p95_ms"
    assert found[key]["verdicts"] == [None, verdict]


def test_deltas_are_absolute_and_relative_to_the_first_run():
    found = by_key(figures([summary(rps=1000.0), summary(rps=1250.0), summary(rps=800.0)]))
    assert found["rps"]["deltas"] == [None, 250.0, -200.0]
    assert found["rps"]["delta_pct"] == [None, pytest.approx(25.0), pytest.approx(-20.0)]


def test_failures_from_none_is_worse_not_noise():
    found = by_key(figures([summary(failures=0), summary(failures=3)]))
    assert found["failures"]["verdicts"] == [None, "worse"]
    assert found["failures"]["delta_pct"] == [None, None]  # no relative change from 0


def test_neutral_figures_get_no_better_or_worse():
    first, longer = summary(), summary()
    longer["duration_s"] = 60.0
    found = by_key(figures([first, longer]))
    assert found["duration_s"]["better"] is None and found["duration_s"]["verdicts"] == [None, None]


def test_balance_score_within_the_window_spread_is_noise():
    steady = summary(score=90.0, windows=(90.0, 90.0, 90.0))
    noisy = summary(score=80.0, windows=(60.0, 95.0, 70.0, 98.0))  # std ~16 points
    found = by_key(figures([steady, noisy]))
    assert found["balance_score"]["verdicts"] == [None, "within noise"]
    said = " ".join(notes(runs([steady, noisy]), figures([steady, noisy])))
    assert "window-to-window spread" in said and "10.0 points" in said


def test_balance_score_beyond_both_bands_is_worse():
    found = by_key(figures([summary(score=98.0, windows=(97.0, 99.0)), summary(score=60.0, windows=(59.0, 61.0))]))
    assert found["balance_score"]["verdicts"] == [None, "worse"]


def test_missing_summary_gives_missing_values():
    found = by_key(figures([summary(), {}]))
    assert found["rps"]["values"] == [1000.0, None] and found["rps"]["verdicts"] == [None, None]


def runs(summaries, **overrides):
    return [{"id": index + 1, "status": "passed", "target": {"name": "shop"}, "scenario": {"name": "steady"},
             "summary": s, "threshold": 95.0, **overrides} for index, s in enumerate(summaries)]


def test_notes_say_what_is_better_worse_and_noise():
    summaries = [summary(rps=1000.0, p95=10.0), summary(rps=1500.0, p95=10.4)]
    said = notes(runs(summaries), figures(summaries))
    assert "#2 against #1: better on throughput (+50.0 %)." in said
    noise = next(sentence for sentence in said if "less than 10 %" in sentence)
    assert "latency p95" in noise


def test_notes_point_out_different_setups_and_unfinished_runs():
    summaries = [summary(), summary(), {}]
    described = runs(summaries)
    described[1]["target"] = {"name": "cart"}
    described[1]["threshold"] = 90.0
    described[2]["status"] = "queued"
    said = " ".join(notes(described, figures(summaries)))
    assert "different targets (shop, cart)" in said
    assert "different balance thresholds (95 %, 90 %)" in said
    assert "#3 has no summary yet (status queued)" in said


def test_notes_say_when_nothing_differs():
    said = notes(runs([summary(), summary()]), figures([summary(), summary()]))
    assert said == ["Nothing is better or worse than in #1 beyond noise."]


def test_notes_name_differences_that_are_neither_better_nor_worse():
    longer = summary()
    longer["duration_s"] = 60.0
    said = notes(runs([summary(), longer]), figures([summary(), longer]))
    assert "#2 against #1: different duration (+100.0 %)." in said
