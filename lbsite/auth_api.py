"""The API's own authentication endpoints."""

from __future__ import annotations

from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.parsers import FormParser, MultiPartParser

from lbsite.parsers import JSONParser


class TokenView(ObtainAuthToken):
    """`POST /api/auth/token/` {"username", "password"} -> {"token"}: DRF's, parsing JSON as the rest
    of the API does (a body nested too deep is a 400, not a crash, here where no login is needed)."""

    parser_classes = (FormParser, MultiPartParser, JSONParser)
