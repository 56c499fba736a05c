"""The widget's websocket protocol, from the shopper's side (docs/protocol.md)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.core import signing

from orders.models import Customer
from support_bot.asgi import application
from support_bot.identity import customer_token_make
from support_bot.models import Conversation, Message
from support_bot.routing import websocket_urlpatterns
from support_bot.services.conversations import _TOKEN_SALT

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded]

app = URLRouter(websocket_urlpatterns)


@pytest.fixture(autouse=True)
def no_replies(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the protocol; reply streaming has its own tests."""

    async def nothing(reply_id: int, text: str | None = None) -> None:
        return None

    monkeypatch.setattr("support_bot.consumers.reply_enqueue", nothing)


class Shopper:
    def __init__(self) -> None:
        self.ws = WebsocketCommunicator(app, "/ws/chat/")

    async def __aenter__(self) -> Shopper:
        connected, _ = await self.ws.connect()
        assert connected
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.disconnect()

    async def send(self, frame: Any) -> None:
        await self.ws.send_to(text_data=frame if isinstance(frame, str) else json.dumps(frame))

    async def receive(self) -> dict[str, Any]:
        return json.loads(await self.ws.receive_from(timeout=5))

    async def hello(self, **fields: Any) -> dict[str, Any]:
        await self.send({"type": "hello", "conversation": None, "customer_token": None, **fields})
        frame = await self.receive()
        while frame["type"] != "welcome":
            frame = await self.receive()
        return frame

    async def say(self, text: str, client_id: str | None = None) -> dict[str, Any]:
        await self.send(
            {"type": "message", "text": text, "client_id": client_id or str(uuid.uuid4())}
        )
        return await self.receive()


@pytest.fixture
async def shopper() -> AsyncIterator[Shopper]:
    async with Shopper() as s:
        yield s


def token_for(customer: Customer) -> str:
    return customer_token_make(external_id=customer.external_id)


async def test_a_new_shopper_gets_a_conversation_and_an_ack(shopper: Shopper) -> None:
    welcome = await shopper.hello()
    assert welcome["state"] == "bot" and welcome["messages"] == [] and welcome["customer"] is None
    ack = await shopper.say("Hi, what is your returns policy?")
    assert ack["type"] == "ack"
    message = await Message.objects.aget(pk=ack["message_id"])
    assert message.text == "Hi, what is your returns policy?" and message.role == "shopper"
    assert await Message.objects.filter(reply_to=message, status="queued").acount() == 1


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "bad_json"),
        ("[1, 2]", "bad_frame"),
        ({"type": "launch_missiles"}, "unknown_type"),
        ({"type": "message", "text": "hi", "client_id": "not-a-uuid"}, "bad_frame"),
        ({"type": "message", "text": "", "client_id": str(uuid.uuid4())}, "bad_frame"),
        ({"type": "message", "text": 42, "client_id": str(uuid.uuid4())}, "bad_frame"),
        ({"type": "message", "text": "x" * 4001, "client_id": str(uuid.uuid4())}, "too_large"),
        ("x" * 9000, "too_large"),
        ({"type": "message", "text": "hi\u0000", "client_id": str(uuid.uuid4())}, "bad_frame"),
        ({"type": "contact", "email": "a\u0000@example.com"}, "bad_frame"),
    ],
)
async def test_bad_frames_get_an_error_and_change_nothing(
    shopper: Shopper, frame: Any, code: str
) -> None:
    await shopper.hello()
    before = await Message.objects.acount()
    await shopper.send(frame)
    error = await shopper.receive()
    assert error["type"] == "error" and error["code"] == code and error["message"]
    assert await Message.objects.acount() == before
    # The connection stays usable.
    assert (await shopper.say("still there?"))["type"] == "ack"


async def test_frames_before_hello_are_refused(shopper: Shopper) -> None:
    await shopper.send({"type": "message", "text": "hi", "client_id": str(uuid.uuid4())})
    assert (await shopper.receive())["code"] == "hello_required"
    assert await Message.objects.acount() == 0


async def test_a_resent_message_is_stored_and_answered_once(shopper: Shopper) -> None:
    await shopper.hello()
    client_id = str(uuid.uuid4())
    first = await shopper.say("Where is my parcel?", client_id)
    again = await shopper.say("Where is my parcel?", client_id)
    assert first["message_id"] == again["message_id"]
    assert await Message.objects.filter(role="shopper").acount() == 1
    assert await Message.objects.filter(role="bot").acount() == 1


