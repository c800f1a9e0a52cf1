"""The durability probe's verdict, as Jepsen's set workload checks it (issue 21). Pure.

Writers add records with unique ids; each write ends acknowledged (the store confirmed it in the
mode chosen), failed or timed out (indeterminate: it may or may not have been applied). After the
run everything is read back from the (new) primary, and:

- `lost`: acknowledged but absent, what a mode that promises no loss must never show;
- `recovered`: failed or timed out but present (the store applied it, the client never knew);
- `unexpected`: present but never attempted (a store or a probe inventing data);
- `acked`: the acknowledged writes.

For an asynchronous mode the data-loss window (RPO) is measured from the acknowledgement times:
from the last acknowledged write that survived before the first lost one, to the last lost one
(writes acknowledged on the new primary after a failover survive and are not part of the window).
With nothing lost it is 0; when no acknowledged write survived before the first lost one, the
window starts at that first lost write.

    check(acked={"1": t1, "2": t2}, failed=["3"], present={"1", "3"})
    → Durability(acked=2, lost=1, recovered=1, unexpected=0, lost_ids=("2",), rpo_s=t2 - t1)
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Durability:
    acked: int
    lost: int
    recovered: int
    unexpected: int
    lost_ids: tuple
    unexpected_ids: tuple
    rpo_s: float | None  # None when no acknowledgement times were given (a synchronous mode)

    def summary(self) -> dict:
        """The summary's `durability` (ARCHITECTURE.md §6): counts, the ids lost and the RPO."""
        figures = {"acked": self.acked, "lost": self.lost, "recovered": self.recovered,
                   "unexpected": self.unexpected, "lost_ids": list(self.lost_ids)}
        if self.rpo_s is not None:
            figures["rpo_s"] = round(self.rpo_s, 3)
        return figures


def check(*, acked: Iterable[Hashable], failed: Iterable[Hashable],
          present: Iterable[Hashable], ack_times: Mapping[Hashable, float] | None = None) -> Durability:
    """The verdict over the ids acknowledged, failed or timed out, and read back (`present`).

    `ack_times` (id → when its acknowledgement came, seconds on any one clock) gives the RPO.
    An id both acknowledged and failed counts as acknowledged (the store did confirm it).
    """
    acked_ids = set(acked)
    failed_ids = set(failed) - acked_ids
    present_ids = set(present)
    lost_ids = acked_ids - present_ids
    unexpected_ids = present_ids - acked_ids - failed_ids
    rpo = None if ack_times is None else _rpo(ack_times, acked_ids, lost_ids)
    return Durability(acked=len(acked_ids), lost=len(lost_ids), recovered=len(failed_ids & present_ids),
                      unexpected=len(unexpected_ids), lost_ids=_sorted(lost_ids),
                      unexpected_ids=_sorted(unexpected_ids), rpo_s=rpo)


def _rpo(ack_times: Mapping[Hashable, float], acked: set, lost: set) -> float:
    missing = acked - set(ack_times)
    if missing:
        raise ValueError(f"no acknowledgement time for {len(missing)} acknowledged ids, e.g. {next(iter(missing))!r}")
    if not lost:
        return 0.0
    lost_times = [ack_times[i] for i in lost]
    first_lost, last_lost = min(lost_times), max(lost_times)
    before = [ack_times[i] for i in acked - lost if ack_times[i] <= first_lost]
    return last_lost - (max(before) if before else first_lost)


def _sorted(ids: set) -> tuple:
    """Ids in a stable order: numerically when they all are numbers or digit strings."""
    try:
        return tuple(sorted(ids, key=lambda i: int(i)))
    except (TypeError, ValueError):
        return tuple(sorted(ids, key=str))
