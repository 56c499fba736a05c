"""The agent console: the /agent/ page, the /ws/agent/ socket, and the shopper's side of a
handoff over the chat socket (docs/agent_protocol.md, docs/protocol.md)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group, User
from django.test import Client

from orders.models import Customer
from routing.fake_provider import FakeProviderServer
from support_bot.asgi import application
from support_bot.identity import customer_token_make
from support_bot.models import Conversation, InternalNote, Message, Rating
from support_bot.routing import websocket_urlpatterns
from support_bot.services.handoff import conversation_escalate, escalation_claim
from tests.conftest import SUPPORT_AGENTS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded]

ORIGIN = (b"origin", b"http://localhost")
Frame = dict[str, Any]


@pytest.fixture
def no_replies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Most of these tests are about people; reply streaming has its own tests."""

    async def nothing(reply_id: int, text: str | None = None) -> None:
        return None

    monkeypatch.setattr("support_bot.consumers.reply_enqueue", nothing)


def make_user(username: str, *, agent: bool, first_name: str = "") -> User:
    user = User.objects.create_user(username, f"{username}@example.com", None, is_staff=not agent)
    user.first_name = first_name
    user.save()
    if agent:
        user.groups.add(Group.objects.get_or_create(name=SUPPORT_AGENTS)[0])
    return user


def session_cookie(user: User) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


class Socket:
    """A websocket through the real ASGI stack (origin check, session auth)."""

    def __init__(
        self,
        path: str,
        *,
        cookie: bytes | None = None,
        app: Any = application,
        origin: bytes = ORIGIN[1],
    ) -> None:
        headers = [(b"origin", origin)] + ([(b"cookie", cookie)] if cookie else [])
        self.ws = WebsocketCommunicator(app, path, headers=headers)

    async def connect(self) -> bool:
        connected, _ = await self.ws.connect()
        if not connected:
            # A refused consumer still listens on the channel layer until it is told the
            # socket is gone; left running, it would hold channels-redis's receive lock
            # on this test's event loop.
            await self.ws.disconnect()
        return bool(connected)

    async def send(self, frame: Frame) -> None:
        await self.ws.send_to(text_data=json.dumps(frame))

    async def receive(self, timeout: float = 5) -> Frame:
        return dict(json.loads(await self.ws.receive_from(timeout=timeout)))

    async def until(self, wanted: Callable[[Frame], bool], timeout: float = 10) -> Frame:
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.receive(timeout)
                if wanted(frame):
                    return frame

    async def quiet(self, seconds: float = 0.3) -> list[Frame]:
        """Everything that arrives within ``seconds`` (a receive that times out would
        cancel the application; receive_nothing does not)."""
        frames: list[Frame] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            if not await self.ws.receive_nothing(timeout=0.05, interval=0.01):
                frames.append(await self.receive())
        return frames

    async def close(self) -> None:
        await self.ws.disconnect()


def kind(name: str, **fields: Any) -> Callable[[Frame], bool]:
    return lambda f: f.get("type") == name and all(f.get(k) == v for k, v in fields.items())


def about(name: str, **fields: Any) -> Callable[[Frame], bool]:
    """A conversation_frame wrapping a frame of type ``name``."""
    return lambda f: f.get("type") == "conversation_frame" and kind(name, **fields)(f["frame"])


async def shopper(**hello: Any) -> tuple[Socket, Frame]:
    socket = Socket("/ws/chat/")
    assert await socket.connect()
    await socket.send({"type": "hello", "conversation": None, "customer_token": None, **hello})
    welcome = await socket.until(kind("welcome"))
    return socket, welcome


async def say(socket: Socket, text: str) -> Frame:
    await socket.send({"type": "message", "text": text, "client_id": str(uuid.uuid4())})
    return await socket.until(kind("ack"))


async def console(user: User) -> tuple[Socket, Frame]:
    socket = Socket("/ws/agent/", cookie=await sync_to_async(session_cookie)(user))
    assert await socket.connect()
    welcome = await socket.until(kind("welcome"))
    return socket, welcome


@pytest.fixture
async def anna(agent: User) -> User:
    agent.first_name = "Anna"
    await agent.asave()
    return agent


@pytest.fixture
async def ben(db: Any) -> User:
    return await sync_to_async(make_user)("ben", agent=True, first_name="Ben")


