"""Chaos: experiments (presets of fault steps with a steady-state hypothesis) and the
injections a run made. The fault kinds themselves are the registry in `clusters/faults/`
(one module per kind), which `choices.py` reads; nothing here imports tests_app."""
