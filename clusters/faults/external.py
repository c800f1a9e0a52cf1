"""External: a fault the user causes (with krkn, kubectl, a cloud console, a cable) where LB Lab
cannot inject one, a URL target above all. LB Lab applies and removes nothing: the step marks on
the load's clock when the fault starts and how long it is meant to last, and the run measures its
recovery from the load's own requests as for any injection (RTO, availability, requests failed,
p95 during and after; healing only when LB Lab sees the cluster's events)."""

from __future__ import annotations

from clusters.base import Fault
from clusters.faults import FaultKind, register
from clusters.faults.targets import EXTERNAL


@register
class External(FaultKind):
    name = "external"
    label = "External (a fault you cause)"
    acts_on = EXTERNAL

    def inject(self, cluster, step, *, rng):
        # Nothing to resolve or apply, and no cluster needed: a URL target has none.
        return self.apply(cluster, [], self.params_for(step))

    def apply(self, cluster, targets, params):
        return Fault(kind=self.name, pods=(), duration_s=params["duration"])
