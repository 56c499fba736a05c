"""The shopper widget's websocket (protocol: docs/protocol.md).

The consumer validates frames, calls services, and forwards the conversation's group
events. It never calls a provider: replies are written by the reply task.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings

from orders.selectors import customer_get
from support_bot.identity import InvalidCustomerToken, customer_token_verify
from support_bot.models import Conversation, Message
from support_bot.ratelimit import address_allows, client_address
from support_bot.selectors import conversation_history, reply_state
from support_bot.services.conversations import (
    ConversationForbidden,
    VerificationFailed,
    VerificationLocked,
    conversation_open,
    conversation_token,
    conversation_verify,
)
from support_bot.services.handoff import (
    HandoffError,
    contact_email_record,
    rating_record,
    shopper_message_receive,
    shopper_typing_frame,
)
from support_bot.services.messages import reply_after_verification
from support_bot.streams import frame_event
from support_bot.tasks import replies_resume, reply_enqueue
from support_bot.websocket import WebsocketConsumer

logger = logging.getLogger(__name__)

# While a person holds the conversation the shopper sees no bot frames at all.
HELD_BY_A_PERSON = frozenset({Conversation.State.WAITING, Conversation.State.AGENT})


class FrameError(Exception):
    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra


class TokenBucket:
    """Per-connection message rate: a burst, then a steady rate."""

    def __init__(self, burst: int, per_minute: int) -> None:
        self.capacity = float(burst)
        self.tokens = float(burst)
        self.rate = per_minute / 60.0
        self.updated = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def _text(frame: dict[str, Any], key: str, *, limit: int, required: bool = True) -> str:
    value = frame.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise FrameError("bad_frame", f"'{key}' must be a string")
    value = value.strip()
    if required and not value:
        raise FrameError("bad_frame", f"'{key}' must not be empty")
    if len(value) > limit:
        raise FrameError("too_large", f"'{key}' is longer than {limit} characters")
    return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def _is_bot_frame(frame: dict[str, Any]) -> bool:
    kind = frame.get("type")
    if kind in ("delta", "reset"):
        return True
    if kind in ("typing", "done"):
        return frame.get("role", "bot") == "bot"
    return kind == "error" and frame.get("code") == "reply_failed"


class ChatConsumer(WebsocketConsumer):
    conversation: Conversation | None = None

    async def connect(self) -> None:
        self.conversation = None
        # The conversation's state as this connection last heard it (welcome, then
        # "state" frames), and the bot replies it streamed or stopped forwarding.
        self.state: str | None = None
        self.streaming_replies: set[Any] = set()
        self.suppressed_replies: set[Any] = set()
        # A stall check per reply streaming to this connection (see _watch).
        self.stall_checks: dict[int, asyncio.TimerHandle] = {}
        self.stall_tasks: set[asyncio.Task[None]] = set()
        self.replies_done: set[int] = set()  # their done frame went out here
        self.messages_bucket = TokenBucket(settings.CHAT_RATE_BURST, settings.CHAT_RATE_PER_MINUTE)
        # Frames of any kind: generous, but a flood still gets refused.
        self.frames_bucket = TokenBucket(30, 240)
        self.address = client_address(self.scope)
        await self.accept()
        allowed = await sync_to_async(address_allows, thread_sensitive=False)(
            "connect", self.address, settings.CHAT_IP_CONNECTIONS_PER_MINUTE
        )
        if not allowed:
            await self._send(
                {
                    "type": "error",
                    "code": "rate_limited",
                    "message": "Too many connections from your network. Please wait a minute.",
                }
            )
            await self.close(code=4029)

    async def disconnect(self, code: int) -> None:
        for check in self.stall_checks.values():
            check.cancel()
        self.stall_checks.clear()
        for task in self.stall_tasks:
            task.cancel()
        if self.conversation is not None:
            await self.channel_layer.group_discard(self.conversation.group_name, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            frame = self._parse(text_data, bytes_data)
            handler = self.HANDLERS.get(frame["type"])
            if handler is None:
                raise FrameError("unknown_type", f"unknown frame type {frame['type']!r}")
            if frame["type"] != "hello" and self.conversation is None:
                raise FrameError("hello_required", "send a hello frame first")
            await handler(self, frame)
        except FrameError as error:
            await self._send(
                {"type": "error", "code": error.code, "message": error.message, **error.extra}
            )

    def _parse(self, text_data: str | None, bytes_data: bytes | None) -> dict[str, Any]:
        if text_data is None:
            raise FrameError("bad_frame", "send JSON text frames")
        if len(text_data.encode()) > settings.CHAT_MAX_FRAME_BYTES:
            raise FrameError(
                "too_large", f"frames are limited to {settings.CHAT_MAX_FRAME_BYTES} bytes"
            )
        if not self.frames_bucket.take():
            raise FrameError("rate_limited", "too many frames; slow down")
        try:
            frame = json.loads(text_data)
        except ValueError:
            raise FrameError("bad_json", "the frame is not valid JSON") from None
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            raise FrameError("bad_frame", "a frame is a JSON object with a string 'type'")
        if _has_nul(frame):
            # PostgreSQL text cannot hold it (found by tests/reliability/test_fuzz.py).
            raise FrameError("bad_frame", "frames must not contain NUL characters")
        return frame

    async def _send(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(frame))

    # --- client frames -------------------------------------------------------------

    async def on_hello(self, frame: dict[str, Any]) -> None:
        if self.conversation is not None:
            raise FrameError("bad_frame", "hello was already sent on this connection")
        token = frame.get("conversation")
        customer_token = frame.get("customer_token")
        language = frame.get("language")
        if token is not None and not isinstance(token, str):
            raise FrameError("bad_frame", "'conversation' must be a string or null")
        if language is not None and not isinstance(language, str):
            raise FrameError("bad_frame", "'language' must be a string")
        customer = None
        if customer_token:
            try:
                external_id = customer_token_verify(customer_token)
            except InvalidCustomerToken:
                raise FrameError("forbidden", "the customer token is not valid") from None
            customer = await database_sync_to_async(customer_get)(external_id=external_id)
            if customer is None:
                raise FrameError("forbidden", "the customer token is not valid")
        try:
            conversation = await database_sync_to_async(conversation_open)(
                token=token, customer=customer, language=language
            )
        except ConversationForbidden:
            await self._send(
                {
                    "type": "error",
                    "code": "forbidden",
                    "message": "That conversation belongs to someone else; starting a new one.",
                }
            )
            conversation = await database_sync_to_async(conversation_open)(
                token=None, customer=customer, language=language
            )
        await self._join(conversation)

    async def _join(self, conversation: Conversation) -> None:
        # Join the group before reading the history: a delta published in between is then
        # queued for us, and the widget drops what the history already holds (by seq).
        self.conversation = conversation
        self.state = conversation.state
        await self.channel_layer.group_add(conversation.group_name, self.channel_name)
        history = await database_sync_to_async(conversation_history)(
            conversation_id=conversation.pk
        )
        customer = conversation.customer
        await self._send(
            {
                "type": "welcome",
                "conversation": conversation_token(conversation),
                "state": conversation.state,
                "customer": {"name": customer.name} if customer else None,
                "messages": history,
            }
        )
        await replies_resume(conversation.pk)

    async def on_message(self, frame: dict[str, Any]) -> None:
        assert self.conversation is not None
        raw_id = frame.get("client_id")
        try:
            client_id = uuid.UUID(str(raw_id)) if isinstance(raw_id, str) else None
        except ValueError:
            client_id = None
        if client_id is None:
            raise FrameError("bad_frame", "'client_id' must be a UUID")
        text = _text(frame, "text", limit=settings.CHAT_MAX_TEXT_CHARS)
        allowed = self.messages_bucket.take() and await sync_to_async(
            address_allows, thread_sensitive=False
        )("message", self.address, settings.CHAT_IP_MESSAGES_PER_MINUTE)
        if not allowed:
            raise FrameError(
                "rate_limited", "you are sending messages too fast", client_id=str(client_id)
            )
        # Stored; and, as the message asks, it reopens, escalates or leaves a contact address.
        result = await database_sync_to_async(shopper_message_receive)(
            conversation_id=self.conversation.pk, text=text, client_id=client_id
        )
        received = result.received
        await self._send(
            {"type": "ack", "client_id": str(client_id), "message_id": received.shopper_message_id}
        )
        if received.created and received.reply_id is not None:
            await reply_enqueue(received.reply_id, text)
            self._watch_again(received.reply_id)  # even if its first frame goes missing

    async def on_verify(self, frame: dict[str, Any]) -> None:
        assert self.conversation is not None
        order_number = _text(frame, "order_number", limit=60)
        contact = _text(frame, "contact", limit=254)
        try:
            customer = await database_sync_to_async(conversation_verify)(
                conversation_id=self.conversation.pk, order_number=order_number, contact=contact
            )
        except VerificationLocked as locked:
            raise FrameError(
                "verification_locked",
                "Too many attempts. Please try again later.",
                retry_at=locked.until.isoformat(),
            ) from None
        except VerificationFailed:
            raise FrameError(
                "verification_failed",
                "We couldn't verify an order with those details.",
            ) from None
        self.conversation.customer = customer
        await self._send({"type": "verified", "customer": {"name": customer.name}})
        # The order question that waited for this is answered now, without asking again.
        waiting = await database_sync_to_async(reply_after_verification)(
            conversation_id=self.conversation.pk
        )
        if waiting is not None:
            reply_id, question = waiting
            await reply_enqueue(reply_id, question)
            self._watch_again(reply_id)

    async def on_ping(self, frame: dict[str, Any]) -> None:
        await self._send({"type": "pong"})

    async def on_typing(self, frame: dict[str, Any]) -> None:
        assert self.conversation is not None
        typing = shopper_typing_frame(conversation_id=self.conversation.pk)
        await self.channel_layer.group_send(
            self.conversation.agents_group_name, frame_event(typing)
        )

    async def on_rating(self, frame: dict[str, Any]) -> None:
        assert self.conversation is not None
        try:
            await database_sync_to_async(rating_record)(
                conversation_id=self.conversation.pk,
                score=frame.get("score"),  # any JSON value: the service validates it
                comment=frame.get("comment", ""),
            )
        except HandoffError as error:
            raise FrameError(error.code, error.message) from None

    async def on_contact(self, frame: dict[str, Any]) -> None:
        assert self.conversation is not None
        email = _text(frame, "email", limit=254)
        try:
            await database_sync_to_async(contact_email_record)(
                conversation_id=self.conversation.pk, email=email
            )
        except HandoffError as error:
            raise FrameError(error.code, error.message) from None

    HANDLERS = {
        "hello": on_hello,
        "message": on_message,
        "verify": on_verify,
        "ping": on_ping,
        "typing": on_typing,
        "rating": on_rating,
        "contact": on_contact,
    }

    # --- group events --------------------------------------------------------------

    async def chat_frame(self, event: dict[str, Any]) -> None:
        # Named after streams.EVENT_TYPE ("chat.frame"): Channels maps the dot to "_".
        frame = event["frame"]
        if frame.get("type") in ("delta", "done") and frame.get("message_id") in self.replies_done:
            return  # sent from the database already (see _stalled): a late copy
        if self._withheld(frame):
            return
        await self._send(frame)
        self._watch(frame)

    # --- replies that go quiet ---------------------------------------------------------
    #
    # channels-redis can lose a frame: when a websocket disconnects while its consumer is
    # the one reading the server's shared channel, a message Redis already handed over
    # is dropped (django/channels#1683; bench/load.py saw one lost `done` in ~30 runs).
    # A reply that streamed here and then went quiet is read from the database, and its
    # `done` sent from there: the shopper gets the whole answer, a little late.

    def _watch(self, frame: dict[str, Any]) -> None:
        reply_id = frame.get("message_id")
        if not isinstance(reply_id, int) or frame.get("type") not in ("delta", "done", "reset"):
            return
        check = self.stall_checks.pop(reply_id, None)
        if check is not None:
            check.cancel()
        if frame["type"] == "done":
            self.replies_done.add(reply_id)
        else:
            self._watch_again(reply_id)

    def _watch_again(self, reply_id: int) -> None:
        if reply_id in self.replies_done:
            return
        loop = asyncio.get_running_loop()
        self.stall_checks[reply_id] = loop.call_later(
            settings.CHAT_REPLY_STALL_SECONDS, self._check_stalled, reply_id
        )

    def _check_stalled(self, reply_id: int) -> None:
        task = asyncio.get_running_loop().create_task(self._stalled(reply_id))
        self.stall_tasks.add(task)
        task.add_done_callback(self.stall_tasks.discard)

    async def _stalled(self, reply_id: int) -> None:
        self.stall_checks.pop(reply_id, None)
        if self.conversation is None:
            return
        found = await database_sync_to_async(reply_state)(
            reply_id=reply_id, conversation_id=self.conversation.pk
        )
        if found is None or reply_id in self.stall_checks or reply_id in self.replies_done:
            return  # not this conversation's, or a frame came meanwhile
        status, text = found
        if status == Message.Status.DONE:
            logger.warning("reply %s went quiet here; its done frame is sent again", reply_id)
            frame = {"type": "done", "message_id": reply_id, "role": "bot", "text": text}
            self.replies_done.add(reply_id)
            if not self._withheld(frame):
                await self._send(frame)
        elif status in (Message.Status.GENERATING, Message.Status.QUEUED):
            self._watch_again(reply_id)  # still being written (a slow provider)
        # failed: a person took over; the state frame says so

    def _withheld(self, frame: dict[str, Any]) -> bool:
        """Drop bot frames while a person holds the conversation.

        A reply that was streaming at the handoff keeps publishing until its writer
        notices; its deltas, even those already in flight, stop here. Once withheld, a
        reply stays withheld, even if the bot gets the conversation back meanwhile.
        """
        if frame.get("type") == "state":
            self.state = frame.get("state")
            if self.state in HELD_BY_A_PERSON:
                self.suppressed_replies |= self.streaming_replies
                self.streaming_replies.clear()
            return False
        if not _is_bot_frame(frame):
            return False
        reply_id = frame.get("message_id")
        if self.state in HELD_BY_A_PERSON or reply_id in self.suppressed_replies:
            if reply_id is not None:
                self.suppressed_replies.add(reply_id)
            return True
        if frame.get("type") == "delta":
            self.streaming_replies.add(reply_id)
        elif frame.get("type") == "done":
            self.streaming_replies.discard(reply_id)
        return False
