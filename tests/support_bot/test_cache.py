"""The answer cache, end to end: websocket → reply → cache → widget and ledger.

On the embedded default the cache lives in the process; on the real topology it lives in
Redis and the replies are written by the worker process, so every hit here crossed
processes through the store and its log.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from orders.models import Customer, Order, Policy
from routing.decisions import route_decide
from routing.fake_provider import FakeProviderServer
from routing.models import LLMCall
from support_bot.cache.keys import CacheQuery
from support_bot.cache.services import (
    cache_flush,
    cache_lookup,
    cache_query,
    cache_reset,
    cache_store,
    question_is_general,
    single_flight,
)
from support_bot.identity import customer_token_make
from support_bot.models import Message
from support_bot.services.conversations import conversation_open
from support_bot.services.messages import message_receive
from support_bot.services.replies import reply_generate
from tests.factories import PolicyFactory
from tests.support_bot.test_reply_streaming import (
    ask,
    deltas,
    frames_until_done,
    ledger_row,
    open_chat,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded]


@pytest.fixture(autouse=True)
def empty_cache(warm_models: None) -> Iterator[None]:
    cache_reset()
    cache_flush(scope=None)
    yield
    cache_flush(scope=None)
    cache_reset()


async def ask_once(text: str, customer: Customer | None = None) -> list[dict[str, Any]]:
    """One question in a new conversation: the frames up to the reply's end."""
    hello = (
        {"customer_token": customer_token_make(external_id=customer.external_id)}
        if customer
        else {}
    )
    ws, _ = await open_chat(**hello)
    try:
        await ask(ws, text)
        return await frames_until_done(ws)
    finally:
        await ws.disconnect()


async def outcome(frames: list[dict[str, Any]]) -> str:
    """The reply's ledger outcomes. A cache hit is booked just after its ``done`` goes
    out, so on the real topology its row may be a moment behind."""
    message_id = frames[-1]["message_id"]
    await ledger_row(message_id)
    rows = LLMCall.objects.filter(message_id=message_id).values_list("outcome", flat=True)
    return ",".join([row async for row in rows])


def query_for(text: str, customer: Customer | None = None) -> CacheQuery:
    decision = route_decide(text=text, customer_known=customer is not None)
    query = cache_query(
        text=text,
        decision=decision,
        customer_id=customer.pk if customer else None,
        language="en",
    )
    assert query is not None, f"{text!r} should be cacheable"
    return query


# --- hits, streamed and in the ledger ------------------------------------------------


async def test_a_repeated_question_streams_from_the_cache_and_is_in_the_ledger(
    reply_workers: FakeProviderServer,
) -> None:
    first = await ask_once("What is your returns policy?")
    second = await ask_once("What is your returns policy?")
    third = await ask_once("what is your return policy")

    assert reply_workers.stats()["requests"] == 1
    assert first[-1]["type"] == second[-1]["type"] == third[-1]["type"] == "done"
    assert second[-1]["text"] == third[-1]["text"] == first[-1]["text"]
    # The same frames as a live answer: deltas in order, then done with the whole text.
    streamed = deltas(second)
    assert [d["seq"] for d in streamed] == list(range(1, len(streamed) + 1))
    assert "".join(d["text"] for d in streamed).strip() == second[-1]["text"]
    assert [f["type"] for f in second].count("done") == 1
    assert await outcome(first) == "ok"
    assert await outcome(second) == "cache_hit"
    assert await outcome(third) == "cache_hit"
    reply = await Message.objects.aget(pk=second[-1]["message_id"])
    assert (reply.status, reply.text) == ("done", first[-1]["text"])


# --- who may see what ---------------------------------------------------------------


