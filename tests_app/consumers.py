"""The live stream of a run: `/ws/runs/<id>/?since=<t>` (the live run protocol).

On connect: the run's `status`, its `events`, then the backlog (every recorded second after
`since`, oldest first) and its `request_stats` (the per-endpoint table and failures so far),
then each new second as it is recorded, with `alert`s where they happen, `request_stats`
when they change and a new `status` when it changes. Only the run's owner may connect; anyone else,
and a run that does not exist, is refused the same way.

How new seconds arrive depends on the channel layer:

- push (a cross-process layer, channels_redis): the run driver publishes each second to the
  group `run-<id>` (`metrics_app.services.publish_to_run`). The consumer joins the group
  before it reads the backlog, so nothing falls between the two; what the backlog already
  sent is dropped when it is pushed again.
- tail (the in-memory layer: the worker's messages never reach this process): every 0.5 s
  the consumer reads the seconds after the last one it sent, the status and the events,
  and stops reading once it has sent a finished status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from lbsite.permissions import owned_by
from lbsite.prometheus import WEBSOCKET_CLIENTS
from metrics_app.live import LiveSeries
from metrics_app.selectors import request_stats, samples_since
from metrics_app.services import layer_is_cross_process, run_group
from metrics_app.summary import WINDOW_S
from tests_app.models import LoadTestRun
from tests_app.selectors import live_series_for, run_events, run_status_message

log = logging.getLogger(__name__)

TAIL_INTERVAL_S = 0.5
BACKLOG_CHUNK = 600  # seconds read (and sent) at a time: an hour of 100 pods is never held at once


class RunConsumer(AsyncJsonWebsocketConsumer):
    run: LoadTestRun | None = None
    series: LiveSeries | None = None
    cursor: float | None = None  # the last second sent (or `since`): each t at most once per connection
    last_status: dict | None = None
    last_events: dict | None = None
    stats_t: float | None = None  # the t of the last request_stats sent: the tables are sent when they change
    tail_task: asyncio.Task | None = None

    async def connect(self) -> None:
        run_id = self.scope["url_route"]["kwargs"]["run_id"]
        since = _since(self.scope.get("query_string", b""))
        self.run = await self._owned_run(run_id)
        if self.run is None or since is False:
            await self.close()  # before accept: the handshake is refused, "absent" looks like "not yours"
            return
        await self.accept()
        WEBSOCKET_CLIENTS.inc()
        self.counted = True
        self.cursor = since
        push = layer_is_cross_process(self.channel_layer)
        if push:
            await self._join_group()
        status, events = await self._read_status_and_events()
        await self._send_status(status)
        await self._send_events(events)
        await self._send_backlog(since)
        await self._send_request_stats(await database_sync_to_async(request_stats)(self.run.pk))
        if not push and not status["finished"]:
            self.tail_task = asyncio.create_task(self._tail())

    async def _join_group(self) -> None:
        """Join the run's group before the backlog is read, so a second recorded meanwhile is pushed,
        not lost. (With Redis down the consumer cannot run at all: Channels reads every consumer's
        channel from the layer; the socket closes and the browser reconnects with `since`.)"""
        await self.channel_layer.group_add(run_group(self.run.pk), self.channel_name)
        self.groups.append(run_group(self.run.pk))  # left in websocket_disconnect

    async def disconnect(self, code) -> None:
        if getattr(self, "counted", False):
            WEBSOCKET_CLIENTS.dec()
            self.counted = False
        if self.tail_task is not None:
            self.tail_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.tail_task

    async def receive_json(self, content, **kwargs) -> None:
        """The stream is one-way: anything a client sends is ignored."""

    # ----------------------------------------------------------------- pushed by the run driver

    async def run_messages(self, event: dict) -> None:
        """A batch published to the run's group: one second's sample and its alerts, or a status."""
        second_sent = None  # whether this batch's sample was sent: its alerts go with it
        for message in event["messages"]:
            kind = message.get("type")
            if kind == "sample":
                second_sent = self.cursor is None or message["t"] > self.cursor
                if second_sent:
                    await self.send_json(message)
                    self.cursor = message["t"]
            elif kind == "alert":
                at = message["end_t"] if message.get("end_t") is not None else message["start_t"]
                if second_sent or (second_sent is None and (self.cursor is None or at > self.cursor)):
                    await self.send_json(message)
            elif kind == "status":
                await self._send_status(message)
                if message.get("finished"):  # what the run recorded of its chaos and tuning is final now
                    await self._send_events(await database_sync_to_async(run_events)(self.run.pk))
            elif kind == "events":
                await self._send_events({key: value for key, value in message.items() if key != "type"})
            elif kind == "request_stats":
                await self._send_request_stats(message)

    # ----------------------------------------------------------------- tailing the database

    async def _tail(self) -> None:
        while True:
            await asyncio.sleep(TAIL_INTERVAL_S)
            status = None
            while True:
                try:
                    status, events, seconds, stats = await self._read_new()
                except LoadTestRun.DoesNotExist:
                    await self.close()  # the run was deleted: nothing more to show
                    return
                except Exception as error:  # the database restarting must not end the stream: next tick
                    log.warning("live stream of run %s: reading failed (%s: %s)", self.run.pk,
                                type(error).__name__, error)
                    status = None
                    break
                await self._send_events(events)
                await self._send_seconds(seconds)
                await self._send_request_stats(stats)
                if len(seconds) < BACKLOG_CHUNK:
                    break  # caught up: the status read before these seconds covers them all
            if status is None:
                continue  # a status read before seconds that were not all sent could come too early
            await self._send_status(status)
            if status["finished"]:
                return  # nothing more will be recorded: stay open, stop reading

    @database_sync_to_async
    def _read_new(self) -> tuple[dict, dict, list[dict], dict | None]:
        # The status first: a finished status is written after the run's last second, so the
        # seconds read next include every second it covers.
        run = LoadTestRun.objects.get(pk=self.run.pk)
        return (run_status_message(run), run_events(run.pk),
                self._read_samples(_after(self.cursor), limit=BACKLOG_CHUNK), request_stats(run.pk))

    def _read_samples(self, after: float, *, limit: int) -> list[dict]:
        """The recorded seconds after `after`, then the pods the run's cluster has replaced so far:
        the driver keeps a replacement before it records the second that first shows it, so these
        seconds are scored with every replacement they need (`LiveSeries.retire`)."""
        seconds = samples_since(self.run.pk, after, limit=limit)
        replaced = LoadTestRun.objects.filter(pk=self.run.pk).values_list("replaced_pods", flat=True).first()
        self.run.replaced_pods = replaced or {}
        return seconds

    @database_sync_to_async
    def _samples(self, after: float, limit: int) -> list[dict]:
        return self._read_samples(after, limit=limit)

    # ----------------------------------------------------------------- on connect

    @database_sync_to_async
    def _owned_run(self, run_id: int) -> LoadTestRun | None:
        return owned_by(LoadTestRun.objects.select_related("target"), self.scope.get("user")).filter(pk=run_id).first()

    @database_sync_to_async
    def _read_status_and_events(self) -> tuple[dict, dict]:
        run = LoadTestRun.objects.get(pk=self.run.pk)
        return run_status_message(run), run_events(run.pk)

    async def _send_backlog(self, since: float | None) -> None:
        """Every recorded second after `since`, scored as the run driver scored it live.

        The series is fed from `window_s` seconds before `since` so the first second sent has
        its full window, and alerts are recomputed from there. When an alert is already open at
        the first full window, it may have begun earlier: read further back until its start
        is found (or the run's start is reached), so its closing names the start_t the client
        was sent before it dropped.
        """
        if since is not None:
            lookback = float(WINDOW_S)
            while True:
                self.series = None
                after = since - lookback
                await self._feed_up_to(after, since)
                if after < 0 or self.series is None or not self.series.alert_may_predate_history:
                    break
                lookback *= 4
        while True:
            seconds = await self._samples(_after(self.cursor), limit=BACKLOG_CHUNK)
            await self._send_seconds(seconds)
            if len(seconds) < BACKLOG_CHUNK:
                return

    async def _feed_up_to(self, after: float, until: float) -> None:
        """Feed the series the seconds in (after, until] without sending them."""
        while True:
            limit = min(BACKLOG_CHUNK, int(until - after) + 2)  # about one a second: read little past `until`
            seconds = await self._samples(after, limit=limit)
            for second in seconds:
                if second["t"] > until:
                    return
                self._feed(second)
                after = second["t"]
            if len(seconds) < limit:
                return

    # ----------------------------------------------------------------- sending

    async def _send_seconds(self, seconds: list[dict]) -> None:
        for second in seconds:
            if self.cursor is not None and second["t"] <= self.cursor:
                continue
            for message in self._feed(second):
                await self.send_json(message)
            self.cursor = second["t"]

    def _feed(self, second: dict) -> list[dict]:
        if self.series is None:
            self.series = live_series_for(self.run)
        else:
            self.series.retire(self.run.replaced_pods or {})
        return self.series.feed(second)

    async def _send_status(self, status: dict) -> None:
        if self.last_status is not None and self.last_status["finished"] and not status["finished"]:
            return  # a push delayed past the end (a run never leaves a finished status)
        if status != self.last_status:
            await self.send_json(status)
            self.last_status = status

    async def _send_request_stats(self, stats: dict | None) -> None:
        if stats is not None and (self.stats_t is None or stats["t"] > self.stats_t):
            await self.send_json(stats)
            self.stats_t = stats["t"]

    async def _send_events(self, events: dict) -> None:
        if events != self.last_events:
            await self.send_json({"type": "events", **events})
            self.last_events = events


def _since(query_string: bytes) -> float | None | bool:
    """The `since` of the query string; None when absent, False when it is not a number."""
    values = parse_qs(query_string.decode("latin-1")).get("since")
    if not values:
        return None
    try:
        since = float(values[-1])
    except ValueError:
        return False
    return since if math.isfinite(since) else False


def _after(cursor: float | None) -> float:
    """Where the next read starts: after the cursor, or at the run's first second."""
    return -1.0 if cursor is None else cursor  # t >= 0 for every second

