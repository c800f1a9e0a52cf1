"""Which hosts LB Lab may contact: the load's target, a Prometheus it polls, every redirect it
follows. Pure: no Django, so the CLI, the Locust plugin and tests share it.

An entry is a host name (`localhost`), an address (`::1`), a CIDR (`127.0.0.0/8`) or any of
those with a port or a range of ports (`example.test:8080`, `[::1]:8080`,
`127.0.0.1:8000-8999`). A host name that is not listed itself is resolved, and every address
it resolves to must be allowed, so a name can't smuggle load to a network that isn't.

`check_url` is the one check of a URL LB Lab will contact: http or https, a host, a real port,
and none of the spellings clients disagree about (credentials, backslashes, control
characters), each refused with a reason on the field it came from.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from clusters.base import ClusterError

SCHEMES = ("http", "https")
_PORTS = re.compile(r"^([0-9]{1,5})(?:-([0-9]{1,5}))?$")
# Characters clients read differently (a backslash is a slash to browsers and some HTTP
# libraries, not to urllib), and whitespace or control characters, which no URL needs.
_AMBIGUOUS = re.compile(r"[\\\s\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Entry:
    """One allow-list entry: a host (name, address or CIDR, lower case) and the ports allowed on
    it (an inclusive range; None: any port)."""

    host: str
    ports: tuple[int, int] | None = None

    def allows_port(self, port: int | None) -> bool:
        return self.ports is None or (port is not None and self.ports[0] <= port <= self.ports[1])


def parse_entry(text: str) -> Entry:
    """An entry as the settings give it; ValueError saying what is wrong."""
    entry = text.strip().lower()
    ports = None
    if entry.startswith("["):  # [v6]:port
        host, bracket, rest = entry[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"{text!r}: an IPv6 address with a port is written [::1]:8080")
        entry, ports = host, _ports(rest[1:], text) if rest else None
    elif entry.count(":") == 1:  # host:port (a bare IPv6 address has several colons)
        entry, _, port_text = entry.partition(":")
        ports = _ports(port_text, text)
    if not entry:
        raise ValueError(f"{text!r}: names no host")
    if "/" in entry:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError as error:
            raise ValueError(f"{text!r}: not a network ({error})") from None
    return Entry(host=entry, ports=ports)


def _ports(text: str, entry: str) -> tuple[int, int]:
    match = _PORTS.match(text)
    low, high = (int(match.group(1)), int(match.group(2) or match.group(1))) if match else (0, 0)
    if not match or not 1 <= low <= high <= 65535:
        raise ValueError(f"{entry!r}: the port must be 1-65535 or a range such as 8000-8999")
    return low, high


@lru_cache(maxsize=64)
def parse_allowlist(entries: tuple[str, ...]) -> tuple[Entry, ...]:
    """Every non-blank entry parsed; ValueError naming the first bad one."""
    return tuple(parse_entry(entry) for entry in entries if entry.strip())


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
    candidates = [entry for entry in parse_allowlist(tuple(allowed)) if entry.allows_port(port)]
    if any(_matches(host, entry.host) or host == entry.host for entry in candidates):
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
    except (socket.gaierror, UnicodeError, OSError):
        return False
    return bool(addresses) and all(any(_matches(a, entry.host) for entry in candidates) for a in addresses)


def check_url(url: str, *, field: str = "base_url") -> tuple[str, int]:
    """Host and port a request to `url` goes to; ClusterError on `field` when LB Lab must not
    contact it whatever the allow-list says."""
    if not isinstance(url, str) or _AMBIGUOUS.search(url):
        raise ClusterError("a URL with a backslash, a space or a control character is ambiguous: "
                           "clients disagree on where it goes", field=field)
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ClusterError(f"unknown scheme {parts.scheme or url!r}: use http:// or https://", field=field)
    if "@" in parts.netloc:
        raise ClusterError("credentials in the URL (user:password@) are not sent: remove them", field=field)
    if not parts.hostname:
        raise ClusterError("the URL names no host", field=field)
    try:
        port = parts.port  # raises for a port out of range, which URLField lets through
    except ValueError as error:
        raise ClusterError(f"bad port: {error}", field=field) from error
    if port == 0:
        raise ClusterError("port 0 is not a port anything listens on", field=field)
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def check_url_allowed(url: str, allowed: Iterable[str], *, field: str = "base_url") -> tuple[str, int]:
    """`check_url`, then the allow-list: ClusterError on `field` unless LB Lab may contact `url`."""
    host, port = check_url(url, field=field)
    if not host_allowed(host, port, allowed):
        raise ClusterError(f"{host} is not allow-listed on port {port} (LBLAB_ALLOWED_TARGETS)", field=field)
    return host, port
