"""Per-address limits shared by every ASGI server (through Redis, or the Django cache).

A connection has its own token buckets (consumers.TokenBucket); these stop one address
from opening connection after connection to get around them. The client address is the
ASGI scope's: behind a reverse proxy, run uvicorn with ``--proxy-headers`` and
``--forwarded-allow-ips`` so that it is the shopper's, not the proxy's.
"""

from __future__ import annotations

import logging
import time
from functools import cache as once
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

# A window's count outlives the window, so a late event still finds it.
_WINDOW_TTL_SECONDS = 120


def client_address(scope: dict[str, Any]) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


@once
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)


def address_allows(kind: str, address: str, per_minute: int) -> bool:
    """Count one more ``kind`` event from ``address`` in this minute; False past the limit.

    A fixed one-minute window: at most twice the limit across a window boundary, which
    is enough to stop a flood. When the store is unreachable nobody is locked out.
    """
    window = int(time.time() // 60)
    key = f"ratelimit:{kind}:{address}:{window}"
    try:
        count = _count(key)
    except Exception:
        logger.warning("rate limit store unavailable; letting %s through", kind)
        return True
    return count <= per_minute


def _count(key: str) -> int:
    if settings.REDIS_URL:
        # One round trip on the shopper's path (the cache's add and incr were three).
        pipe = _redis(settings.REDIS_URL).pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, _WINDOW_TTL_SECONDS)
        count, _ = pipe.execute()
        return int(count)
    cache.add(key, 0, timeout=_WINDOW_TTL_SECONDS)
    return int(cache.incr(key))
