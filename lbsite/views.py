from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static


def favicon(request):
    """Browsers ask for /favicon.ico whatever the page says; send them to the static icon.

    Resolved per request: with the manifest storage the hashed name exists only after
    collectstatic, not when the URLconf is imported.
    """
    return HttpResponsePermanentRedirect(static("favicon.svg"))
