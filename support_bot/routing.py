"""Websocket URL patterns (Channels' counterpart of urls.py)."""

from __future__ import annotations

from typing import Any

from django.urls import path

from support_bot.consumers import ChatConsumer

websocket_urlpatterns: list[Any] = [
    path("ws/chat/", ChatConsumer.as_asgi()),
]
