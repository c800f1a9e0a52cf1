"""The utilisation view's prediction is the score a window will show, not the simulator's
noise-free one: the pods' shares move from second to second, which only adds to their spread, so
the predicted spread gets the seconds' variance divided by the window's length (issue 18)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from clusters.balance import expected_window_cv, score_of_cv, utilisation_balance
from clusters.tuning.rank import predict
from clusters.tuning.state import TargetState
from clusters.tuning.window import Observed, fold

PODS = ("pod-0", "pod-1", "pod-2", "pod-3")


def _window(in_flight_per_second: list[dict[str, float]], requests: int = 300, users: int = 32):
    seconds = []
    for t, in_flight in enumerate(in_flight_per_second, start=1):
        pods = {pod: {"requests": requests, "failures": 0, "p95_ms": 12.0, "cpu": None, "ready": True,
                      "in_flight": in_flight[pod], "queued": 0.0} for pod in in_flight}
        seconds.append(Observed(float(t), {"users": users, "rps": float(requests * len(pods)), "p95_ms": 12.0}, pods))
    return fold(seconds)


def test_identical_pods_are_expected_to_show_the_noise_of_their_window():
    # no spread in the long run: all that is left is each pod's share noise over the window
    assert expected_window_cv(dict.fromkeys(PODS, 3.0), dict.fromkeys(PODS, 0.0064), 4) == pytest.approx(0.04)
    assert expected_window_cv(dict.fromkeys(PODS, 3.0), dict.fromkeys(PODS, 0.0064), 16) == pytest.approx(0.02)
    assert expected_window_cv(dict.fromkeys(PODS, 3.0), {}, 4) == 0.0  # no noise known: the CV itself


def test_noise_adds_to_the_spread_in_quadrature():
    values = {"pod-0": 2.0, "pod-1": 3.0, "pod-2": 4.0}
    cv = utilisation_balance(values).cv
    noisy = expected_window_cv(values, {"pod-0": 0.01, "pod-1": 0.01}, 5)  # pod-2 taken at their mean
    assert noisy == pytest.approx(math.sqrt(cv ** 2 + 0.01 * (4 + 9 + 16) / 3 / (5 * 9.0)))
    assert noisy > cv


def test_expected_cv_matches_simulated_windows():
    # pods whose shares wobble independently each second (5 % relative), observed over 4 s windows:
    # the mean observed CV^2 over many windows is what the formula expects
    rng = np.random.default_rng(1)
    long_run = np.array([3.0, 3.0, 3.0, 3.6])
    rel_sd = 0.05
    observed = []
    for _ in range(20_000):
        seconds = long_run * (1 + rel_sd * rng.standard_normal((4, 4)))
        shares = seconds / seconds.sum(axis=1, keepdims=True)
        window = shares.mean(axis=0)
        observed.append(window.var() / window.mean() ** 2)
    # the shares' own second-to-second relative variance, measured as the window measures it
    many = long_run * (1 + rel_sd * rng.standard_normal((20_000, 4)))
    many_shares = many / many.sum(axis=1, keepdims=True)
    rel_var = dict(zip(PODS, many_shares.var(axis=0, ddof=1) / many_shares.mean(axis=0) ** 2, strict=True))
    expected = expected_window_cv(dict(zip(PODS, long_run, strict=True)), rel_var, 4) ** 2
    assert np.mean(observed) == pytest.approx(expected, rel=0.03)
    # and the noise-free CV alone is under it: the bias the prediction had
    assert utilisation_balance(dict(zip(PODS, long_run, strict=True))).cv ** 2 < np.mean(observed) / 1.05


def test_share_noise_ignores_what_moves_every_pod_alike():
    # every pod holds twice as much in the second second: no pod's share moved
    calm = _window([dict.fromkeys(PODS, 3.0), dict.fromkeys(PODS, 6.0), dict.fromkeys(PODS, 3.0)])
    assert calm.utilisation_rel_var() == pytest.approx(dict.fromkeys(PODS, 0.0))
    # one pod's share moves: it shows, the others' move with it (their shares fall as it rises)
    wobbly = _window([{**dict.fromkeys(PODS, 3.0), "pod-0": 2.7}, {**dict.fromkeys(PODS, 3.0), "pod-0": 3.3}])
    noise = wobbly.utilisation_rel_var()
    assert noise["pod-0"] > noise["pod-1"] > 0
    assert wobbly.to_dict()["utilisation_rel_var"]["pod-0"] == pytest.approx(noise["pod-0"], abs=1e-6)


def test_prediction_on_noisy_identical_pods_is_the_windows_expected_score():
    rng = np.random.default_rng(3)
    seconds = [{pod: 3.0 * (1 + 0.06 * rng.standard_normal()) for pod in PODS} for _ in range(8)]
    window = _window(seconds)
    state = TargetState(algorithm="round_robin", replicas=4, capacity=8)

    predicted = predict(window, state, "utilisation")

    noise = window.utilisation_rel_var()
    values = {pod: figures["in_flight"] for pod, figures in predicted.pods.items()}
    assert predicted.score == pytest.approx(score_of_cv(expected_window_cv(values, noise, 8)), abs=0.01)
    assert predicted.score < utilisation_balance(values).score - 1.0  # the noise is not left out
    # without noise (the same second 8 times) the prediction is the noise-free one
    calm = predict(_window([dict.fromkeys(PODS, 3.0)] * 8), state, "utilisation")
    assert calm.score == pytest.approx(utilisation_balance(
        {pod: figures["in_flight"] for pod, figures in calm.pods.items()}).score, abs=0.05)  # pods: rounded
