"""The sandbox's own event log: what happened to its pods, nodes and faults, and when its balancer
sent clients failed responses, with wall-clock timestamps. Read through `GET /events?since=<seq>`.

One log per controller, shared by the supervisor, the balancer and the control API (one loop, so
no lock). It is a ring of the last `EVENT_LOG_SIZE` events: memory stays bounded however long the
sandbox runs, and sequence numbers have no gaps, so a reader sees when the ring dropped some.
The types and their fields are the vocabulary of `clusters.base.EventType`.

Failures are logged per streak, not per request, so a failing pod under load adds two events, not
thousands: `FailureStreaks` opens a streak at a pod's first failed response (a 5xx the balancer
generated or passed on, or a client connection it had to cut) and closes it once that pod has sent
no failure for `STREAK_QUIET_S`; the closing event carries the first and the last failure's times.
"""

from __future__ import annotations

import itertools
import time
from collections import deque

from clusters.base import EventType

EVENT_LOG_SIZE = 10_000
# A pod's failures less than this far apart are one streak: long enough that a fault's errors at
# a few percent form one streak, short against the 3 s windows the recovery analysis judges.
STREAK_QUIET_S = 1.0


class EventLog:
    def __init__(self, size: int = EVENT_LOG_SIZE):
        self._events: deque[dict] = deque(maxlen=size)
        self.last_seq = 0

    def record(self, type: str, *, t: float | None = None, **fields) -> dict:
        """Log one event; `t` defaults to now (time.time())."""
        self.last_seq += 1
        event = {"seq": self.last_seq, "t": time.time() if t is None else t, "type": type, **fields}
        self._events.append(event)
        return event

    def since(self, seq: int) -> list[dict]:
        """The events after `seq` still in the ring, oldest first."""
        first_kept = self.last_seq - len(self._events) + 1
        return list(itertools.islice(self._events, max(0, seq + 1 - first_kept), None))


class Streak:
    __slots__ = ("first_t", "last_t", "failures", "outcomes")

    def __init__(self, now: float):
        self.first_t = now
        self.last_t = now
        self.failures = 0
        self.outcomes: dict[str, int] = {}


class FailureStreaks:
    """The open failure streaks of the balancer, per pod (None: no pod was ready to send to)."""

    def __init__(self, events: EventLog):
        self.events = events
        self.open: dict[str | None, Streak] = {}

    def failed(self, pod: str | None, outcome: str) -> None:
        """A failed response went to a client: `outcome` is its status ("502") or "reset" when the
        client's connection was cut mid-answer. Only failure paths call this."""
        now = time.time()
        streak = self.open.get(pod)
        if streak is None:
            streak = self.open[pod] = Streak(now)
            self.events.record(EventType.FAILURES_STARTED, t=now, pod=pod, outcome=outcome)
        streak.last_t = now
        streak.failures += 1
        streak.outcomes[outcome] = streak.outcomes.get(outcome, 0) + 1

    def close_quiet(self, now: float | None = None) -> None:
        """Close the streaks whose last failure is `STREAK_QUIET_S` old (the balancer's sweep calls this)."""
        if not self.open:
            return
        quiet_since = (time.time() if now is None else now) - STREAK_QUIET_S
        for pod, streak in list(self.open.items()):
            if streak.last_t <= quiet_since:
                self.close(pod)

    def close(self, pod: str | None) -> None:
        streak = self.open.pop(pod, None)
        if streak is not None:
            self.events.record(EventType.FAILURES_ENDED, t=streak.last_t, pod=pod, first_t=streak.first_t,
                               failures=streak.failures, outcomes=dict(streak.outcomes))

    def close_all(self) -> None:
        for pod in list(self.open):
            self.close(pod)
