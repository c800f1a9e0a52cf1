"""Primary kill: the stateful service's primary dies at once (`--stateful redis|postgres`)."""

from __future__ import annotations

from clusters.faults import StatefulFaultKind, register


@register
class PrimaryKill(StatefulFaultKind):
    name = "primary_kill"
    label = "Primary kill (stateful)"
    take_down = "kill_primary"  # SIGKILL of the primary's server
