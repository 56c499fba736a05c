"""Websocket URL patterns (Channels' counterpart of urls.py)."""

from __future__ import annotations

from typing import Any

websocket_urlpatterns: list[Any] = []
