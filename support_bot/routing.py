"""Websocket URL patterns (Channels' counterpart of urls.py)."""

from __future__ import annotations

from typing import Any

from channels.security.websocket import OriginValidator
from django.conf import settings
from django.urls import path

from support_bot.agent_consumers import AgentConsumer
from support_bot.consumers import ChatConsumer

websocket_urlpatterns: list[Any] = [
    path("ws/chat/", ChatConsumer.as_asgi()),
    # The console authenticates by session cookie: only the bot's own pages may open it,
    # never a shop page that embeds the widget (WIDGET_ALLOWED_ORIGINS).
    path("ws/agent/", OriginValidator(AgentConsumer.as_asgi(), settings.ALLOWED_HOSTS)),
]
