"""The pure ground: no Django, Channels or django-q2 (checked by `lint-imports`). Everything
above it may import it; it imports nothing above it.

Where things go:
- a balancing algorithm: an entry in `algorithms.py` (`ALGORITHMS`), with its sandbox picker in
  `sandbox/algorithms.py` and its simulator picks in `simulate.py`;
- a fault kind: a module in `faults/` with one `@register`ed `FaultKind` (its severities,
  parameters and the `Cluster` method it calls);
- a target kind: a module in `targets/` with one `@register`ed `TargetKind` adapter (naming,
  allow-list, opening its cluster, pod slots);
- a cluster adapter: a `base.Cluster` implementation (`sandbox/`; Kubernetes later), opened by
  its target kind's `open`.
Also here: the balance math (`balance.py`), the what-if simulator, the allow-list, durations,
and `procs.py`, the one module that starts and stops child processes.
"""
