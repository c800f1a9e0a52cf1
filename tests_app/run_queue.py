"""The fair run queue: which waiting runs may start now, and where the others wait. Pure: no Django.

Two runs at once skew each other's numbers on a small machine, so at most `concurrent` runs go at
a time (LBLAB_MAX_CONCURRENT_RUNS, default 1) and at most `per_target` load the same place
(LBLAB_MAX_RUNS_PER_TARGET: a URL's host and port; a sandbox is each run's own). Users are
served in turn, not first come first served: a waiting run's rank is how many runs its owner
already has going plus how many of theirs wait before it, then the owner served longest ago
(never first), then the oldest. So Alice's three runs and Bob's one go A, B, A, A, and
two users who queue together alternate.

`plan` is the one computation: the dispatcher starts `Plan.start`, and the run page, the API and
`loadtest` show `Plan.places`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class QueuedRun:
    """A run as the queue sees it: waiting for its turn, or going (started, or given its turn)."""

    id: int
    owner_id: int
    created_at: datetime
    target_key: str | None  # where its load goes, when runs elsewhere could share it (None: its own)


@dataclass(frozen=True)
class Limits:
    concurrent: int = 1
    per_target: int = 1


@dataclass(frozen=True)
class Place:
    """Where a waiting run is: `position` 1 is next; `reason` says what it waits for."""

    position: int
    reason: str

    @property
    def text(self) -> str:
        return f"{_ordinal(self.position)} in line: {self.reason}"


@dataclass(frozen=True)
class Plan:
    start: list[int]  # the runs that may start now, in their turn's order
    places: dict[int, Place]  # every other waiting run


def fair_order(waiting: Sequence[QueuedRun], going: Sequence[QueuedRun],
               last_turns: Mapping[int, datetime | None]) -> list[QueuedRun]:
    """The waiting runs in the order they get their turn (see the module docstring)."""
    active = Counter(run.owner_id for run in going)
    before = Counter()
    ranked = []
    for run in sorted(waiting, key=lambda run: (run.created_at, run.id)):
        last = last_turns.get(run.owner_id)
        served = (0,) if last is None else (1, last)
        ranked.append(((active[run.owner_id] + before[run.owner_id], served, run.created_at, run.id), run))
        before[run.owner_id] += 1
    return [run for _, run in sorted(ranked, key=lambda pair: pair[0])]


def plan(waiting: Sequence[QueuedRun], going: Sequence[QueuedRun], last_turns: Mapping[int, datetime | None],
         limits: Limits) -> Plan:
    """Which waiting runs start now (free slots, in fair order, skipping one whose target is busy:
    a later run elsewhere goes first), and the place of every run that waits."""
    free = limits.concurrent - len(going)
    on_target = Counter(run.target_key for run in going if run.target_key is not None)
    start: list[int] = []
    places: dict[int, Place] = {}
    for run in fair_order(waiting, going, last_turns):
        target_free = run.target_key is None or on_target[run.target_key] < limits.per_target
        if free > 0 and target_free:
            start.append(run.id)
            free -= 1
            if run.target_key is not None:
                on_target[run.target_key] += 1
            continue
        ahead = len(places)
        if not target_free:
            reason = (f"its target already has {on_target[run.target_key]} run(s) going, the most one target may "
                      f"have (LBLAB_MAX_RUNS_PER_TARGET={limits.per_target})")
        else:
            reason = (f"{len(going) + len(start)} run(s) going, the most at once "
                      f"(LBLAB_MAX_CONCURRENT_RUNS={limits.concurrent})")
        if ahead:
            reason += f", {ahead} waiting ahead of it"
        places[run.id] = Place(position=ahead + 1, reason=reason)
    return Plan(start=start, places=places)


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"
