"""Metrics: each second of a run (MetricSample, PodSample), the live messages, comparisons,
figures and exports, and tuning policies and decisions.

Knows a run only by its id and the plain values it is given: tests_app calls down into
`services` (recording, publishing, comparing) and `selectors` (reading); nothing here
imports tests_app. Its per-second listener is `run_listeners.py`. The pure modules
(`live.py`, `summary.py`, `comparison.py`, `figures.py`, `exports.py`) import no Django.
"""
