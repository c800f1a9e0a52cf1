"""The tuning controller's pure core (issue 18): keep a run's windowed balance score at or above its
policy's target by acting on the balancer, each action's effect predicted by the what-if simulator
before it is taken, and every decision recorded with its data, alternatives and observed effect.

Django-free, like the rest of `clusters/`:

- `policy.Policy`: the target score, the view kept balanced (`requests` or `utilisation`), the p95
  guard, window, cooldown, the allowed actions and their bounds, dry-run; `Policy.validate` refuses
  a bad one with ClusterError(field=...), against what the target's balancer can do too.
- `actions.ACTIONS`: the registry of actions, one module each beside its siblings (set_algorithm,
  set_weights, scale, advise_connection_reuse): the candidates each proposes for a diagnosis, their
  validation, the state they lead to (what the simulator is given) and how they reach a `Cluster`.
- `window`: one window of observed seconds folded into per-pod figures and the view's score.
- `diagnose`: why that score is below target (slow pod, connection pinning, weights out of line
  with capacity, too few replicas).
- `rank`: the allowed candidates ranked by the simulator's predicted score on the observed pods and
  traffic, with the p95 guard.
- `controller.Controller`: the state machine fed once a second; returns `Decision` records.
"""
