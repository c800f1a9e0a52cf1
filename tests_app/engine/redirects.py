"""Where a redirect may take the load, or the plugin's own Prometheus polling. Pure: no Locust.

By default the load follows no redirect: a 3xx is the response (k6's `maxRedirects: 0`), so an
allowed target cannot send the load anywhere else with a `302`. A target that enables following
has each `Location` checked first: the run's own origin, or an allow-listed address
(clusters.allowlist, names resolved), and at most `MAX_REDIRECTS` hops. A refused one ends the
request as a `RedirectRefused` failure, and nothing is sent there.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterable
from urllib.parse import urljoin, urlsplit

from clusters.allowlist import check_url_allowed
from clusters.base import ClusterError

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 10  # k6's default


class RedirectRefused(Exception):
    """A redirect to an address LB Lab may not contact (its text says where and why)."""


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    try:
        port = parts.port or default
    except ValueError:
        port = None
    return parts.scheme, (parts.hostname or "").lower(), port


class RedirectPolicy:
    """Whether a redirect's target may be contacted: the run's own origin (`host`), or an address
    on `allowed`. Answers are kept per origin (a name is resolved once per run)."""

    def __init__(self, host: str, allowed: Iterable[str]):
        self.origin = _origin(host)
        self.allowed = tuple(allowed)
        self._answers: dict[tuple, str] = {}

    def refusal(self, url: str) -> str:
        """Why `url` may not be contacted ("" when it may)."""
        origin = _origin(url)
        if origin == self.origin:
            return ""
        if origin not in self._answers:
            try:
                check_url_allowed(url, self.allowed, field="Location")
                self._answers[origin] = ""
            except ClusterError as error:
                self._answers[origin] = error.args[0]
        return self._answers[origin]

    def next_hop(self, url: str, status: int, location: str | None) -> str | None:
        """The absolute URL a redirect answer of `url` sends to, or None when it is not a redirect;
        RedirectRefused when it goes where LB Lab may not."""
        if status not in REDIRECT_STATUSES or not location:
            return None
        target = urljoin(url, location.strip())
        problem = self.refusal(target)
        if problem:
            raise RedirectRefused(f"redirect to {target[:120]} refused: {problem}")
        return target


def redirected_method(method: str, status: int) -> str:
    """The method of the next hop, as browsers and requests do: 303 turns anything but HEAD into
    GET, 301 and 302 turn POST into GET; 307 and 308 keep it."""
    if status == 303 and method != "HEAD":
        return "GET"
    if status in (301, 302) and method == "POST":
        return "GET"
    return method


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """urllib's redirect handler, asking the policy before each hop."""

    def __init__(self, policy: RedirectPolicy):
        self.policy = policy

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        problem = self.policy.refusal(urljoin(req.full_url, newurl))
        if problem:
            raise urllib.error.HTTPError(req.full_url, code, f"redirect refused: {problem}", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def checked_opener(policy: RedirectPolicy) -> urllib.request.OpenerDirector:
    """A urllib opener that follows a redirect only where `policy` allows (the Prometheus polling)."""
    return urllib.request.build_opener(_CheckedRedirects(policy))
