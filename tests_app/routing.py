"""WebSocket routes of tests_app: the live stream of a run."""

from django.urls import path

from tests_app.consumers import RunConsumer

websocket_urlpatterns = [
    path("ws/runs/<int:run_id>/", RunConsumer.as_asgi()),
]
