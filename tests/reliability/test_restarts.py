"""Processes dying under the app: a Celery worker killed with SIGKILL mid-reply, and
Redis (broker, channel layer, cache and limits at once) restarted empty during traffic.

Each test runs on a topology of its own (tests/reliability/topology.py): its own Redis,
workers and ASGI server, sharing only the test database.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from collections import Counter
from typing import Any

import pytest

from routing.fake_provider import FakeProviderServer
from support_bot.models import Conversation, Message
from tests.reliability.test_faults import QUESTIONS
from tests.reliability.topology import LOGS, WidgetClient, private_topology, widget_connect

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]


async def _frames_until_done(ws: Any, frames: list[dict[str, Any]], timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not frames or frames[-1]["type"] != "done":
            frames.append(json.loads(await ws.recv()))


def test_a_worker_killed_mid_reply_is_redelivered_and_the_shopper_gets_one_reply(
    figures: Counter[str],
) -> None:
    # A slow provider (40 pieces at 10/s) so the kill lands mid-reply. Short lease and
    # visibility timeout so Celery hands the task over within seconds; no sweep, so what
    # brings the reply back is the broker's redelivery.
    with (
        FakeProviderServer(ttft_ms=100, tokens_per_s=10, reply_tokens=40) as fake,
        private_topology(
            LOCAL_MODEL_URL=fake.base_url,
            CELERY_VISIBILITY_TIMEOUT="5",
            REPLY_LEASE_SECONDS="3",
            REPLY_SWEEP_SECONDS="0",
        ) as topology,
    ):
        victim = topology.worker("victim")
        url = topology.asgi()
        frames: list[dict[str, Any]] = []

        async def shop() -> None:
            async with await widget_connect(url) as ws:
                await ws.send(json.dumps({"type": "hello", "conversation": None}))
                assert json.loads(await ws.recv())["type"] == "welcome"
                await ws.send(
                    json.dumps(
                        {
                            "type": "message",
                            "text": "Do you ship to Norway?",
                            "client_id": str(uuid.uuid4()),
                        }
                    )
                )
                # Wait until the victim has streamed a few pieces, then kill it.
                async with asyncio.timeout(60):
                    while sum(f["type"] == "delta" for f in frames) < 3:
                        frames.append(json.loads(await ws.recv()))
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                killed_at = len(frames)
                await asyncio.to_thread(topology.worker, "rescuer")
                await _frames_until_done(ws, frames, timeout=90)
                frames.insert(killed_at, {"type": "killed"})

        asyncio.run(shop())

    figures["faults injected"] += 1
    figures["messages sent"] += 1
    reply = Message.objects.get(role="bot")
    kinds = [f["type"] for f in frames]
    assert kinds.count("done") == 1, kinds
    figures["completed"] += 1
    # The rescuer starts the reply again: the widget is told to reset, then gets every
    # piece once, in order, and a done whose text is what was stored.
    reset = kinds.index("reset")
    assert reset > kinds.index("killed")
    after = [f for f in frames[reset:] if f["type"] == "delta"]
    assert [d["seq"] for d in after] == list(range(1, len(after) + 1))
    done = frames[-1]
    assert "".join(d["text"] for d in after) == done["text"]
    assert (reply.status, reply.attempts, reply.text) == ("done", 2, done["text"])
    assert reply.text.startswith("Echo: ") and len(reply.text.split()) >= 30


def test_redis_restarted_empty_during_traffic_loses_no_message(figures: Counter[str]) -> None:
    shoppers, turns = 6, 6
    with (
        FakeProviderServer(ttft_ms=50, tokens_per_s=100, reply_tokens=15) as fake,
        private_topology(
            LOCAL_MODEL_URL=fake.base_url,
            REPLY_REQUEUE_SECONDS="4",
            REPLY_SWEEP_SECONDS="2",
            CHAT_RATE_BURST="100",
            CHAT_RATE_PER_MINUTE="10000",
        ) as topology,
    ):
        topology.worker("worker")
        url = topology.asgi()
        results: Counter[str] = Counter()
        outcomes: Counter[str] = Counter()
        clients = [WidgetClient(url, results) for _ in range(shoppers)]

        async def shopper(client: WidgetClient, index: int) -> None:
            for turn in range(turns):
                question = QUESTIONS[(index + turn) % len(QUESTIONS)]
                outcomes[await client.ask(question)] += 1
                await asyncio.sleep(0.3)
            await client.close()

        async def outage() -> None:
            await asyncio.sleep(2.5)
            # Messages waiting for their reply when Redis dies: the outage hits traffic.
            results["in flight at the kill"] = results["sent"] - sum(outcomes.values())
            topology.redis.kill()
            await asyncio.sleep(2)
            await asyncio.to_thread(topology.redis.start)

        async def run() -> None:
            await asyncio.gather(outage(), *(shopper(c, i) for i, c in enumerate(clients)))

        started = time.monotonic()
        asyncio.run(run())
        elapsed = time.monotonic() - started

    sent = shoppers * turns
    figures["faults injected"] += 1
    figures["messages sent"] += sent
    figures["completed"] += outcomes["done"]
    figures["escalated"] += outcomes["escalated"]
    figures["lost"] += outcomes["lost"] + outcomes["failed"]
    duplicated = sum(count - 1 for c in clients for count in c.done_frames.values() if count > 1)
    figures["duplicated"] += duplicated
    # The outage hit replies in flight. (Widgets need not reconnect: the pub/sub channel
    # layer subscribes again by itself once Redis is back.)
    assert results["in flight at the kill"] >= 1, results
    (LOGS / "test-private-widgets.log").write_text("\n\n".join("\n".join(c.log) for c in clients))
    # Every message ends in a complete reply, or in a clean handoff when the bot could
    # not answer during the outage; none is lost or answered twice.
    assert outcomes["done"] + outcomes["escalated"] == sent, (
        outcomes,
        elapsed,
        "see var/test-private-widgets.log",
    )
    assert duplicated == 0
    reasons = Conversation.objects.exclude(escalated_at=None).values_list(
        "escalation_reasons", flat=True
    )
    assert all("bot_unavailable" in r for r in reasons), list(reasons)
    # Nothing lost from the database: every message once, one reply to each answered one.
    assert Message.objects.filter(role="shopper").count() == sent
    assert Message.objects.filter(role="bot", status="done").count() == outcomes["done"]
    assert not Message.objects.filter(role="bot", status__in=["queued", "generating"]).exists()