async def test_another_customer_asking_the_identical_question_misses(
    reply_workers: FakeProviderServer, customer: Customer, other_customer: Customer
) -> None:
    # The fake model repeats its whole prompt: the answer shows what the model was given.
    reply_workers.configure(echo="system", reply_tokens=400)
    mine = await ask_once("I want to cancel my order", customer)
    again = await ask_once("I want to cancel my order", customer)
    theirs = await ask_once("I want to cancel my order", other_customer)
    anonymous = await ask_once("I want to cancel my order")

    assert await outcome(again) == "cache_hit"
    assert await outcome(theirs) == "ok"
    assert await outcome(anonymous) == "ok"  # an answer built from Alice's orders is hers
    assert reply_workers.stats()["requests"] == 3
    assert "100001" in mine[-1]["text"] and mine[-1]["text"] == again[-1]["text"]
    assert "100001" not in theirs[-1]["text"] and "Alice" not in theirs[-1]["text"]
    assert "100001" not in anonymous[-1]["text"] and "Alice" not in anonymous[-1]["text"]


async def test_a_general_question_is_answered_without_customer_data_and_shared(
    reply_workers: FakeProviderServer, customer: Customer, other_customer: Customer
) -> None:
    reply_workers.configure(echo="system", reply_tokens=400)
    mine = await ask_once("How do I reset my password?", customer)
    theirs = await ask_once("How do I reset my password?", other_customer)
    anonymous = await ask_once("How do I reset my password?")

    assert await outcome(mine) == "ok"
    assert await outcome(theirs) == "cache_hit"
    assert await outcome(anonymous) == "cache_hit"
    assert reply_workers.stats()["requests"] == 1
    prompt = mine[-1]["text"]  # what the model was given, echoed
    assert "general question" in prompt
    for private in ("Alice", "100001", "alice@example.com", "Bob", "200002"):
        assert private not in prompt
    assert theirs[-1]["text"] == anonymous[-1]["text"] == prompt


def test_an_answer_written_after_earlier_turns_is_not_shared(
    reply_workers: FakeProviderServer,
) -> None:
    # The prompt of a second question holds the first one (or its summary), and an
    # answer may quote it: such an answer is never served to anyone else.
    def answered(conversation_id: int, text: str) -> str:
        received = message_receive(
            conversation_id=conversation_id, text=text, client_id=uuid.uuid4()
        )
        reply_id = received.reply_id
        assert reply_id is not None
        reply_generate(reply_id=reply_id)  # or a worker process already took it
        deadline = time.monotonic() + 20
        booked = LLMCall.objects.filter(message_id=reply_id)
        while Message.objects.get(pk=reply_id).status != "done" or not booked.exists():
            assert time.monotonic() < deadline, f"no reply to {text!r}"
            time.sleep(0.05)
        return ",".join(
            LLMCall.objects.filter(message_id=reply_id).values_list("outcome", flat=True)
        )

    first = conversation_open(token=None, customer=None, language="en").pk
    answered(first, "my email is secret.person@example.org, do you ship to Norway?")
    assert answered(first, "What is your returns policy?") == "ok"

    stranger = conversation_open(token=None, customer=None, language="en").pk
    again = conversation_open(token=None, customer=None, language="en").pk

    assert answered(stranger, "What is your returns policy?") == "ok", "answered afresh"
    assert answered(again, "What is your returns policy?") == "cache_hit", (
        "a first question's answer is shared"
    )
    assert reply_workers.stats()["requests"] == 3


async def test_an_order_number_must_match_for_a_hit(reply_workers: FakeProviderServer) -> None:
    await ask_once("Can I change the items in order 3707955617?")
    other = await ask_once("Can I change the items in order 732201349959?")
    same = await ask_once("can I change the items in order 3707955617")

    assert await outcome(other) == "ok"
    assert "732201349959" in other[-1]["text"]
    assert await outcome(same) == "cache_hit"
    assert reply_workers.stats()["requests"] == 2


# --- invalidation -------------------------------------------------------------------


