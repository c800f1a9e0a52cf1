"""The durability probe's verdict (clusters/durability.py), one category at a time, as Jepsen's set
workload sorts the ids."""

from __future__ import annotations

import pytest

from clusters.durability import check


def test_every_acked_id_read_back_is_nothing_lost():
    result = check(acked=["1", "2", "3"], failed=[], present=["1", "2", "3"])
    assert (result.acked, result.lost, result.recovered, result.unexpected) == (3, 0, 0, 0)
    assert result.lost_ids == ()
    assert result.rpo_s is None


def test_acked_id_absent_is_lost_and_named():
    result = check(acked=["1", "2", "10", "3"], failed=[], present=["1", "3"])
    assert result.lost == 2
    assert result.lost_ids == ("2", "10")  # numeric order, not "10" before "2"


def test_failed_or_timed_out_id_present_is_recovered_not_lost():
    result = check(acked=["1"], failed=["2", "3"], present=["1", "2"])
    assert (result.lost, result.recovered, result.unexpected) == (0, 1, 0)


def test_failed_id_absent_counts_nowhere():
    result = check(acked=["1"], failed=["2"], present=["1"])
    assert (result.acked, result.lost, result.recovered, result.unexpected) == (1, 0, 0, 0)


def test_id_never_attempted_is_unexpected():
    result = check(acked=["1"], failed=["2"], present=["1", "2", "99"])
    assert result.unexpected == 1
    assert result.unexpected_ids == ("99",)


def test_id_acked_after_a_failed_attempt_counts_as_acked():
    result = check(acked=["1"], failed=["1"], present=[])
    assert (result.acked, result.lost, result.recovered) == (1, 1, 0)


def test_rpo_runs_from_last_survivor_before_the_loss_to_the_last_lost_write():
    # 1..3 replicated, 4..5 acknowledged by the old primary only, 6..7 on the new primary.
    times = {"1": 10.0, "2": 10.5, "3": 11.0, "4": 11.25, "5": 12.0, "6": 15.0, "7": 15.5}
    result = check(acked=times, failed=[], present=["1", "2", "3", "6", "7"], ack_times=times)
    assert result.lost_ids == ("4", "5")
    assert result.rpo_s == pytest.approx(1.0)


def test_rpo_is_zero_when_nothing_was_lost():
    times = {"1": 1.0, "2": 2.0}
    assert check(acked=times, failed=[], present=times, ack_times=times).rpo_s == 0.0


def test_rpo_without_any_earlier_survivor_starts_at_the_first_lost_write():
    times = {"1": 3.0, "2": 5.0, "3": 9.0}
    result = check(acked=times, failed=[], present=["3"], ack_times=times)
    assert result.rpo_s == pytest.approx(2.0)


def test_rpo_needs_a_time_for_every_acked_id():
    with pytest.raises(ValueError, match="acknowledgement time"):
        check(acked=["1", "2"], failed=[], present=["1"], ack_times={"1": 1.0})


def test_summary_has_the_counts_the_ids_and_the_rpo():
    times = {"1": 1.0, "2": 1.5}
    summary = check(acked=times, failed=["3"], present=["1", "3"], ack_times=times).summary()
    assert summary == {"acked": 2, "lost": 1, "recovered": 1, "unexpected": 0, "lost_ids": ["2"], "rpo_s": 0.5}
