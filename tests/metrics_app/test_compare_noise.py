"""What compare calls a difference: tiny values by absolute differences (two even runs are not
"-100 % better"), and runs that sent other load are not comparable on the figures that depend on
it, whatever their scenarios are named."""

import pytest

from metrics_app.comparison import figures, notes
from metrics_app.figures import compare_figures


def summary(**balance) -> dict:
    return {"requests": 3000, "failures": 0, "rps": 100.0, "latency_ms": {"p50": 1.0, "p95": 3.0},
            "balance": {"score": 99.5, "cv": 0.004, "jain": 0.99998, "max_over_mean": 1.01, **balance}}


def by_key(found) -> dict:
    return {figure["key"]: figure for figure in found}


def test_a_tiny_cv_going_to_zero_is_unchanged_not_better():
    found = by_key(figures([summary(cv=0.0), summary(cv=0.004)]))
    assert found["cv"]["verdicts"] == [None, "within noise"]
    assert found["cv"]["delta_pct"] == [None, None]  # no percentage of a value within the noise floor


def test_a_real_change_of_a_small_figure_still_counts():
    found = by_key(figures([summary(cv=0.004), summary(cv=0.2)]))
    assert found["cv"]["verdicts"] == [None, "worse"]


@pytest.mark.parametrize(("change", "what"), [
    ({"users": 50}, "users 10 vs 50"), ({"shape": "spike"}, "shape steady vs spike"),
    ({"duration_s": 60}, "duration 30 vs 60"), ({"arrival_rate": 200.0}, "arrival rate None vs 200.0"),
])
def test_other_load_is_not_comparable_on_the_figures_that_depend_on_it(change, what):
    base = {"name": "same name", "shape": "steady", "users": 10, "duration_s": 30, "arrival_rate": None}
    scenarios = [base, {**base, **change}]
    found = by_key(figures([summary(), {**summary(score=80.0), "rps": 300.0}], scenarios))
    assert found["rps"]["verdicts"] == [None, "not comparable"]
    assert found["balance_score"]["verdicts"] == [None, "worse"]  # the balance is still judged
    runs = [{"id": 1, "scenario": scenarios[0], "summary": summary()}, {"id": 2, "scenario": scenarios[1],
                                                                          "summary": summary()}]
    assert any(what in note and "not comparable" in note for note in notes(runs, list(found.values())))


def test_the_spread_chart_says_what_it_plots_and_the_legend_is_under_it():
    series = {"1": {"t": [0.0], "rps": [1.0], "p95_ms": [1.0], "score": [100.0], "pod_spread": [1.0]}}
    spread = compare_figures(series, {"1": "#1 a long label of a run"}, threshold=95.0)["pod_spread"]
    assert "max / mean" in spread["layout"]["yaxis"]["title"]["text"]
    for figure in compare_figures(series, {"1": "#1"}, threshold=95.0).values():
        assert figure["layout"]["legend"]["y"] < 0  # under the plot, never over the title
