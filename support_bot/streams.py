"""Publishing chat frames to a conversation's widgets, from sync code.

Every frame travels as one channel-layer event type, ``chat.frame``, which the consumer
forwards as it is: frame shapes are defined once, in docs/protocol.md and here.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Coroutine
from typing import Any

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

EVENT_TYPE = "chat.frame"
# A partial reply is kept this long for widgets that reconnect mid-reply.
PARTIAL_TTL_SECONDS = 600
# The first piece goes out at once (time to first token is what shoppers feel); later
# pieces are batched so that a 200 tokens/s stream is ~20 events/s, not 200. Every event
# costs the worker a publish and a partial save and the ASGI server a delivery; 20 a
# second still reads as a smooth stream.
COALESCE_SECONDS = 0.05
# A frame that Redis has not taken in this long is given up on (the reply goes on; the
# widget gets it from the database).
PUBLISH_TIMEOUT_SECONDS = 5.0


def frame_event(frame: dict[str, Any]) -> dict[str, Any]:
    return {"type": EVENT_TYPE, "frame": frame}


class _LoopThread:
    """One event loop per worker process for channel-layer calls.

    channels-redis keeps its connections per event loop; ``async_to_sync`` from a plain
    thread would make a new loop (and new Redis connections) for every delta.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def run(
        self, coroutine: Coroutine[Any, Any, Any], timeout: float = PUBLISH_TIMEOUT_SECONDS
    ) -> Any:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                self._loop = asyncio.new_event_loop()
                threading.Thread(
                    target=self._loop.run_forever, name="channel-layer", daemon=True
                ).start()
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)


_loop_thread = _LoopThread()


class _DirectPublisher:
    """``group_send`` of the Redis pub/sub layer, done from the calling thread.

    That layer's ``group_send`` is one PUBLISH of the serialized event on the group's
    channel, but it runs on an event loop, over one connection behind an asyncio lock:
    from a worker's threads every frame went through the loop thread and waited for the
    frames of every other reply in the process. Here each thread publishes at once, on a
    connection from a thread-safe pool, with the layer's own serializer and channel
    name, so the consumers (subscribed through the layer) get the same bytes.
    """

    def __init__(self, layer: Any, address: str, options: dict[str, Any], prefix: str) -> None:
        self._serialize = layer.serialize
        self._prefix = prefix
        timeout = min(
            float(options.pop("socket_timeout", PUBLISH_TIMEOUT_SECONDS)), PUBLISH_TIMEOUT_SECONDS
        )
        self._redis = redis.Redis.from_url(address, socket_timeout=timeout, **options)

    def channel(self, group: str) -> str:
        # channels_redis.pubsub.RedisPubSubLoopLayer._get_group_channel_name
        return f"{self._prefix}__group__{group}"

    def group_send(self, group: str, message: dict[str, Any]) -> None:
        self._redis.publish(self.channel(group), self._serialize(message))


_direct: dict[int, _DirectPublisher | None] = {}
# Host options that a plain redis-py client takes as they are.
_PLAIN_OPTIONS = {
    "socket_timeout",
    "socket_connect_timeout",
    "socket_keepalive",
    "retry_on_timeout",
}


def _direct_publisher(layer: Any) -> _DirectPublisher | None:
    """For the Redis pub/sub layer on one plain Redis (this project's setting), else None:
    other layers, and shards or Sentinel, go through the layer itself."""
    if id(layer) in _direct:
        return _direct[id(layer)]
    publisher = None
    config = settings.CHANNEL_LAYERS.get("default", {}).get("CONFIG", {})
    hosts = config.get("hosts") or []
    if isinstance(layer, RedisPubSubChannelLayer) and len(hosts) == 1:
        host = hosts[0]
        options = {"address": host} if isinstance(host, str) else dict(host)
        address = options.pop("address", None)
        if isinstance(address, str) and not options.keys() - _PLAIN_OPTIONS:
            publisher = _DirectPublisher(layer, address, options, config.get("prefix", "asgi"))
    _direct[id(layer)] = publisher
    return publisher


def publish(group: str, frame: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    if settings.CELERY_TASK_ALWAYS_EAGER:
        # Embedded default: replies run in a sync_to_async thread of the ASGI server, so
        # async_to_sync hands the call back to the server's own loop (the in-memory
        # layer is bound to it).
        async_to_sync(layer.group_send)(group, frame_event(frame))
        return
    try:
        direct = _direct_publisher(layer)
        if direct is not None:
            direct.group_send(group, frame_event(frame))
        else:
            _loop_thread.run(layer.group_send(group, frame_event(frame)))
    except (RedisError, OSError, TimeoutError) as error:
        # Redis is down: the widgets lost their connections too, and get the reply
        # from the database when they reconnect. The reply itself goes on.
        logger.warning("could not publish a %s frame: %r", frame.get("type"), error)


def _partial_key(message_id: int) -> str:
    return f"chat:partial:{message_id}"


def partial_save(message_id: int, seq: int, text: str) -> None:
    try:
        cache.set(_partial_key(message_id), {"seq": seq, "text": text}, PARTIAL_TTL_SECONDS)
    except Exception:
        return


def partial_get(message_id: int) -> dict[str, Any] | None:
    try:
        value = cache.get(_partial_key(message_id))
    except Exception:
        return None
    return value if isinstance(value, dict) else None


class DeltaCoalescer:
    """Turns a stream of small pieces into fewer, ordered ``delta`` frames.

    The interval runs from when the previous frame was sent (``sent``), not from when it
    was made: when publishing slows down (a busy worker, a busy Redis) frames carry more
    text each instead of each piece becoming a frame of its own, which would slow
    publishing down further.
    """

    def __init__(self, message_id: int, interval: float = COALESCE_SECONDS) -> None:
        self.message_id = message_id
        self.interval = interval
        self.seq = 0
        self.text = ""
        self._pending = ""
        self._last_flush = 0.0

    def add(self, piece: str) -> dict[str, Any] | None:
        self._pending += piece
        if self.seq == 0 or time.monotonic() - self._last_flush >= self.interval:
            return self.flush()
        return None

    def flush(self) -> dict[str, Any] | None:
        if not self._pending:
            return None
        self.seq += 1
        self.text += self._pending
        frame = {
            "type": "delta",
            "message_id": self.message_id,
            "seq": self.seq,
            "text": self._pending,
        }
        self._pending = ""
        self._last_flush = time.monotonic()
        return frame

    def sent(self) -> None:
        """The last frame has been published."""
        self._last_flush = time.monotonic()

    def reset(self) -> None:
        self.seq = 0
        self.text = ""
        self._pending = ""
