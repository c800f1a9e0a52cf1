"""WebSocket routes of every app, gathered in one list for lbsite.asgi.

Each app that streams adds its own `routing.websocket_urlpatterns` here; the live run
stream (`/ws/runs/<id>/`, metrics_app) joins with the dashboards issue.
"""

websocket_urlpatterns: list = []
