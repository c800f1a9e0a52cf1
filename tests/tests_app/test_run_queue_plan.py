"""The fair run queue's one computation (tests_app.run_queue.plan): limits on runs at once and per
target, users served in turn rather than first come first served, and each waiting run's place."""

from datetime import UTC, datetime, timedelta

from tests_app.run_queue import Limits, QueuedRun, plan

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def run(run_id: int, owner: int, *, key: str | None = None) -> QueuedRun:
    return QueuedRun(id=run_id, owner_id=owner, created_at=T0 + timedelta(seconds=run_id), target_key=key)


ONE_AT_A_TIME = Limits()


def turns(waiting, *, limits=ONE_AT_A_TIME, going=(), last_turns=None) -> list[int]:
    """Start runs one after another as each ends, as the dispatcher would: the order they start."""
    waiting, going, last_turns, order = list(waiting), list(going), dict(last_turns or {}), []
    clock = T0 + timedelta(hours=1)
    while waiting:
        started = plan(waiting, going, last_turns, limits).start
        assert started, "the queue stalled"
        for run_id in started:
            started_run = next(r for r in waiting if r.id == run_id)
            waiting.remove(started_run)
            clock += timedelta(seconds=1)
            last_turns[started_run.owner_id] = clock
            order.append(run_id)
        going = []  # they ran and ended
    return order


def test_two_users_who_queue_together_alternate():
    alice, bob = [run(i, owner=1) for i in (1, 2, 3)], [run(i, owner=2) for i in (4, 5, 6)]
    assert turns(alice + bob) == [1, 4, 2, 5, 3, 6]


def test_a_user_with_many_queued_runs_does_not_hold_back_one_who_queues_later():
    assert turns([run(1, 1), run(2, 1), run(3, 1), run(4, 2)]) == [1, 4, 2, 3]


def test_the_owner_served_longest_ago_goes_first():
    assert turns([run(1, owner=1), run(2, owner=2)], last_turns={1: T0, 2: T0 - timedelta(days=1)}) == [2, 1]


def test_a_user_with_a_run_going_waits_behind_one_without():
    result = plan([run(2, owner=1), run(3, owner=2)], [run(1, owner=1)], {}, Limits(concurrent=2))
    assert result.start == [3]
    assert result.places[2].position == 1


def test_no_more_runs_at_once_than_the_limit_and_each_waiting_run_knows_its_place():
    result = plan([run(2, 1), run(3, 2), run(4, 3)], [run(1, 9)], {}, Limits(concurrent=2))
    assert result.start == [2]
    assert {run_id: place.position for run_id, place in result.places.items()} == {3: 1, 4: 2}
    assert result.places[3].text == "1st in line: 2 run(s) going, the most at once (LBLAB_MAX_CONCURRENT_RUNS=2)"
    assert result.places[4].text.endswith(", 1 waiting ahead of it") and result.places[4].text.startswith("2nd in line")


def test_a_busy_target_holds_back_its_runs_only():
    result = plan([run(2, 1, key="shop:80"), run(3, 2, key="lab:80"), run(4, 3)], [run(1, 9, key="shop:80")], {},
                  Limits(concurrent=3, per_target=1))
    assert result.start == [3, 4]  # later runs elsewhere go first
    assert "its target already has 1 run(s) going" in result.places[2].reason
    assert "LBLAB_MAX_RUNS_PER_TARGET=1" in result.places[2].reason


def test_runs_that_start_their_own_target_are_never_held_back_by_each_other():
    assert plan([run(1, 1), run(2, 2)], [], {}, Limits(concurrent=2, per_target=1)).start == [1, 2]
