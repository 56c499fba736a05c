"""The base of this project's websocket consumers."""

from __future__ import annotations

from typing import Any

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer


class WebsocketConsumer(AsyncWebsocketConsumer):
    """Dispatches without Channels' per-event database check.

    Channels (since 4.2) runs Django's ``close_old_connections`` in a worker thread before
    every event it dispatches: each frame from the browser and each event from the channel
    layer. A chat reply is several events (its deltas, its ``done``), almost none of them
    touching the database, and the thread hop was ~6 % of the ASGI process's CPU under
    load. Every database call of these consumers goes through ``database_sync_to_async``,
    which closes unusable or expired connections before and after the call already.
    """

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
