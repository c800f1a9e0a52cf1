"""`stateful` and `durability` in the sandbox config: checked before anything starts, each error on
its field (the CLI names the flag, the API answers 400 with it)."""

from __future__ import annotations

import pytest

from clusters.base import ClusterError
from clusters.sandbox import SandboxConfig
from clusters.sandbox.stateful import STORES, check_stateful


@pytest.mark.parametrize(("settings", "field", "words"), [
    ({"stateful": "mysql"}, "stateful", "unknown stateful store"),
    ({"stateful": "postgres", "durability": "strict"}, "durability", "unknown durability mode"),
    ({"stateful": "redis", "durability": "eventually"}, "durability", "unknown durability mode"),
    ({"durability": "async"}, "durability", "needs a stateful store"),
])
def test_bad_stateful_settings_are_refused_on_their_field(settings, field, words):
    with pytest.raises(ClusterError, match=words) as error:
        SandboxConfig(**settings)
    assert error.value.field == field


@pytest.mark.parametrize("store", ["redis", "postgres"])
def test_either_store_in_either_mode_is_accepted_and_travels_in_the_config(store):
    for mode in ("sync", "async"):
        config = SandboxConfig(stateful=store, durability=mode)
        assert SandboxConfig.from_dict(config.to_dict()) == config


def test_a_missing_server_binary_is_named(monkeypatch):
    monkeypatch.setattr("shutil.which", lambda binary, path=None: None)
    with pytest.raises(ClusterError, match="redis-server is not installed") as error:
        check_stateful("redis", "sync", binaries=True)
    assert error.value.field == "stateful"
    assert "redis" in STORES


def test_a_missing_postgresql_server_is_named(monkeypatch):
    monkeypatch.setattr("shutil.which", lambda binary, path=None: None)
    with pytest.raises(ClusterError, match="patroni is not installed .make stateful") as error:
        check_stateful("postgres", "sync", binaries=True)
    assert error.value.field == "stateful"
