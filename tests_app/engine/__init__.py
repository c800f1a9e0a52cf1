"""The load engine's Django-free side: Locust runs in its own subprocess.

Module map: `config.py` (the run config the launcher writes and the locustfile reads,
validated), `shapes.py` (scenario shapes as pure functions of time), `attribution.py`
(which pod served a response; Prometheus counters), `stats.py` (per-pod counts and HDR
histograms, the sample and final lines), `locustfile.py` (the file passed to
`locust -f`: the only module here that imports locust or gevent), `launcher.py`
(`LocustProcess`: starts master and workers, reads the result lines, stops them).

Nothing in this package imports Django, and only `locustfile.py` imports Locust or
gevent: gevent's monkey patching breaks the ORM, so Locust never runs in-process.
"""
