"""Cluster adapters: Django-free.

`base.Cluster` is the one interface that runs, chaos and tuning use; `sandbox` runs
real local processes, `kubernetes` (later) talks to a real cluster.
"""