async def test_a_changed_order_is_not_answered_from_the_cache(
    reply_workers: FakeProviderServer, customer: Customer
) -> None:
    question = "Can I change the items in order 100001?"
    await ask_once(question, customer)
    assert await outcome(await ask_once(question, customer)) == "cache_hit"

    await Order.objects.filter(number="100001").aupdate(status=Order.Status.CANCELLED)
    after = await ask_once(question, customer)

    assert await outcome(after) == "ok"
    assert reply_workers.stats()["requests"] == 2


async def test_a_policy_edit_retires_the_shared_answers(reply_workers: FakeProviderServer) -> None:
    policy = await sync_to_async(PolicyFactory.create)(key="returns", title="Returns")
    await ask_once("What is your returns policy?")
    assert await outcome(await ask_once("What is your returns policy?")) == "cache_hit"

    await Policy.objects.filter(pk=policy.pk).aupdate(
        body="Returns are free within 60 days.", version=2
    )
    after = await ask_once("What is your returns policy?")

    assert await outcome(after) == "ok"
    assert reply_workers.stats()["requests"] == 2


async def test_failed_replies_are_not_cached(reply_workers: FakeProviderServer) -> None:
    reply_workers.script(["http_401"])
    ws, _ = await open_chat()
    try:
        await ask(ws, "Do you ship to Canada?")
        seen: list[dict[str, Any]] = []
        async with asyncio.timeout(20):  # no model could answer: a person takes over
            while not (seen and seen[-1]["type"] == "message" and seen[-1]["role"] == "system"):
                seen.append(await ws.receive_json_from(timeout=20))
    finally:
        await ws.disconnect()
    assert "done" not in [f["type"] for f in seen]

    answered = await ask_once("Do you ship to Canada?")

    assert answered[-1]["type"] == "done" and await outcome(answered) == "ok"


async def test_answers_in_a_conversation_handed_to_a_person_are_uncached(
    reply_workers: FakeProviderServer,
) -> None:
    ws, _ = await open_chat()
    try:
        await ask(ws, "What payment methods do you accept?")
        await frames_until_done(ws)
        await ask(ws, "That answer is wrong. I will sue you over this.")
        async with asyncio.timeout(10):
            while (await ws.receive_json_from(timeout=10))["type"] != "state":
                pass
    finally:
        await ws.disconnect()

    later = await ask_once("What payment methods do you accept?")

    assert await outcome(later) == "ok"


# --- single flight ------------------------------------------------------------------


async def test_identical_questions_at_once_make_one_provider_call(
    reply_workers: FakeProviderServer,
) -> None:
    reply_workers.configure(ttft_ms=500)
    chats = [await open_chat() for _ in range(4)]
    try:
        await asyncio.gather(*(ask(ws, "Which payment methods do you accept?") for ws, _ in chats))
        replies = await asyncio.gather(*(frames_until_done(ws, timeout=30) for ws, _ in chats))
    finally:
        for ws, _ in chats:
            await ws.disconnect()

    assert reply_workers.stats()["requests"] == 1
    assert {frames[-1]["type"] for frames in replies} == {"done"}
    assert len({frames[-1]["text"] for frames in replies}) == 1
    outcomes = sorted([await outcome(frames) for frames in replies])
    assert outcomes == ["cache_hit", "cache_hit", "cache_hit", "ok"]


def test_of_many_workers_asking_at_once_one_answers_and_the_others_wait() -> None:
    query = query_for("Which payment methods do you accept?")
    calls: list[int] = []
    served: list[str] = []

    def worker() -> None:
        with single_flight(query) as waited:
            if waited is None:
                calls.append(1)
                time.sleep(0.5)  # a slow provider
                cache_store(query, answer="Card or PayPal.", tier=1, cost_usd=Decimal("0.001"))
                served.append("Card or PayPal.")
            else:
                served.append(waited.text)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(calls) == 1
    assert served == ["Card or PayPal."] * 6


