"""API tokens: the authentication that reads them (`Authorization: Token <key>`)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from lbsite.models import ApiToken, token_digest

# A token's last use is written at most this often: not on every request of a busy pipeline.
LAST_USED_EVERY = timedelta(minutes=1)


class ApiTokenAuthentication(TokenAuthentication):
    """DRF's token scheme (the same header, the same 401 with `WWW-Authenticate: Token`), reading
    lbsite.models.ApiToken: several tokens per user, stored as digests, each revocable."""

    def authenticate_credentials(self, key):
        token = ApiToken.objects.select_related("owner").filter(digest=token_digest(key)).first()
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.owner.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_EVERY:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return token.owner, token
