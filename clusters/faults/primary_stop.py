"""Primary stop: the stateful service's primary stops gracefully (`--stateful redis|postgres`)."""

from __future__ import annotations

from clusters.faults import StatefulFaultKind, register


@register
class PrimaryStop(StatefulFaultKind):
    name = "primary_stop"
    label = "Primary stop (stateful)"
    take_down = "stop_primary"  # a clean shutdown (Redis: SHUTDOWN, replicas catch up first)
