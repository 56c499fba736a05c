"""Faults on the real path: failing providers, a killed worker, dropped database
connections, and a budget under concurrent load. Nothing lost, nothing answered twice."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.db import connection

from routing.fake_provider import FakeProviderServer
from routing.gateway import NoModelAvailable, answer_stream
from routing.models import LLMCall, LLMModel, Provider, TierRoute
from support_bot.models import Conversation, Message
from support_bot.routing import websocket_urlpatterns
from tests.conftest import ASGI_DB_APPLICATION

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

QUESTIONS = [
    "Do you ship to Norway?",
    "What is your returns policy?",
    "Which tent is best for two people?",
    "How do I reset my password?",
    "Do you accept PayPal?",
    "Is the rain jacket waterproof?",
    "What sizes does the trail runner come in?",
    "Can I pay in instalments?",
]
ATTEMPT_OUTCOMES = ("ok", "error", "fallback", "partial")


class Shopper:
    """Sends messages one at a time; a handed-off conversation is left for a new one."""

    def __init__(self, results: Counter[str], duplicates: list[str]) -> None:
        self.results = results
        self.duplicates = duplicates
        self.ws: WebsocketCommunicator | None = None

    async def _open(self) -> None:
        if self.ws is not None:
            await self.ws.disconnect()
        self.ws = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/chat/")
        assert (await self.ws.connect())[0]
        await self.ws.send_json_to({"type": "hello", "conversation": None})
        assert (await self.ws.receive_json_from(timeout=10))["type"] == "welcome"

    async def ask(self, text: str) -> None:
        if self.ws is None:
            await self._open()
        assert self.ws is not None
        await self.ws.send_json_to(
            {"type": "message", "text": text, "client_id": str(uuid.uuid4())}
        )
        self.results["sent"] += 1
        seqs: Counter[int] = Counter()
        dones = 0
        try:
            async with asyncio.timeout(60):
                while True:
                    frame = await self.ws.receive_json_from(timeout=60)
                    if frame["type"] == "reset":
                        seqs.clear()
                    elif frame["type"] == "delta":
                        seqs[frame["seq"]] += 1
                    elif frame["type"] == "done":
                        dones += 1
                        self.results["completed"] += 1
                        break
                    elif frame["type"] == "message" and frame.get("role") == "system":
                        self.results["escalated"] += 1
                        await self._open()  # this conversation now waits for a person
                        break
        except TimeoutError:
            self.results["lost"] += 1
            return
        if dones > 1 or any(count > 1 for count in seqs.values()):
            self.duplicates.append(text)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.disconnect()


async def test_thirty_percent_provider_faults_lose_and_double_nothing(
    reply_workers: FakeProviderServer, settings: Any, figures: Counter[str]
) -> None:
    settings.CHAT_RATE_BURST = 1000
    settings.CHAT_RATE_PER_MINUTE = 100_000
    settings.LLM_READ_TIMEOUT = 2  # in-process replies; the worker process has the same
    reply_workers.configure(fail_rate=0.3, seed=11, reply_tokens=20)
    results: Counter[str] = Counter()
    duplicates: list[str] = []
    shoppers = [Shopper(results, duplicates) for _ in range(20)]

    async def run(shopper: Shopper, index: int) -> None:
        for turn in range(25):
            await shopper.ask(f"{QUESTIONS[(index + turn) % len(QUESTIONS)]} (ref {index}-{turn})")
        await shopper.close()

    await asyncio.gather(*(run(s, i) for i, s in enumerate(shoppers)))
    stats = reply_workers.stats()
    figures["messages sent"] += results["sent"]
    figures["completed"] += results["completed"]
    figures["escalated"] += results["escalated"]
    figures["lost"] += results["lost"]
    figures["duplicated"] += len(duplicates)
    figures["faults injected"] += sum(
        stats.get("by_fault", {}).get(k, 0) for k in stats.get("by_fault", {}) if k != "ok"
    )
    assert results["sent"] == 500
    assert results["lost"] == 0 and duplicates == []
    assert results["completed"] + results["escalated"] == 500
    reasons = [
        r
        async for r in Conversation.objects.exclude(escalated_at=None).values_list(
            "escalation_reasons", flat=True
        )
    ]
    unavailable = sum("bot_unavailable" in r for r in reasons)
    assert unavailable < 100, "most faults are absorbed by retries and fallback"
    assert len(reasons) == results["escalated"], "every handoff the shopper saw is recorded"
    attempts = await LLMCall.objects.filter(outcome__in=ATTEMPT_OUTCOMES).acount()
    assert attempts == stats["requests"], "every provider attempt is a ledger row"
    done = await Message.objects.filter(role="bot", status="done").acount()
    assert done == results["completed"], "every reply the shopper saw is stored, once"


def test_fifty_concurrent_calls_on_a_budget_for_ten(settings: Any, figures: Counter[str]) -> None:
    from routing import limits

    with FakeProviderServer(reply_tokens=30, ttft_ms=50) as fake:
        TierRoute.objects.all().delete()
        vendor = Provider.objects.create(name="Metered", base_url=fake.base_url)
        model = LLMModel.objects.create(
            provider=vendor,
            name="metered",
            label="Metered",
            max_output_tokens=64,
            input_price_per_mtok=Decimal("10"),
            output_price_per_mtok=Decimal("30"),
        )
        TierRoute.objects.create(tier=1, model=model)
        limits.reset_backend()
        if os.environ.get("REDIS_URL"):
            limits.backend().client.flushdb()
        worst = (Decimal(60) * 10 + Decimal(64) * 30) / 1_000_000
        settings.DAILY_BUDGET_USD = worst * 10
        messages = [{"role": "user", "content": "Do you ship to Spain?"}]
        outcome: Counter[str] = Counter()

        def call(n: int) -> None:
            try:
                answer_stream(
                    tier=1,
                    messages=messages,
                    conversation_id=n,
                    message_id=None,
                    on_piece=lambda p: None,
                    on_reset=lambda: None,
                )
                outcome["answered"] += 1
            except NoModelAvailable:
                outcome["refused"] += 1
            finally:
                connection.close()

        threads = [threading.Thread(target=call, args=(n,)) for n in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        spent = sum(LLMCall.objects.values_list("cost_usd", flat=True), Decimal(0))
    figures["messages sent"] += 50
    assert outcome["answered"] + outcome["refused"] == 50
    assert outcome["answered"] >= 10, "the budget covers ten calls at their worst case"
    assert spent <= settings.DAILY_BUDGET_USD + worst, (
        f"overspent: {spent} > budget + one worst case"
    )


def test_dropped_database_connections_fail_cleanly_and_recover(asgi_server: str) -> None:
    """The running server's database connections are cut; it recovers by itself."""
    import httpx

    health = asgi_server.replace("ws://", "http://") + "/healthz"
    assert httpx.get(health, timeout=10).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = %s",
            [ASGI_DB_APPLICATION],
        )
        cut = cursor.fetchone()[0]
    assert cut >= 1, "the server had a connection to cut"
    codes = [httpx.get(health, timeout=10).status_code for _ in range(3)]
    assert set(codes) <= {200, 500}, codes  # a clean error at worst, never a hang
    assert codes[-1] == 200, "the next request reconnects by itself"


