from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.templatetags.static import static
from django.views.decorators.http import require_safe


def favicon(request):
    """Browsers ask for /favicon.ico whatever the page says; send them to the static icon.

    Resolved per request: with the manifest storage the hashed name exists only after
    collectstatic, not when the URLconf is imported.
    """
    return HttpResponsePermanentRedirect(static("favicon.svg"))


HEALTH_CHANNEL = "lblab.healthz"


def _database_problem() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # noqa: BLE001 - any failure is the answer
        return f"database: {type(error).__name__}: {error}"
    return ""


def _channel_layer_problem() -> str:
    """A message sent to the layer and read back: Redis answering, or the in-memory layer working."""
    layer = get_channel_layer()
    if layer is None:
        return "channel layer: none configured"
    try:
        channel = async_to_sync(layer.new_channel)(HEALTH_CHANNEL)
        async_to_sync(layer.send)(channel, {"type": "healthz"})
        message = async_to_sync(layer.receive)(channel)
    except Exception as error:  # noqa: BLE001 - any failure is the answer
        return f"channel layer: {type(error).__name__}: {error}"
    return "" if message.get("type") == "healthz" else "channel layer: the message came back changed"


@require_safe
def healthz(request):
    """Readiness and liveness of this process for Kubernetes' probes and the image's HEALTHCHECK:
    200 when the database and the channel layer answer, 503 naming what does not. No login, no
    session, nothing written."""
    problems = [problem for problem in (_database_problem(), _channel_layer_problem()) if problem]
    return JsonResponse({"status": "fail" if problems else "ok", "problems": problems},
                        status=503 if problems else 200)
