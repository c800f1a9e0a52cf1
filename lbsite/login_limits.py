"""Failed logins are limited per username and per address, on every way in (the login page, the
admin's, `POST /api/auth/token/`): past LBLAB_LOGIN_FAILURES_PER_USERNAME failures for a username,
or LBLAB_LOGIN_FAILURES_PER_ADDRESS from an address, within LBLAB_LOGIN_WINDOW_S, a login is refused
with 429 (and Retry-After), even with the right password, until the window has passed.

As django-axes does it: the authentication backend (Django's own, with the limit in front) refuses
the login, failures are counted from Django's `user_login_failed` signal into the
database (shared by every process, with or without Redis), and a middleware turns a refused login
into the 429. The address is REMOTE_ADDR: behind a proxy, every client has the proxy's.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from lbsite.middleware import API_PREFIX
from lbsite.models import LoginFailure

BLOCKED = "lblab_login_refused"  # the request attribute the middleware answers 429 for


def _http(request):
    """The Django request under a DRF one (attributes set on DRF's stay there)."""
    return getattr(request, "_request", request)


def _address(request) -> str:
    return (_http(request).META.get("REMOTE_ADDR") or "")[:45]


def _window() -> timedelta:
    return timedelta(seconds=settings.LBLAB_LOGIN_WINDOW_S)


def refusal(request, username: str) -> str:
    """Why a login for `username` from this request's address is refused now ("" when it is not)."""
    since = timezone.now() - _window()
    recent = LoginFailure.objects.filter(at__gte=since)
    if username and recent.filter(username=username).count() >= settings.LBLAB_LOGIN_FAILURES_PER_USERNAME:
        return "Too many failed logins for this username"
    address = _address(request)
    if address and recent.filter(address=address).count() >= settings.LBLAB_LOGIN_FAILURES_PER_ADDRESS:
        return "Too many failed logins from this address"
    return ""


class LoginLimitBackend(ModelBackend):
    """Django's username and password backend, refusing a login while its username or address is
    limited (PermissionDenied: Django counts it as failed and asks no other backend)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is not None:
            reason = refusal(request, username or "")
            if reason:
                setattr(_http(request), BLOCKED, reason)
                raise PermissionDenied(reason)
        return super().authenticate(request, username=username, password=password, **kwargs)


def count_failure(sender, credentials, request=None, **kwargs) -> None:
    """`user_login_failed`: one more failure for the username and the address (not for an attempt
    refused because of them: waiting out the window is enough)."""
    if request is None or getattr(_http(request), BLOCKED, None):
        return
    now = timezone.now()
    LoginFailure.objects.filter(at__lt=now - _window()).delete()  # what no window counts any more
    LoginFailure.objects.create(username=str(credentials.get("username") or "")[:150], address=_address(request), at=now)


def forget_failures(sender, request, user, **kwargs) -> None:
    """`user_logged_in`: a user who got in has a clean slate (their address does not)."""
    LoginFailure.objects.filter(username=user.get_username()).delete()


def connect() -> None:
    user_login_failed.connect(count_failure, dispatch_uid="lblab-login-failures")
    user_logged_in.connect(forget_failures, dispatch_uid="lblab-login-success")


class LoginLimitMiddleware:
    """Answers a login the backend refused with 429, as JSON under /api/."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        reason = getattr(request, BLOCKED, None)
        if not reason:
            return response
        minutes = max(1, round(settings.LBLAB_LOGIN_WINDOW_S / 60))
        message = f"{reason}: try again in {minutes} minute{'s' if minutes != 1 else ''}."
        if request.path.startswith(API_PREFIX):
            refused = JsonResponse({"detail": message}, status=429)
        else:
            refused = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
        refused["Retry-After"] = str(settings.LBLAB_LOGIN_WINDOW_S)
        return refused
