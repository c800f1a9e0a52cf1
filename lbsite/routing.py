"""WebSocket routes of every app, gathered in one list for lbsite.asgi.

Each app that streams adds its own `routing.websocket_urlpatterns` here.
"""

from tests_app.routing import websocket_urlpatterns as run_websockets

websocket_urlpatterns: list = [*run_websockets]