@pytest.fixture
async def outsider(db: Any) -> User:
    return await sync_to_async(make_user)("outsider", agent=False)


@pytest.fixture
async def anna_console(anna: User) -> AsyncIterator[Socket]:
    socket, _ = await console(anna)
    yield socket
    await socket.close()


# --- who may open the console --------------------------------------------------------------


def test_an_anonymous_visitor_is_sent_to_the_agents_sign_in(client: Client) -> None:
    response = client.get("/agent/")
    assert response.status_code == 302
    assert response["Location"] == "/agent/login/?next=/agent/"


def test_staff_outside_the_support_team_get_403(client: Client) -> None:
    client.force_login(make_user("outsider", agent=False))
    assert client.get("/agent/").status_code == 403


def test_agents_and_superusers_get_the_console(client: Client, agent: User) -> None:
    client.force_login(agent)
    response = client.get("/agent/")
    assert response.status_code == 200
    assert b"support_bot/agent.js" in response.content
    boss = User.objects.create_superuser("boss", "boss@example.com", None)
    client.force_login(boss)
    assert client.get("/agent/").status_code == 200


def test_an_agent_who_is_not_staff_signs_in_and_out(client: Client, agent: User) -> None:
    assert not agent.is_staff
    page = client.get("/agent/login/?next=/agent/")
    assert page.status_code == 200 and b'name="password"' in page.content
    response = client.post(
        "/agent/login/", {"username": "agent", "password": "agent-password", "next": "/agent/"}
    )
    assert response.status_code == 302 and response["Location"] == "/agent/"
    console = client.get("/agent/")
    assert console.status_code == 200
    assert b"Sign out" in console.content
    assert b'href="/admin/"' not in console.content  # the admin is not an agent's

    signed_out = client.post("/agent/logout/")
    assert signed_out.status_code == 302 and signed_out["Location"] == "/agent/login/"
    assert client.get("/agent/")["Location"] == "/agent/login/?next=/agent/"


def test_sign_in_without_a_next_page_lands_in_the_console(client: Client, agent: User) -> None:
    response = client.post("/agent/login/", {"username": "agent", "password": "agent-password"})
    assert response["Location"] == "/agent/"