def test_a_waiter_whose_leader_fails_answers_itself(settings: Any) -> None:
    settings.CACHE_WAIT_SECONDS = 5
    query = query_for("Which payment methods do you accept?")
    with single_flight(query) as leader:
        assert leader is None
        started = time.monotonic()
        with single_flight(query) as waiter:  # the leader never stores: waits, then None
            pass
    assert waiter is None and time.monotonic() - started >= 4


# --- the store's limits -------------------------------------------------------------


def test_the_least_recently_used_entry_is_evicted(settings: Any) -> None:
    settings.CACHE_MAX_ENTRIES = 2
    first, second, third = (
        query_for("What is your returns policy?"),
        query_for("Do you ship to Canada?"),
        query_for("Which payment methods do you accept?"),
    )
    for query in (first, second):
        cache_store(query, answer=f"answer to {query.text}", tier=1, cost_usd=Decimal(0))
    assert cache_lookup(first) is not None  # first is now the more recently used

    cache_store(third, answer="answer to the third", tier=1, cost_usd=Decimal(0))

    assert cache_lookup(first) is not None
    assert cache_lookup(second) is None
    assert cache_lookup(third) is not None


def test_an_entry_expires_after_its_ttl(settings: Any) -> None:
    settings.CACHE_TTL_SECONDS = 1
    query = query_for("Do you ship to Canada?")
    cache_store(query, answer="Yes, we do.", tier=1, cost_usd=Decimal(0))
    assert cache_lookup(query) is not None
    time.sleep(1.2)
    assert cache_lookup(query) is None


def test_a_semantic_hit_needs_the_same_action(settings: Any) -> None:
    cache_store(
        query_for("How do I delete my account?"),
        answer="Go to Settings, then Delete account.",
        tier=1,
        cost_usd=Decimal(0),
    )
    assert cache_lookup(query_for("how can I delete my account")) is not None
    assert cache_lookup(query_for("How do I create an account?")) is None


def test_a_paraphrase_of_the_same_answer_intent_hits_whatever_its_wording() -> None:
    stored = query_for("How do I delete my account?")
    asked = query_for("I'd like to get rid of my profile for good")
    similarity = float(
        np.frombuffer(stored.vector, np.float32) @ np.frombuffer(asked.vector, np.float32)
    )
    assert similarity < 0.7  # far below the cosine rule's threshold
    cache_store(stored, answer="Go to Settings, then Delete account.", tier=1, cost_usd=Decimal(0))

    hit = cache_lookup(asked)

    assert hit is not None and hit.text == "Go to Settings, then Delete account."
    assert not hit.exact


@pytest.mark.parametrize(
    ("stored", "asked"),
    [
        ("Which mattress is best for back pain?", "Which mattress should I buy on a small budget?"),
        (
            "can you recommend a running shoe for flat feet",
            "which shoes do you recommend for hiking in winter",
        ),
    ],
)
def test_a_recommendation_is_not_served_for_another_recommendation(stored: str, asked: str) -> None:
    # Both are confidently the same tier-2 intent, but its answer turns on what exactly
    # is asked: only an answer to the same question, worded alike, may be served.
    first, second = query_for(stored), query_for(asked)
    assert first.intent == second.intent and first.intent.endswith("@2")
    assert not first.keyed and not second.keyed
    cache_store(first, answer="The Ortho, for a firm back.", tier=2, cost_usd=Decimal("0.01"))

    assert cache_lookup(second) is None
    assert cache_lookup(query_for(stored.lower().rstrip("?"))) is not None


def test_an_action_the_intent_implies_does_not_split_its_answer() -> None:
    # Nearly every phrasing of the refund-status intent names a refund, so naming it or
    # not says nothing more once the intent is known.
    from support_bot.cache.frames import answer_frame, question_frame

    named, unnamed = "I'm still waiting for my refund", "has my money arrived on my card yet"
    assert question_frame(named) != question_frame(unnamed)
    assert answer_frame(named, "refund_status") == answer_frame(unnamed, "refund_status")


