"""Bad run configs are refused before any process starts, naming the field."""

import sys

import pytest

from tests_app.engine.config import ConfigError, parse_config
from tests_app.engine.launcher import LocustProcess

GOOD = {"host": "http://127.0.0.1:8800", "shape": {"kind": "steady", "users": 2, "spawn_rate": 1, "duration_s": 5}}


def with_(**changes):
    config = dict(GOOD)
    config.update(changes)
    return config


@pytest.mark.parametrize(("config", "field"), [
    (with_(host="http://127.0.0.1:8800/"), "host"),
    (with_(host="ftp://x"), "host"),
    (with_(shape={"kind": "zigzag", "users": 1, "duration_s": 1}), "shape.kind"),
    (with_(shape={"kind": "steady", "users": 0, "duration_s": 1}), "shape.users"),
    (with_(shape={"kind": "steady", "users": 1, "duration_s": 0}), "shape.duration_s"),
    (with_(shape={"kind": "stages", "stages": []}), "shape.stages"),
    (with_(shape={"kind": "stages", "stages": [{"duration_s": 1, "users": -1}]}), "shape.stages[0].users"),
    (with_(arrival_rate=0), "arrival_rate"),
    (with_(request_mix=[{"path": "nope"}]), "request_mix[0].path"),
    (with_(request_mix=[{"path": "/", "method": "FETCH"}]), "request_mix[0].method"),
    (with_(request_mix=[{"path": "/", "weight": 0}]), "request_mix[0].weight"),
    (with_(request_mix=[{"path": "/", "name": " "}]), "request_mix[0].name"),
    (with_(think_time_ms=[10, 5]), "think_time_ms"),
    (with_(keep_alive="no"), "keep_alive"),
    (with_(attribution={"method": "dns"}), "attribution.method"),
    (with_(attribution={"method": "header", "header": "X-Pod\r\nX-Other"}), "attribution.header"),
    (with_(attribution={"method": "prometheus", "url": "http://p:9090"}), "attribution.query"),
    (with_(expected_pods=[""]), "expected_pods"),
    (with_(timeout_s=-1), "timeout_s"),
    (with_(follow_redirects="yes"), "follow_redirects"),
    (with_(allowed_hosts="127.0.0.1"), "allowed_hosts"),
    (with_(allowed_hosts=["127.0.0.1:0-80"]), "allowed_hosts"),
])
def test_bad_field_is_named(config, field):
    with pytest.raises(ConfigError) as info:
        parse_config(config)
    assert info.value.field == field
    with pytest.raises(ConfigError):
        LocustProcess(config)


def test_defaults():
    config = parse_config(GOOD)
    assert config.attribution.method == "header" and config.attribution.header == "X-Pod"
    assert [(r.path, r.method, r.weight) for r in config.request_mix] == [("/", "GET", 1.0)]
    assert config.follow_redirects is False and config.allowed_hosts == ()  # a 3xx is the response
    assert config.keep_alive is True and config.open_model is False
    stages = parse_config(with_(shape={"kind": "stages", "stages": [{"duration_s": 2, "users": 1},
                                                                      {"duration_s": 3, "users": 2}]}))
    assert stages.shape.duration_s == 5


def test_null_means_not_set():
    config = parse_config(with_(
        shape={"kind": "steady", "users": 3, "spawn_rate": None, "duration_s": 5, "spike_factor": None,
               "spike_at_s": None, "spike_length_s": None, "stages": None},
        arrival_rate=None, request_mix=[{"path": "/x", "method": "GET", "weight": None, "body": None}],
        think_time_ms=[None, None], keep_alive=None, timeout_s=None, expected_pods=None))
    assert config.shape.users == 3 and config.shape.spawn_rate == 1.0
    assert config.request_mix[0].weight == 1.0
    assert config.think_time_ms == (0.0, 0.0) and config.keep_alive is True and config.timeout_s == 10.0


def test_launcher_imports_neither_locust_gevent_nor_django():
    import subprocess

    code = ("import sys, tests_app.engine.launcher, tests_app.engine.testing; "
            "bad = [m for m in ('locust', 'gevent', 'django') if m in sys.modules]; "
            "sys.exit(f'imported {bad}' if bad else 0)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(__import__("pathlib").Path(__file__).parents[2]))
