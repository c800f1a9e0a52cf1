"""WebSocket routes of metrics_app: the live stream of a run."""

from django.urls import path

from metrics_app.consumers import RunConsumer

websocket_urlpatterns = [
    path("ws/runs/<int:run_id>/", RunConsumer.as_asgi()),
]
