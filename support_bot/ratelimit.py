"""Per-address limits shared by every ASGI server (through the Django cache).

A connection has its own token buckets (consumers.TokenBucket); these stop one address
from opening connection after connection to get around them. The client address is the
ASGI scope's: behind a reverse proxy, run uvicorn with ``--proxy-headers`` and
``--forwarded-allow-ips`` so that it is the shopper's, not the proxy's.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.cache import cache

logger = logging.getLogger(__name__)


def client_address(scope: dict[str, Any]) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def address_allows(kind: str, address: str, per_minute: int) -> bool:
    """Count one more ``kind`` event from ``address`` in this minute; False past the limit.

    A fixed one-minute window: at most twice the limit across a window boundary, which
    is enough to stop a flood. When the cache is unreachable nobody is locked out.
    """
    window = int(time.time() // 60)
    key = f"ratelimit:{kind}:{address}:{window}"
    try:
        cache.add(key, 0, timeout=120)
        count = cache.incr(key)
    except Exception:
        logger.warning("rate limit cache unavailable; letting %s through", kind)
        return True
    return int(count) <= per_minute
