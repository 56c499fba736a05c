"""End to end on the real topology: uvicorn + channels-redis + a Celery worker process +
the fake provider over HTTP, driven over a real websocket as the widget does."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
import websockets
from asgiref.sync import sync_to_async
from websockets.typing import Origin

from routing.fake_provider import FakeProviderServer
from support_bot.cache.services import cache_flush
from support_bot.models import Message

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.topology]


async def connect(base: str, **hello: Any) -> tuple[Any, dict[str, Any]]:
    origin = Origin(base.replace("ws://", "http://"))
    ws = await websockets.connect(f"{base}/ws/chat/", origin=origin)
    await ws.send(json.dumps({"type": "hello", **hello}))
    welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert welcome["type"] == "welcome"
    return ws, welcome


async def until_done(ws: Any, frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    async with asyncio.timeout(30):
        while not frames or frames[-1]["type"] != "done":
            frames.append(json.loads(await ws.recv()))
    return frames


async def test_a_message_streams_back_through_redis_and_a_worker(
    asgi_server: str, reply_workers: FakeProviderServer
) -> None:
    ws, _ = await connect(asgi_server)
    async with ws:
        await ws.send(
            json.dumps(
                {
                    "type": "message",
                    "text": "Do you ship to Norway?",
                    "client_id": str(uuid.uuid4()),
                }
            )
        )
        frames = await until_done(ws, [])
    assert frames[0]["type"] == "ack"
    streamed = [f for f in frames if f["type"] == "delta"]
    assert [d["seq"] for d in streamed] == list(range(1, len(streamed) + 1))
    done = frames[-1]
    assert "".join(d["text"] for d in streamed).strip() == done["text"]
    assert done["text"].startswith("Echo: <shopper>Do you ship to Norway?")
    stored = await Message.objects.aget(pk=done["message_id"])
    assert stored.status == "done" and stored.text == done["text"]


async def test_losing_the_websocket_mid_reply_loses_and_doubles_nothing(
    asgi_server: str, reply_workers: FakeProviderServer
) -> None:
    reply_workers.configure(tokens_per_s=50, reply_tokens=50)
    # A live answer, not one an earlier test left in the shared answer cache (a cached
    # answer streams in a few quick pieces).
    await sync_to_async(cache_flush)(scope=None)
    ws, welcome = await connect(asgi_server)
    client_id = str(uuid.uuid4())
    await ws.send(
        json.dumps({"type": "message", "text": "How long is delivery?", "client_id": client_id})
    )
    seen: list[dict[str, Any]] = []
    while sum(f["type"] == "delta" for f in seen) < 3:
        seen.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
    await ws.close()

    ws, resumed = await connect(asgi_server, conversation=welcome["conversation"])
    async with ws:
        # The widget re-sends what it had not seen acknowledged; it must not be answered twice.
        await ws.send(
            json.dumps({"type": "message", "text": "How long is delivery?", "client_id": client_id})
        )
        frames = await until_done(ws, [])
    partial = next(m for m in resumed["messages"] if m["role"] == "bot")
    text, seq = partial["text"], partial["seq"]
    for frame in frames:
        if frame["type"] == "delta" and frame["seq"] > seq:
            text, seq = text + frame["text"], frame["seq"]
    done = frames[-1]
    assert text.strip() == done["text"]
    assert len(done["text"].split()) >= 50
    assert await Message.objects.filter(role="shopper").acount() == 1
    assert await Message.objects.filter(role="bot").acount() == 1
    assert reply_workers.stats()["requests"] == 1
