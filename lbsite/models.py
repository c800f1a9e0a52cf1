"""The site's own records: API tokens."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models


def token_digest(key: str) -> str:
    """What is stored of a token's key: its SHA-256 (a key is 160 random bits: no salt needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    """A key to the API (`Authorization: Token <key>`). A user may hold several (one per machine or
    pipeline), lists them and revokes any; only a digest of the key is kept, so it is shown once,
    when it is issued, and a copy of the database gives nobody a working key."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, help_text="What it is for, e.g. the CI job.")
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8, help_text="The key's first characters, to tell tokens apart.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or 'API token'})"

    @classmethod
    def issue(cls, *, owner, name: str = "") -> tuple[ApiToken, str]:
        """A new token of `owner`, and its key (the only time it is known)."""
        key = secrets.token_hex(20)
        return cls.objects.create(owner=owner, name=name, digest=token_digest(key), prefix=key[:8]), key


class LoginFailure(models.Model):
    """A failed login (the login page, the admin's, the API's token endpoint), kept for the window
    failures are counted over (lbsite.login_limits), then deleted."""

    username = models.CharField(max_length=150, blank=True)
    address = models.CharField(max_length=45, blank=True, help_text="The client's IP address.")
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["username", "at"], name="loginfailure_username_at"),
                   models.Index(fields=["address", "at"], name="loginfailure_address_at")]

    def __str__(self) -> str:
        return f"{self.username or '?'} from {self.address or '?'} at {self.at:%Y-%m-%d %H:%M:%S}"