async def test_sending_too_fast_is_refused_without_storing(shopper: Shopper, settings: Any) -> None:
    await shopper.hello()
    frames = [await shopper.say(f"message {n}") for n in range(settings.CHAT_RATE_BURST + 2)]
    assert [f["type"] for f in frames].count("ack") == settings.CHAT_RATE_BURST
    refused = [f for f in frames if f["type"] == "error"]
    assert refused and all(f["code"] == "rate_limited" for f in refused)
    assert await Message.objects.filter(role="shopper").acount() == settings.CHAT_RATE_BURST


def from_address(address: str) -> Any:
    """The chat app as reached from one client address."""

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await app({**scope, "client": (address, 40000)}, receive, send)

    return asgi


async def test_one_address_cannot_get_around_the_rate_by_opening_connections(
    settings: Any,
) -> None:
    settings.CHAT_IP_MESSAGES_PER_MINUTE = 3
    settings.CHAT_RATE_BURST = 100
    address = f"2001:db8::{uuid.uuid4().hex[:4]}"
    frames = []
    for n in range(5):  # a new connection for every message
        ws = WebsocketCommunicator(from_address(address), "/ws/chat/")
        assert (await ws.connect())[0]
        await ws.send_json_to({"type": "hello", "conversation": None})
        assert (await ws.receive_json_from(timeout=5))["type"] == "welcome"
        await ws.send_json_to(
            {"type": "message", "text": f"hi {n}", "client_id": str(uuid.uuid4())}
        )
        frames.append(await ws.receive_json_from(timeout=5))
        await ws.disconnect()
    assert [f["type"] for f in frames] == ["ack"] * 3 + ["error"] * 2
    assert frames[-1]["code"] == "rate_limited"
    assert await Message.objects.filter(role="shopper").acount() == 3
    # Another address is not held back by this one.
    other = WebsocketCommunicator(from_address("198.51.100.7"), "/ws/chat/")
    assert (await other.connect())[0]
    await other.send_json_to({"type": "hello", "conversation": None})
    await other.receive_json_from(timeout=5)
    await other.send_json_to({"type": "message", "text": "hi", "client_id": str(uuid.uuid4())})
    assert (await other.receive_json_from(timeout=5))["type"] == "ack"
    await other.disconnect()


async def test_too_many_connections_from_one_address_are_turned_away(settings: Any) -> None:
    settings.CHAT_IP_CONNECTIONS_PER_MINUTE = 2
    address = f"2001:db8:1::{uuid.uuid4().hex[:4]}"
    for _ in range(2):
        ws = WebsocketCommunicator(from_address(address), "/ws/chat/")
        assert (await ws.connect())[0]
        await ws.disconnect()
    ws = WebsocketCommunicator(from_address(address), "/ws/chat/")
    await ws.connect()
    refused = await ws.receive_json_from(timeout=5)
    assert (refused["type"], refused["code"]) == ("error", "rate_limited")
    assert (await ws.receive_output(timeout=5))["type"] == "websocket.close"
    assert await Conversation.objects.acount() == 0


async def test_reconnecting_with_the_token_shows_the_conversation_so_far(shopper: Shopper) -> None:
    welcome = await shopper.hello()
    await shopper.say("First question")
    async with Shopper() as again:
        resumed = await again.hello(conversation=welcome["conversation"])
    assert [m["text"] for m in resumed["messages"]] == ["First question"]
    # The same conversation (the token is re-signed, so its text may differ).
    assert await Conversation.objects.acount() == 1
    assert signing.loads(resumed["conversation"], salt=_TOKEN_SALT) == signing.loads(
        welcome["conversation"], salt=_TOKEN_SALT
    )


async def test_a_signed_in_customer_owns_the_conversation(
    shopper: Shopper, customer: Customer
) -> None:
    welcome = await shopper.hello(customer_token=token_for(customer))
    assert welcome["customer"] == {"name": "Alice Shopper"}
    conversation = await Conversation.objects.aget()
    assert conversation.customer_id == customer.pk


async def test_another_customer_cannot_attach_to_a_conversation(
    shopper: Shopper, customer: Customer, other_customer: Customer
) -> None:
    alice = await shopper.hello(customer_token=token_for(customer))
    await shopper.say("My order 100001 is late")
    async with Shopper() as bob:
        await bob.send(
            {
                "type": "hello",
                "conversation": alice["conversation"],
                "customer_token": token_for(other_customer),
            }
        )
        refused = await bob.receive()
        welcome = await bob.receive()
    assert refused == {"type": "error", "code": "forbidden", "message": refused["message"]}
    assert welcome["type"] == "welcome" and welcome["messages"] == []
    assert welcome["conversation"] != alice["conversation"]
    assert "100001" not in json.dumps(welcome)