async def test_a_reply_orphaned_by_a_dead_worker_is_taken_over_once(
    reply_workers: FakeProviderServer, settings: Any, figures: Counter[str]
) -> None:
    """What Celery's redelivery after a SIGKILL meets: a reply claimed by a worker that
    stopped beating. A live claim is never stolen; an orphaned one is taken over, widgets
    are told to reset, and the reply is stored once."""
    from asgiref.sync import sync_to_async
    from channels.layers import get_channel_layer
    from django.utils import timezone

    from support_bot.models import Conversation
    from support_bot.services.messages import REPLY_LEASE, reply_claim
    from support_bot.services.replies import reply_generate

    conversation = await Conversation.objects.acreate()
    shopper = await Message.objects.acreate(
        conversation=conversation,
        role="shopper",
        text="Do you ship to Norway?",
        client_id=uuid.uuid4(),
    )
    reply = await Message.objects.acreate(
        conversation=conversation, role="bot", status="queued", reply_to=shopper
    )
    assert await sync_to_async(reply_claim)(reply_id=reply.pk)  # the worker that will die
    assert not await sync_to_async(reply_claim)(reply_id=reply.pk), "a live claim is not stolen"
    await Message.objects.filter(pk=reply.pk).aupdate(
        heartbeat_at=timezone.now() - REPLY_LEASE * 2, text="Echo: half a rep"
    )
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(conversation.group_name, channel)
    await sync_to_async(reply_generate, thread_sensitive=False)(reply_id=reply.pk)
    frames: list[dict[str, Any]] = []
    while not frames or frames[-1]["type"] != "done":
        frames.append((await asyncio.wait_for(layer.receive(channel), 10))["frame"])
    await reply.arefresh_from_db()
    figures["faults injected"] += 1
    figures["messages sent"] += 1
    figures["completed"] += 1
    assert frames[0] == {"type": "reset", "message_id": reply.pk, "reason": "redelivered"}
    deltas = [f for f in frames if f["type"] == "delta"]
    assert [d["seq"] for d in deltas] == list(range(1, len(deltas) + 1))
    assert (reply.status, reply.attempts) == ("done", 2)
    assert reply.text == frames[-1]["text"] and reply.text.startswith("Echo: <shopper>Do you ship")
    assert await Message.objects.filter(conversation=conversation, role="bot").acount() == 1