def test_an_action_against_the_intent_still_misses() -> None:
    # Filed under the account-creation intent, "delete" is an action that intent does
    # not imply, so the question keeps it and never gets the creation answer.
    from support_bot.cache.frames import answer_frame

    assert answer_frame("how do I delete my account", "create_account") == {"delete"}
    assert answer_frame("how do I open an account", "create_account") == frozenset()


@pytest.mark.parametrize(
    ("text", "general"),
    [
        ("How do I reset my password?", True),
        ("which countries do you ship to?", True),
        ("I want to cancel my order", False),  # about their order
        ("can I still return order 100001?", False),  # names one of their records
        ("I forgot the password of alice@example.com", False),
        ("and the other one?", False),  # a guess of an intent
    ],
)
def test_only_a_confident_question_about_no_ones_records_is_general(
    text: str, general: bool
) -> None:
    decision = route_decide(text=text, customer_known=True)
    assert question_is_general(text=text, decision=decision) is general, decision


def test_the_same_answer_intent_with_another_entity_misses() -> None:
    cache_store(
        query_for("Do you ship to Canada?"), answer="Yes, to Canada.", tier=1, cost_usd=Decimal(0)
    )

    assert cache_lookup(query_for("can I get a delivery sent to Canada")) is not None
    assert cache_lookup(query_for("Do you ship to Mexico?")) is None


def test_an_unconfident_intent_falls_back_to_the_cosine_rule(settings: Any) -> None:
    settings.CACHE_INTENT_CONFIDENCE = Decimal("0.99")  # no intent is this sure
    stored = query_for("How do I delete my account?")
    assert not stored.keyed
    cache_store(stored, answer="Go to Settings, then Delete account.", tier=1, cost_usd=Decimal(0))

    assert cache_lookup(query_for("I'd like to get rid of my profile for good")) is None
    assert cache_lookup(query_for("how can I delete my account")) is not None


# --- a store that is down -----------------------------------------------------------


def test_chat_works_when_the_cache_store_is_down(
    settings: Any, reply_workers: FakeProviderServer
) -> None:
    settings.CACHE_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    cache_reset()
    query = query_for("Do you ship to Canada?")
    started = time.monotonic()
    assert cache_lookup(query) is None
    assert cache_store(query, answer="Yes.", tier=1, cost_usd=0) is None  # type: ignore[arg-type]
    with single_flight(query) as waited:
        assert waited is None
    assert time.monotonic() - started < 2

    conversation = conversation_open(token=None, customer=None, language="en")
    received = message_receive(
        conversation_id=conversation.pk, text="Do you ship to Canada?", client_id=uuid.uuid4()
    )
    assert received.reply_id is not None
    reply_generate(reply_id=received.reply_id)

    reply = Message.objects.get(pk=received.reply_id)
    assert reply.status == "done" and reply.text.startswith("Echo:")


# --- the admin page -----------------------------------------------------------------


def test_staff_see_the_figures_and_flush_a_customers_answers(
    admin_user: Any, customer: Customer, other_customer: Customer
) -> None:
    mine = query_for("How do I reset my password?", customer)
    theirs = query_for("How do I reset my password?", other_customer)
    shared = query_for("How do I reset my password?")
    for query in (mine, theirs, shared):
        cache_store(query, answer="Use the reset link.", tier=1, cost_usd=Decimal(0))
    client = Client()
    assert client.get("/admin/cache/").status_code == 302  # to the login page
    client.force_login(admin_user)

    page = client.get("/admin/cache/")
    assert page.status_code == 200
    assert b"Hit rate" in page.content and b"Flush everything" in page.content

    client.post("/admin/cache/", {"scope": "customer", "customer": customer.external_id})
    assert cache_lookup(mine) is None
    assert cache_lookup(theirs) is not None and cache_lookup(shared) is not None
    client.post("/admin/cache/", {"scope": "shared"})
    assert cache_lookup(shared) is None and cache_lookup(theirs) is not None
    client.post("/admin/cache/", {"scope": "all"})
    assert cache_lookup(theirs) is None