async def test_an_anonymous_shopper_cannot_take_over_a_signed_in_conversation(
    shopper: Shopper, customer: Customer
) -> None:
    alice = await shopper.hello(customer_token=token_for(customer))
    await shopper.say("My address is 1 Secret Lane")
    async with Shopper() as stranger:
        await stranger.send({"type": "hello", "conversation": alice["conversation"]})
        assert (await stranger.receive())["code"] == "forbidden"
        welcome = await stranger.receive()
    assert welcome["messages"] == [] and welcome["customer"] is None


async def test_a_forged_customer_token_is_refused(shopper: Shopper, customer: Customer) -> None:
    forged = customer_token_make(external_id=customer.external_id, secret="guessed")
    await shopper.send({"type": "hello", "customer_token": forged})
    assert (await shopper.receive())["code"] == "forbidden"
    assert await Conversation.objects.acount() == 0


async def test_verifying_an_order_attaches_its_customer(
    shopper: Shopper, customer: Customer
) -> None:
    await shopper.hello()
    await shopper.send({"type": "verify", "order_number": "100001", "contact": "ALICE@example.com"})
    assert await shopper.receive() == {"type": "verified", "customer": {"name": "Alice Shopper"}}
    conversation = await Conversation.objects.aget()
    assert conversation.customer_id == customer.pk and conversation.identity == "verified"


async def test_wrong_details_and_unknown_orders_look_the_same(
    shopper: Shopper, customer: Customer, other_customer: Customer
) -> None:
    await shopper.hello()
    await shopper.send({"type": "verify", "order_number": "100001", "contact": "bob@example.org"})
    wrong_contact = await shopper.receive()
    await shopper.send({"type": "verify", "order_number": "999999", "contact": "bob@example.org"})
    no_such_order = await shopper.receive()
    assert wrong_contact == no_such_order
    assert wrong_contact["code"] == "verification_failed"
    assert (await Conversation.objects.aget()).customer_id is None


async def test_repeated_failed_verification_locks_it(
    shopper: Shopper, customer: Customer, settings: Any
) -> None:
    await shopper.hello()
    codes = []
    for guess in range(settings.VERIFY_MAX_FAILURES + 1):
        await shopper.send(
            {
                "type": "verify",
                "order_number": str(100000 + guess),
                "contact": "nobody@nowhere.test",
            }
        )
        codes.append((await shopper.receive())["code"])
    assert codes[-2:] == ["verification_locked", "verification_locked"]
    # Even the right details are refused while locked.
    await shopper.send({"type": "verify", "order_number": "100001", "contact": "alice@example.com"})
    assert (await shopper.receive())["code"] == "verification_locked"
    assert (await Conversation.objects.aget()).customer_id is None


async def test_websockets_from_foreign_origins_are_refused() -> None:
    ws = WebsocketCommunicator(
        application, "/ws/chat/", headers=[(b"origin", b"https://evil.example")]
    )
    connected, _ = await ws.connect()
    assert not connected
    await ws.disconnect()
    ws = WebsocketCommunicator(
        application, "/ws/chat/", headers=[(b"origin", b"http://localhost:8000")]
    )
    connected, _ = await ws.connect()
    assert connected
    await ws.disconnect()


async def test_history_never_shows_other_conversations(
    shopper: Shopper, customer: Customer, other_customer: Customer
) -> None:
    await shopper.hello(customer_token=token_for(other_customer))
    await shopper.say("Bob's private question")
    async with Shopper() as alice:
        welcome = await alice.hello(customer_token=token_for(customer))
    assert welcome["messages"] == []
    assert await sync_to_async(Conversation.objects.count)() == 2


async def test_relaying_a_reply_frame_costs_no_database_check(
    shopper: Shopper, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Channels checks the database connections in a worker thread before every event it
    # dispatches; a reply is several events, and relaying them needs no database.
    from channels.layers import get_channel_layer

    from support_bot.streams import frame_event

    await shopper.hello()
    conversation = await Conversation.objects.order_by("-id").afirst()
    assert conversation is not None
    checks: list[str] = []
    monkeypatch.setattr("channels.consumer.aclose_old_connections", _counting(checks, "dispatch"))

    delta = {"type": "delta", "message_id": 1, "seq": 1, "text": "Hello"}
    await get_channel_layer().group_send(conversation.group_name, frame_event(delta))

    assert await shopper.receive() == delta
    assert checks == []


def _counting(calls: list[str], name: str) -> Any:
    async def check() -> None:
        calls.append(name)

    return check
