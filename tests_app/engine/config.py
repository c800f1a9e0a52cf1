"""The run config: what the launcher writes to a JSON file and the locustfile reads back.

    {"host": "http://127.0.0.1:8800", "shape": {"kind": "steady", "users": 10, ...},
     "arrival_rate": null, "request_mix": [{"path": "/", "method": "GET", "weight": 1, "name": null}],
     "think_time_ms": [0, 0], "keep_alive": true,
     "attribution": {"method": "header", "header": "X-Pod"}, "expected_pods": [],
     "timeout_s": 10.0, "follow_redirects": false, "allowed_hosts": ["127.0.0.0/8"]}

`parse_config` checks every field and raises `ConfigError(field=...)` naming the wrong
one, so the launcher refuses bad input before any process starts. Pure: no Locust.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import partial
from urllib.parse import urlsplit

from clusters.allowlist import parse_allowlist
from clusters.base import ClusterError, check_number
from tests_app.engine.shapes import KINDS, Shape, Stage

CONFIG_ENV = "LBLAB_LOCUST_CONFIG"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
ATTRIBUTION_METHODS = ("header", "json_field", "prometheus")
# An HTTP header name (RFC 9110 `token`), as long as the Target model keeps it.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")


def is_header_name(name: object) -> bool:
    """Whether `name` can name a response header (letters, digits and !#$%&'*+-.^_`|~ only)."""
    return isinstance(name, str) and _HEADER_NAME.fullmatch(name) is not None


class ConfigError(ClusterError):
    """A bad plugin configuration, naming the field (the same shape as the cluster adapters' errors)."""


@dataclass(frozen=True)
class Request:
    path: str = "/"
    method: str = "GET"
    weight: float = 1.0
    body: object = None  # str: sent as is; dict/list: sent as JSON
    name: str | None = None  # what it is counted and shown as, instead of the path

    @property
    def endpoint(self) -> str:
        """The row it is counted in (per-endpoint table, failures): "GET /api/items", or the
        method and the entry's name. Entries with the same endpoint are counted together."""
        return f"{self.method} {self.name or self.path}"


@dataclass(frozen=True)
class Attribution:
    method: str = "header"
    header: str = "X-Pod"
    field: str = "hostname"
    url: str = ""
    query: str = ""


@dataclass(frozen=True)
class Locustfile:
    """A user's own locustfile, run with the plugin beside it (`locust -f plugin,path`): its user
    classes send the load (all, or those named), the plugin counts what Locust reports of each
    request; its `LoadTestShape`, if it has one, drives the users (`shape` is its class name)."""

    path: str
    user_classes: tuple[str, ...] = ()
    shape: str | None = None


@dataclass(frozen=True)
class RunConfig:
    host: str
    shape: Shape
    arrival_rate: float | None = None
    request_mix: tuple[Request, ...] = (Request(),)
    think_time_ms: tuple[float, float] = (0.0, 0.0)
    keep_alive: bool = True
    attribution: Attribution = field(default_factory=Attribution)
    expected_pods: tuple[str, ...] = ()
    timeout_s: float = 10.0
    # A 3xx is the response unless the target asks to follow; then only to the run's own origin
    # or to `allowed_hosts` (LBLAB_ALLOWED_TARGETS as the run started): tests_app/engine/redirects.py.
    follow_redirects: bool = False
    allowed_hosts: tuple[str, ...] = ()
    locustfile: Locustfile | None = None  # None: the built-in users send the request mix

    @property
    def open_model(self) -> bool:
        return self.arrival_rate is not None

    @property
    def endpoints(self) -> tuple[str, ...]:
        """The request mix's endpoints, each once, in the mix's order; none known in advance
        with a user's own locustfile (they are learnt from its requests' names)."""
        if self.locustfile is not None:
            return ()
        return tuple(dict.fromkeys(request.endpoint for request in self.request_mix))


_number = partial(check_number, minimum=0.0, error=ConfigError)


def _present(data: dict) -> dict:
    """The keys that have a value: null means "not set" (callers pass scenario.get(key))."""
    return {key: value for key, value in data.items() if value is not None}


def _shape(data) -> Shape:
    if not isinstance(data, dict):
        raise ConfigError("must be an object", field="shape")
    data = _present(data)
    kind = data.get("kind", "steady")
    if kind not in KINDS:
        raise ConfigError(f"one of {', '.join(KINDS)}", field="shape.kind")
    stages = []
    raw_stages = data.get("stages") or []
    if not isinstance(raw_stages, list):
        raise ConfigError("must be a list", field="shape.stages")
    for i, stage in enumerate(raw_stages):
        if not isinstance(stage, dict):
            raise ConfigError("must be an object", field=f"shape.stages[{i}]")
        stage = _present(stage)
        stages.append(Stage(
            duration_s=_number(stage.get("duration_s"), f"shape.stages[{i}].duration_s", strict=True),
            users=_number(stage.get("users"), f"shape.stages[{i}].users", integer=True),
            spawn_rate=_number(stage.get("spawn_rate", 1.0), f"shape.stages[{i}].spawn_rate", strict=True),
        ))
    if kind == "stages" and not stages:
        raise ConfigError("a stages shape needs at least one stage", field="shape.stages")
    duration = data.get("duration_s")
    if duration is None and kind == "stages":
        duration = sum(stage.duration_s for stage in stages)
    shape = Shape(
        kind=kind,
        users=_number(data.get("users", 1), "shape.users", integer=True, minimum=0 if kind == "stages" else 1),
        spawn_rate=_number(data.get("spawn_rate", 1.0), "shape.spawn_rate", strict=True),
        duration_s=_number(duration, "shape.duration_s", strict=True, maximum=7 * 24 * 3600),
        spike_factor=_number(data.get("spike_factor", 2.0), "shape.spike_factor"),
        spike_at_s=_number(data.get("spike_at_s", 0), "shape.spike_at_s"),
        spike_length_s=_number(data.get("spike_length_s", 0), "shape.spike_length_s"),
        stages=tuple(stages),
    )
    return shape


def _request_mix(data) -> tuple[Request, ...]:
    if not data:
        return (Request(),)
    if not isinstance(data, list):
        raise ConfigError("must be a list", field="request_mix")
    mix = []
    for i, item in enumerate(data):
        name = f"request_mix[{i}]"
        if not isinstance(item, dict):
            raise ConfigError("must be an object", field=name)
        item = _present(item)
        path = item.get("path", "/")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ConfigError("must start with /", field=f"{name}.path")
        method = str(item.get("method", "GET")).upper()
        if method not in METHODS:
            raise ConfigError(f"one of {', '.join(METHODS)}", field=f"{name}.method")
        body = item.get("body")
        if body is not None and not isinstance(body, (str, dict, list)):
            raise ConfigError("must be a string or JSON", field=f"{name}.body")
        label = item.get("name")
        if label is not None and (not isinstance(label, str) or not label.strip()):
            raise ConfigError("must be a non-empty name", field=f"{name}.name")
        mix.append(Request(path=path, method=method, body=body, name=label.strip() if label else None,
                           weight=_number(item.get("weight", 1), f"{name}.weight", strict=True)))
    return tuple(mix)


def _attribution(data) -> Attribution:
    data = data or {"method": "header"}
    if not isinstance(data, dict):
        raise ConfigError("must be an object", field="attribution")
    method = data.get("method", "header")
    if method not in ATTRIBUTION_METHODS:
        raise ConfigError(f"one of {', '.join(ATTRIBUTION_METHODS)}", field="attribution.method")
    if method == "header":
        header = data.get("header") or "X-Pod"
        if not is_header_name(header):
            raise ConfigError("must be a header name: letters, digits and !#$%&'*+-.^_`|~", field="attribution.header")
        return Attribution(method=method, header=header)
    if method == "json_field":
        name = data.get("field") or "hostname"
        if not isinstance(name, str):
            raise ConfigError("must be a field name (dots for nested fields)", field="attribution.field")
        return Attribution(method=method, field=name)
    url, query = data.get("url"), data.get("query")
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        raise ConfigError("must be the Prometheus base URL (http or https)", field="attribution.url")
    if not isinstance(query, str) or not query.strip():
        raise ConfigError("must be a PromQL query returning a vector with a pod label", field="attribution.query")
    return Attribution(method=method, url=url.rstrip("/"), query=query)


def _locustfile(data) -> Locustfile | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ConfigError("must be an object", field="locustfile")
    path = data.get("path")
    if not isinstance(path, str) or not path.endswith(".py") or not path.startswith("/"):
        raise ConfigError("must be the absolute path of a .py file", field="locustfile.path")
    names = data.get("user_classes") or []
    if not isinstance(names, list) or not all(isinstance(name, str) and name.isidentifier() for name in names):
        raise ConfigError("must be a list of class names", field="locustfile.user_classes")
    shape = data.get("shape")
    if shape is not None and not (isinstance(shape, str) and shape.isidentifier()):
        raise ConfigError("must be a class name", field="locustfile.shape")
    return Locustfile(path=path, user_classes=tuple(dict.fromkeys(names)), shape=shape)


def parse_config(data: dict) -> RunConfig:
    """Validate a config dict; raises ConfigError(field=...)."""
    if not isinstance(data, dict):
        raise ConfigError("must be an object")
    host = data.get("host")
    parts = urlsplit(host) if isinstance(host, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError("must be an http(s) URL", field="host")
    if host.endswith("/"):
        # Locust joins host + path: a trailing slash doubles every path's slash.
        raise ConfigError("must not end with a slash", field="host")
    arrival = data.get("arrival_rate")
    if arrival is not None:
        arrival = _number(arrival, "arrival_rate", strict=True, maximum=1_000_000)
    think = data.get("think_time_ms") or [0, 0]
    if not isinstance(think, (list, tuple)) or len(think) != 2:
        raise ConfigError("must be [min, max]", field="think_time_ms")
    low = _number(0 if think[0] is None else think[0], "think_time_ms")
    high = _number(low if think[1] is None else think[1], "think_time_ms")
    if high < low:
        raise ConfigError("max must be >= min", field="think_time_ms")
    keep_alive = True if data.get("keep_alive") is None else data["keep_alive"]
    if not isinstance(keep_alive, bool):
        raise ConfigError("must be true or false", field="keep_alive")
    follow = data.get("follow_redirects") or False
    if not isinstance(follow, bool):
        raise ConfigError("must be true or false", field="follow_redirects")
    allowed = data.get("allowed_hosts") or []
    if not isinstance(allowed, list) or not all(isinstance(entry, str) for entry in allowed):
        raise ConfigError("must be a list of allow-list entries", field="allowed_hosts")
    try:
        parse_allowlist(tuple(allowed))
    except ValueError as error:
        raise ConfigError(str(error), field="allowed_hosts") from None
    pods = data.get("expected_pods") or []
    if not isinstance(pods, list) or not all(isinstance(p, str) and p for p in pods):
        raise ConfigError("must be a list of pod names", field="expected_pods")
    return RunConfig(
        host=host,
        shape=_shape(data.get("shape") or {}),
        arrival_rate=arrival,
        request_mix=_request_mix(data.get("request_mix")),
        think_time_ms=(low, high),
        keep_alive=keep_alive,
        attribution=_attribution(data.get("attribution")),
        expected_pods=tuple(dict.fromkeys(pods)),
        timeout_s=_number(10.0 if data.get("timeout_s") is None else data["timeout_s"], "timeout_s", strict=True,
                          maximum=3600),
        follow_redirects=follow,
        allowed_hosts=tuple(allowed),
        locustfile=_locustfile(data.get("locustfile")),
    )


def load_config(path: str) -> RunConfig:
    with open(path, encoding="utf-8") as handle:
        return parse_config(json.load(handle))