def test_a_wrong_password_is_refused_with_a_message(client: Client, agent: User) -> None:
    response = client.post("/agent/login/", {"username": "agent", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content
    assert client.get("/agent/").status_code == 302


def test_an_account_outside_the_support_team_is_told_so_and_not_signed_in(
    client: Client,
) -> None:
    User.objects.create_user("finance", "finance@example.com", "finance-password", is_staff=True)
    response = client.post("/agent/login/", {"username": "finance", "password": "finance-password"})
    assert response.status_code == 200
    assert b"not on the support team" in response.content
    assert "_auth_user_id" not in client.session


def test_sign_in_never_redirects_off_site(client: Client, agent: User) -> None:
    response = client.post(
        "/agent/login/",
        {"username": "agent", "password": "agent-password", "next": "https://evil.example/"},
    )
    assert response["Location"] == "/agent/"


async def test_a_shopper_socket_cannot_open_the_agent_console() -> None:
    socket = Socket("/ws/agent/")
    assert not await socket.connect()


async def test_a_user_outside_the_support_team_is_refused(outsider: User) -> None:
    socket = Socket("/ws/agent/", cookie=await sync_to_async(session_cookie)(outsider))
    assert not await socket.connect()


async def test_an_agent_session_from_a_shop_page_origin_is_refused(agent: User) -> None:
    # Even where the widget's shop origins are allowed for /ws/chat/, the console accepts
    # only the bot's own hosts: a shop page must not drive an agent's session.
    app = AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
    cookie = await sync_to_async(session_cookie)(agent)
    socket = Socket("/ws/agent/", cookie=cookie, app=app, origin=b"https://shop.example.com")
    assert not await socket.connect()


# --- the handoff, both sides ---------------------------------------------------------------


async def test_a_shopper_asks_for_a_person_and_an_agent_takes_over(
    no_replies: None, customer: Customer, anna: User, anna_console: Socket
) -> None:
    chat, _ = await shopper(customer_token=customer_token_make(external_id=customer.external_id))
    try:
        await say(chat, "Where is order 100001?")
        await say(chat, "I want to talk to a human")
        state = await chat.until(kind("state"))
        assert state["state"] == "waiting"
        notice = await chat.until(kind("message", role="system"))
        assert "number 1 in the queue" in notice["text"]

        board = await anna_console.until(
            lambda f: f["type"] == "board" and (f["change"] or {}).get("change") == "escalated"
        )
        [item] = board["board"]["waiting"]
        assert item["customer_name"] == "Alice Shopper"
        assert item["reasons"] == ["asked_for_person"] and item["priority_label"] == "Normal"
        assert item["reason_labels"] == ["Asked for a person"]
        conversation_id = item["conversation_id"]
        conversation = await Conversation.objects.aget(pk=conversation_id)
        # Asking for a person is stored, and no bot reply is queued for it.
        assert not await Message.objects.filter(
            conversation=conversation, role="bot", status="queued"
        ).aexists()

        await anna_console.send({"type": "open", "conversation_id": conversation_id})
        view = (await anna_console.until(kind("conversation")))["conversation"]
        assert view["summary"]["shopper_wants"] == [
            "Where is order 100001?",
            "I want to talk to a human",
        ]
        assert "Order 100001" in view["summary"]["orders_text"]
        assert view["summary"]["reasons"] == ["Asked for a person"]

        await anna_console.send({"type": "claim", "conversation_id": conversation_id})
        await anna_console.until(kind("ok", action="claim"))
        assert (await chat.until(kind("state")))["state"] == "agent"
        joined = await chat.until(kind("message", role="system"))
        assert joined["text"] == "Anna from our support team has joined the chat."

        await anna_console.send(
            {"type": "reply", "conversation_id": conversation_id, "text": "Hi, I'm on it!"}
        )
        reply = await chat.until(kind("message", role="agent"))
        assert reply["text"] == "Hi, I'm on it!"
        stored = await Message.objects.aget(pk=reply["message_id"])
        assert (stored.role, stored.text) == ("agent", "Hi, I'm on it!")

        await chat.send({"type": "typing"})
        await anna_console.until(about("typing", role="shopper"))
        await anna_console.send({"type": "typing", "conversation_id": conversation_id})
        await chat.until(kind("typing", role="agent"))

        ack = await say(chat, "Thank you!")
        live = await anna_console.until(about("message", role="shopper"))
        assert live["frame"]["text"] == "Thank you!"
        assert live["frame"]["message_id"] == ack["message_id"]

        await anna_console.send(
            {"type": "note", "conversation_id": conversation_id, "text": "Refund approved"}
        )
        note = await anna_console.until(about("note"))
        assert note["frame"]["note"]["text"] == "Refund approved"
        assert await InternalNote.objects.filter(conversation=conversation).aexists()

        await anna_console.send({"type": "resolve", "conversation_id": conversation_id})
        assert (await chat.until(kind("state")))["state"] == "resolved"
        # The internal note never reached the shopper.
        assert all("Refund approved" not in json.dumps(f) for f in await chat.quiet())

        await chat.send({"type": "rating", "score": 5, "comment": "Great help"})
        rated = await anna_console.until(about("rating"))
        assert rated["frame"]["score"] == 5
        rating = await Rating.objects.aget(conversation=conversation)
        assert (rating.score, rating.comment) == (5, "Great help")
        await chat.send({"type": "rating", "score": 1})
        error = await chat.until(kind("error"))
        assert error["code"] == "already_rated"
        # The reply queued for the first question was stopped by the handoff.
        bot = [m async for m in Message.objects.filter(conversation=conversation, role="bot")]
        assert [(m.status, m.error_code) for m in bot] == [("failed", "handed_off")]
    finally:
        await chat.close()


async def test_two_agents_claim_at_once_and_the_loser_is_told_who_has_it(
    no_replies: None, anna: User, ben: User, anna_console: Socket
) -> None:
    ben_console, _ = await console(ben)
    chat, _ = await shopper()
    try:
        await say(chat, "Ich möchte mit einem Mitarbeiter sprechen")
        conversation = await Conversation.objects.aget()
        assert conversation.state == "waiting"
        claim = {"type": "claim", "conversation_id": conversation.pk}
        await asyncio.gather(anna_console.send(claim), ben_console.send(claim))
        answers = [
            await socket.until(lambda f: f["type"] in ("ok", "error") and f["action"] == "claim")
            for socket in (anna_console, ben_console)
        ]
        assert sorted(a["type"] for a in answers) == ["error", "ok"]
        [lost] = [a for a in answers if a["type"] == "error"]
        await conversation.arefresh_from_db()
        holder = "Anna" if conversation.assigned_agent_id == anna.pk else "Ben"
        assert lost["code"] == "already_taken"
        assert lost["message"] == f"Already taken by {holder}."
    finally:
        await chat.close()
        await ben_console.close()


async def test_only_the_holder_can_act_and_every_refusal_is_an_error_frame(
    no_replies: None, anna: User, ben: User, anna_console: Socket
) -> None:
    ben_console, _ = await console(ben)
    chat, _ = await shopper()
    try:
        await say(chat, "agent please")
        conversation = await Conversation.objects.aget()
        for action in ("reply", "resolve", "hand_back"):
            await ben_console.send(
                {"type": action, "conversation_id": conversation.pk, "text": "hello"}
            )
            error = await ben_console.until(kind("error", action=action))
            assert error["code"] == "illegal_transition"
        await anna_console.send({"type": "claim", "conversation_id": conversation.pk})
        await anna_console.until(kind("ok", action="claim"))
        await ben_console.send({"type": "reply", "conversation_id": conversation.pk, "text": "x"})
        assert (await ben_console.until(kind("error", action="reply")))["code"] == "not_assigned"
        await anna_console.send(
            {"type": "reassign", "conversation_id": conversation.pk, "to_agent_id": ben.pk}
        )
        await anna_console.until(kind("ok", action="reassign"))
        changed = await ben_console.until(
            lambda f: f["type"] == "board" and (f["change"] or {}).get("change") == "reassigned"
        )
        assert changed["change"]["to_agent_id"] == ben.pk
        assert changed["board"]["active"][0]["assigned_agent_name"] == "Ben"
        await ben_console.send({"type": "hand_back", "conversation_id": conversation.pk})
        await ben_console.until(kind("ok", action="hand_back"))
        assert (await chat.until(kind("state", state="bot")))["state"] == "bot"
        await ben_console.send({"type": "open", "conversation_id": 999999})
        assert (await ben_console.until(kind("error", action="open")))["code"] == "not_found"
        await ben_console.send({"type": "claim", "conversation_id": "1"})
        assert (await ben_console.until(kind("error", action="claim")))["code"] == "bad_frame"
    finally:
        await chat.close()
        await ben_console.close()


async def test_a_rating_is_refused_until_the_conversation_is_resolved(no_replies: None) -> None:
    chat, _ = await shopper()
    try:
        await chat.send({"type": "rating", "score": 5})
        assert (await chat.until(kind("error")))["code"] == "not_resolved"
        await chat.send({"type": "rating", "score": 9})
        assert (await chat.until(kind("error")))["code"] == "invalid_rating"
        assert not await Rating.objects.aexists()
    finally:
        await chat.close()


async def test_with_nobody_on_duty_the_shopper_leaves_an_email_address(
    no_replies: None, agent: User
) -> None:
    chat, _ = await shopper(language="de")
    try:
        await say(chat, "Ich will mit einem Menschen reden")
        notice = await chat.until(kind("message", role="system"))
        assert "niemand" in notice["text"] and "E-Mail-Adresse" in notice["text"]
        await chat.send({"type": "contact", "email": "not an email"})
        assert (await chat.until(kind("error")))["code"] == "invalid_email"
        await say(chat, "alice@example.com")
        thanks = await chat.until(kind("message", role="system"))
        assert (
            thanks["text"]
            == "Danke! Wir antworten an alice@example.com, sobald jemand verfügbar ist."
        )
        await chat.send({"type": "contact", "email": "alice@work.example"})
        await chat.until(kind("message", role="system"))
        conversation = await Conversation.objects.aget()
        assert conversation.contact_email == "alice@work.example"
        assert conversation.state == "waiting"
    finally:
        await chat.close()


async def test_availability_decides_who_counts_as_on_duty(anna: User, anna_console: Socket) -> None:
    await anna_console.send({"type": "availability", "available": False})
    await anna_console.until(kind("ok", action="availability"))
    board = await anna_console.until(kind("board"))
    assert board["board"]["on_duty"] == []
    await anna_console.send({"type": "availability", "available": True})
    board = await anna_console.until(lambda f: f["type"] == "board" and f["board"]["on_duty"])
    assert board["board"]["on_duty"] == [{"id": anna.pk, "name": "Anna"}]
    await anna_console.send({"type": "ping"})
    await anna_console.until(kind("pong"))


# --- the bot is silent while a person holds the conversation -------------------------------


def _bot_frame(frame: Frame) -> bool:
    if frame["type"] in ("delta", "reset"):
        return True
    if frame["type"] in ("done", "typing"):
        return frame.get("role", "bot") == "bot"
    return frame["type"] == "error" and frame.get("code") == "reply_failed"


async def test_a_reply_streaming_at_the_handoff_never_reaches_the_shopper(
    reply_workers: FakeProviderServer, anna: User, anna_console: Socket
) -> None:
    reply_workers.configure(tokens_per_s=20, reply_tokens=60)
    chat, _ = await shopper()
    try:
        ack = await say(chat, "Tell me everything about your delivery options")
        seen: list[Frame] = []
        while sum(f["type"] == "delta" for f in seen) < 2:
            # Generous: the first reply of a process loads the routing classifier.
            seen.append(await chat.receive(timeout=90))
        conversation = await Conversation.objects.aget()
        reply = await Message.objects.aget(reply_to_id=ack["message_id"])
        assert reply.status == "generating"
        # An agent reads along: the console sees the bot's frames, unfiltered.
        await anna_console.send({"type": "open", "conversation_id": conversation.pk})
        await anna_console.until(kind("conversation"))

        await sync_to_async(conversation_escalate)(
            conversation_id=conversation.pk, reasons=["sentiment:angry"]
        )
        await sync_to_async(escalation_claim)(conversation_id=conversation.pk, agent_id=anna.pk)
        # The fake provider needs ~3 s for the whole reply: listen well past its end.
        after, agent_side = await asyncio.gather(chat.quiet(seconds=5), anna_console.quiet(5))
    finally:
        await chat.close()
    # The writer kept streaming after the handoff (its next heartbeat was seconds away):
    # those deltas were in flight, and only the shopper's consumer held them back.
    relayed = [f["frame"] for f in agent_side if f["type"] == "conversation_frame"]
    handoff_at = next(i for i, f in enumerate(relayed) if f["type"] == "state")
    assert any(f["type"] == "delta" for f in relayed[handoff_at:])
    frames = seen + after
    first_state = next(i for i, f in enumerate(frames) if f["type"] == "state")
    assert frames[first_state]["state"] == "waiting"
    assert [f for f in frames[first_state:] if _bot_frame(f)] == []
    assert [f["state"] for f in frames if f["type"] == "state"] == ["waiting", "agent"]
    assert "done" not in [f["type"] for f in frames]
    await reply.arefresh_from_db()
    assert (reply.status, reply.error_code) == ("failed", "handed_off")
    assert not await Message.objects.filter(
        conversation=conversation, status="done", role="bot"
    ).aexists()


# --- the admin -------------------------------------------------------------------------------


def test_the_admin_shows_a_conversation_escaped_and_read_only(client: Client) -> None:
    from support_bot.services.handoff import note_add

    boss = User.objects.create_superuser("boss", "boss@example.com", None)
    conversation = Conversation.objects.create()
    Message.objects.create(conversation=conversation, role="shopper", text="<script>x()</script>")
    note_add(conversation_id=conversation.pk, agent_id=boss.pk, text="<b>internal</b>")
    client.force_login(boss)
    page = client.get(f"/admin/support_bot/conversation/{conversation.pk}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "&lt;script&gt;x()&lt;/script&gt;" in body and "<script>x()" not in body
    assert "&lt;b&gt;internal&lt;/b&gt;" in body
    assert 'name="_save"' not in body  # state changes go through the services only
    assert client.get("/admin/support_bot/agentaction/").status_code == 200
    assert client.get("/admin/support_bot/agentaction/add/").status_code == 403
    assert client.get("/admin/support_bot/cannedreply/add/").status_code == 200
