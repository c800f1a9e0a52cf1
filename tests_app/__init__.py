"""Load tests: targets, scenarios and runs, and everything that drives a run.

The top app: it drives metrics_app and chaos_app (never the other way round). One way in:
`services.submit_run` (the API, the form and `manage.py loadtest` call it). The run task
(`tasks.run_load_test`) and `loadtest` call `services.execute_run`, whose driver
(`execution.drive`) fires the run's per-second events (`run_events.py`).

Where things go: a listener that acts every second of a run is an `attach(events)` in its own
app's `run_listeners.py`, listed in `tests_app/run_listeners.py`; the driver never names it.
The frozen scenario is `scenario_spec.ScenarioSpec`; choices live in `choices.py` (the
algorithm and target-kind choices read the registries in `clusters/`). The live stream of a
run (`/ws/runs/<id>/`) is `consumers.py`.
"""
