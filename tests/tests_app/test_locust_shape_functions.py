"""The shape math, as pure functions of time."""

import pytest

from tests_app.engine.shapes import Shape, Stage, spawn_rate_at, target, users_at


def curve(shape, times):
    return [users_at(shape, t) for t in times]


def test_steady_and_sustained_hold_users_until_duration():
    for kind in ("steady", "sustained"):
        shape = Shape(kind=kind, users=10, spawn_rate=5, duration_s=30)
        assert curve(shape, [0, 1, 29.9]) == [10, 10, 10]
        assert spawn_rate_at(shape, 3) == 5
        assert target(shape, 30) is None


def test_spike_multiplies_users_for_its_length_then_returns():
    shape = Shape(kind="spike", users=4, spawn_rate=2, duration_s=20, spike_factor=2.5, spike_at_s=5,
                  spike_length_s=3)
    assert curve(shape, [0, 4.9, 5, 7.9, 8, 19]) == [4, 4, 10, 10, 4, 4]
    assert spawn_rate_at(shape, 0) == 2
    assert spawn_rate_at(shape, 5) >= 6  # the jump happens at once
    assert spawn_rate_at(shape, 8) >= 6  # and so does the way back


def test_ramp_rises_linearly_from_zero_to_peak_at_the_end():
    shape = Shape(kind="ramp", users=10, spawn_rate=1, duration_s=10)
    assert curve(shape, [0, 0.5, 1, 1.01, 5, 9.5, 9.99]) == [0, 1, 1, 2, 5, 10, 10]
    assert spawn_rate_at(shape, 3) >= 1
    assert target(shape, 10) is None
    steep = Shape(kind="ramp", users=100, spawn_rate=1, duration_s=10)
    assert spawn_rate_at(steep, 1) >= 10  # never slower than the slope


def test_stages_follow_the_list_and_hold_the_last():
    shape = Shape(kind="stages", duration_s=10, stages=(Stage(2, 3, 1), Stage(3, 7, 4), Stage(1, 1, 9)))
    assert curve(shape, [0, 1.9, 2, 4.9, 5, 5.9, 6, 9.9]) == [3, 3, 7, 7, 1, 1, 1, 1]
    assert [spawn_rate_at(shape, t) for t in (0, 2, 5)] == [1, 4, 9]


def test_nothing_outside_the_run():
    shape = Shape(kind="steady", users=3, duration_s=5)
    assert users_at(shape, -1) == 0
    assert users_at(shape, 5) == 0
    assert target(shape, 5) is None
    assert target(shape, 4.99) == (3, 1.0)


def test_unknown_kind_is_an_error():
    with pytest.raises(ValueError, match="unknown shape"):
        users_at(Shape(kind="sawtooth"), 1)


def test_peak_users():
    assert Shape(kind="spike", users=4, spike_factor=3).peak_users == 12
    assert Shape(kind="stages", stages=(Stage(1, 2, 1), Stage(1, 9, 1))).peak_users == 9
    assert Shape(kind="ramp", users=7).peak_users == 7
