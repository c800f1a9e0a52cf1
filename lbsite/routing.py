"""WebSocket routes of every app, gathered in one list for lbsite.asgi.

Each app that streams adds its own `routing.websocket_urlpatterns` here.
"""

from metrics_app.routing import websocket_urlpatterns as metrics_websockets

websocket_urlpatterns: list = [*metrics_websockets]
