"""Middleware every page and API call goes through."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse, JsonResponse

API_PREFIX = "/api/"


class RequestBodyLimit:
    """Refuse a request whose Content-Length is past DATA_UPLOAD_MAX_MEMORY_SIZE before anything
    reads its body: 413, as JSON under /api/ (a body without a Content-Length is cut off by Django
    itself at the same size, and the API answers that 413 too: lbsite.api.exception_handler)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # not a number: read as no body, as Django and DRF do
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length > limit:
            message = f"The request body is larger than {limit} bytes."
            if request.path.startswith(API_PREFIX):
                return JsonResponse({"detail": message}, status=413)
            return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


class ContentSecurityPolicy:
    """Sends settings.LBLAB_CONTENT_SECURITY_POLICY with every response that has none of its own:
    scripts, styles, images and connections from LB Lab itself only (plotly.js and the Swagger UI
    are served locally), no inline script, no framing, forms posting back to LB Lab only. An
    injected `<script>` or a link to elsewhere in something a target answered goes nowhere."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.LBLAB_CONTENT_SECURITY_POLICY)
        return response
