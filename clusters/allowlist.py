"""Which hosts load may be sent to. Pure: no Django, so the CLI and tests share it.

An entry is a host name (`localhost`), an address (`::1`), a CIDR (`127.0.0.0/8`) or
any of those with a port (`example.test:8080`, `[::1]:8080`). A host name that is not
listed itself is resolved, and every address it resolves to must be allowed, so a
name can't smuggle load to a network that isn't.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from clusters.base import ClusterError


def _split_entry(entry: str) -> tuple[str, int | None]:
    entry = entry.strip().lower()
    if entry.startswith("["):  # [v6]:port
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    if entry.count(":") == 1:  # host:port (a bare IPv6 address has several colons)
        host, _, port = entry.partition(":")
        if port.isdigit():
            return host, int(port)
    return entry, None


def _matches(address: str, host_entry: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address == host_entry
    try:
        return ip in ipaddress.ip_network(host_entry, strict=False)
    except ValueError:
        return False


def host_allowed(host: str, port: int | None, allowed: Iterable[str], *, resolve: bool = True) -> bool:
    host = host.strip("[]").lower()
    entries = [_split_entry(e) for e in allowed if e.strip()]
    candidates = [(h, p) for h, p in entries if p is None or p == port]
    if any(_matches(host, h) or host == h for h, _ in candidates):
        return True
    try:
        ipaddress.ip_address(host)
        return False  # an address that matched nothing
    except ValueError:
        pass
    if not resolve:
        return False
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)}
    except (socket.gaierror, UnicodeError):
        return False
    return bool(addresses) and all(any(_matches(a, h) for h, _ in candidates) for a in addresses)


def url_host_port(base_url: str, *, field: str = "base_url") -> tuple[str, int]:
    """Host and port load to `base_url` goes to; ClusterError on `field` when there are none."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https"):
        raise ClusterError(f"unknown scheme {parts.scheme or base_url!r}: use http:// or https://", field=field)
    if not parts.hostname:
        raise ClusterError("the URL names no host", field=field)
    try:
        port = parts.port  # raises for a port out of range, which URLField lets through
    except ValueError as error:
        raise ClusterError(f"bad port: {error}", field=field) from error
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)
