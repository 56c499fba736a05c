"""Shopper messages and the bot replies to them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from routing.tier0 import tier0_asked_to_verify
from support_bot.models import Conversation, Message

# A reply whose worker has not written a heartbeat for this long is taken to be orphaned
# (the worker died mid-reply); the redelivered task may then claim it again.
REPLY_LEASE = timedelta(seconds=settings.REPLY_LEASE_SECONDS)


@dataclass(frozen=True)
class Received:
    shopper_message_id: int
    reply_id: int | None
    created: bool


@transaction.atomic
def message_receive(
    *, conversation_id: int, text: str, client_id: uuid.UUID, queue_reply: bool = True
) -> Received:
    """Store a shopper message and queue the bot's reply; a repeated client_id is a no-op.

    ``queue_reply=False`` stores the message only (the shopper asked for a person).
    """
    conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
    return message_store(
        conversation=conversation, text=text, client_id=client_id, queue_reply=queue_reply
    )


def message_received_before(*, conversation: Conversation, client_id: uuid.UUID) -> Received | None:
    """What became of a frame with this client_id, if one arrived already (a resend)."""
    existing = Message.objects.filter(conversation=conversation, client_id=client_id).first()
    return None if existing is None else _already(existing)


def message_store(
    *, conversation: Conversation, text: str, client_id: uuid.UUID, queue_reply: bool = True
) -> Received:
    """Store a new shopper message (and queue the bot's reply) in a conversation whose
    row the caller has locked; a message whose client_id is stored already is a resend,
    and what became of the first one is returned (``created`` False)."""
    # Written out, as the claim below: this runs for every message, on the one thread
    # that stores every websocket's messages.
    with connection.cursor() as cursor:
        # A resend (the widget reconnected before its ack came), or the same frame from
        # two tabs at once: the unique constraint tells, without a look on every message
        # and without a savepoint.
        cursor.execute(
            _STORE_SQL + " ON CONFLICT DO NOTHING RETURNING id",
            [
                conversation.pk,
                Message.Role.SHOPPER,
                Message.Status.DONE,
                text,
                _CLIENT_ID.get_db_prep_value(client_id, connection),
                None,
                _when(timezone.now()),
            ],
        )
        row = cursor.fetchone()
        if row is None:
            return _already(Message.objects.get(conversation=conversation, client_id=client_id))
        shopper_id = row[0]
        reply_id = None
        if queue_reply and conversation.state == Conversation.State.BOT:
            cursor.execute(
                _STORE_SQL + " RETURNING id",
                [
                    conversation.pk,
                    Message.Role.BOT,
                    Message.Status.QUEUED,
                    "",
                    None,
                    shopper_id,
                    _when(timezone.now()),
                ],
            )
            reply_id = cursor.fetchone()[0]
        conversation.updated_at = timezone.now()
        cursor.execute(
            "UPDATE support_bot_conversation SET updated_at = %s WHERE id = %s",
            [_when(conversation.updated_at), conversation.pk],
        )
    return Received(shopper_message_id=shopper_id, reply_id=reply_id, created=True)


def reply_after_verification(*, conversation_id: int) -> tuple[int, str] | None:
    """The order question a guest was asked to verify the order for, queued again now
    that the order is verified: (the new reply's id, the question). None when the last
    message is anything but that request (the shopper has moved on, or a person holds
    the conversation)."""
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
        if conversation.state != Conversation.State.BOT:
            return None
        last = (
            Message.objects.filter(conversation=conversation)
            .select_related("reply_to")
            .order_by("-created_at", "-id")
            .first()
        )
        if (
            last is None
            or last.role != Message.Role.BOT
            or last.status != Message.Status.DONE
            or last.reply_to is None
            or not tier0_asked_to_verify(last.text)
        ):
            return None
        reply = Message.objects.create(
            conversation=conversation,
            role=Message.Role.BOT,
            status=Message.Status.QUEUED,
            reply_to=last.reply_to,
        )
        return reply.pk, last.reply_to.text


def _already(message: Message) -> Received:
    reply = message.replies.filter(role=Message.Role.BOT).first()
    return Received(
        shopper_message_id=message.pk, reply_id=reply.pk if reply else None, created=False
    )


_STORE_SQL = (
    "INSERT INTO support_bot_message (conversation_id, role, status, text, client_id,"
    " reply_to_id, created_at, error_code, attempts) VALUES (%s, %s, %s, %s, %s, %s, %s, '', 0)"
)
_CLIENT_ID = Message._meta.get_field("client_id")


# Claiming and finishing a reply, written out: they run around every reply, and through
# the ORM building and compiling them took more than running them (``bench/queries.py``).
_CLAIM_SQL = (
    "UPDATE support_bot_message SET status = %s, started_at = %s, heartbeat_at = %s,"
    " first_token_at = NULL, attempts = attempts + 1, text = ''"
    " WHERE id = %s AND role = %s AND (status = %s OR (status = %s AND heartbeat_at < %s))"
)
_FINISH_SQL = (
    "UPDATE support_bot_message SET status = %s, text = %s, finished_at = %s, error_code = '',"
    # A ready answer (tier 0, the cache) is not marked as it streams: its first token
    # went out just now.
    " first_token_at = COALESCE(first_token_at, %s)"
    " WHERE id = %s AND status = %s"
)
_HEARTBEAT_SQL = "UPDATE support_bot_message SET heartbeat_at = %s WHERE id = %s AND status = %s"
_FIRST_TOKEN_SQL = (
    "UPDATE support_bot_message SET heartbeat_at = %s, first_token_at = %s"
    " WHERE id = %s AND status = %s"
)
_HANDED_OFF_SQL = (
    "UPDATE support_bot_message SET status = %s, error_code = %s, finished_at = %s"
    " WHERE id = %s AND status = %s"
)


def _when(moment: datetime) -> Any:
    """A datetime as the database takes it (SQLite: text in UTC), as the ORM sends it."""
    return connection.ops.adapt_datetimefield_value(moment)


def reply_claim(*, reply_id: int) -> bool:
    """Take the reply for this worker: False if another worker has it or it is finished.

    One conditional UPDATE, so two deliveries of the same task cannot both win; this is
    what makes ``acks_late`` redelivery safe.
    """
    now = timezone.now()
    at = _when(now)
    generating = Message.Status.GENERATING.value
    with connection.cursor() as cursor:
        cursor.execute(
            _CLAIM_SQL,
            [
                generating,
                at,
                at,
                reply_id,
                Message.Role.BOT.value,
                Message.Status.QUEUED.value,
                generating,
                _when(now - REPLY_LEASE),
            ],
        )
        return cursor.rowcount == 1


def reply_heartbeat(*, reply_id: int, first_token: bool = False) -> bool:
    """Keep the claim alive; False when the reply is no longer ours to write.

    Written out like the claim: it runs on every live reply's first token.
    """
    at = _when(timezone.now())
    generating = Message.Status.GENERATING.value
    sql, params = (
        (_FIRST_TOKEN_SQL, [at, at, reply_id, generating])
        if first_token
        else (_HEARTBEAT_SQL, [at, reply_id, generating])
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount == 1


# A person holds (or is about to hold) the conversation: no bot reply may land.
HELD_BY_A_PERSON = (Conversation.State.WAITING, Conversation.State.AGENT)


@transaction.atomic
def reply_finish(*, reply_id: int, text: str, conversation_id: int | None = None) -> bool:
    """Store the finished reply, unless it stopped being ours or a person took over.

    The conversation row is locked first: an escalation flips the conversation's open
    replies to failed under the same lock, so a reply finishing at that moment lands
    either wholly before the handoff or not at all. ``conversation_id``: the reply's,
    when the caller has it (a reply never moves to another conversation).
    """
    if conversation_id is None:
        conversation_id = (
            Message.objects.filter(pk=reply_id).values_list("conversation_id", flat=True).first()
        )
    if conversation_id is None:
        return False
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    now = _when(timezone.now())
    generating = Message.Status.GENERATING.value
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT state FROM support_bot_conversation WHERE id = %s{lock}",  # noqa: S608
            [conversation_id],
        )
        row = cursor.fetchone()
        if row is not None and row[0] in HELD_BY_A_PERSON:
            cursor.execute(
                _HANDED_OFF_SQL,
                [Message.Status.FAILED.value, "handed_off", now, reply_id, generating],
            )
            return False
        cursor.execute(
            _FINISH_SQL, [Message.Status.DONE.value, text, now, now, reply_id, generating]
        )
        return cursor.rowcount == 1


def reply_release(*, reply_id: int) -> bool:
    """Give a claimed reply back to the queue (its writer hit an outage and will retry)."""
    updated = Message.objects.filter(pk=reply_id, status=Message.Status.GENERATING).update(
        status=Message.Status.QUEUED, heartbeat_at=timezone.now()
    )
    return updated == 1


def reply_in_progress(*, reply_id: int) -> bool:
    """Another worker is writing this reply right now (its claim is alive)."""
    return Message.objects.filter(
        pk=reply_id,
        status=Message.Status.GENERATING,
        heartbeat_at__gte=timezone.now() - REPLY_LEASE,
    ).exists()


# Replies older than this are not revived: whoever asked has long gone.
STALLED_MAX_AGE = timedelta(hours=1)


@transaction.atomic
def replies_stalled_take(
    *, waited: timedelta, conversation_id: int | None = None, limit: int = 200
) -> list[int]:
    """Bot replies that no worker is writing and whose task may be gone: queued for longer
    than ``waited`` since they were last sent to the queue (the broker restarted empty, or
    sending failed), or claimed by a worker that stopped beating (it died).

    The queued ones are stamped as sent again now, so the next sweep waits ``waited``
    before sending them once more. Sending a reply twice is harmless: only one claim wins.
    """
    now = timezone.now()
    since = now - waited
    stalled = (
        Message.objects.select_for_update(skip_locked=True)
        .filter(role=Message.Role.BOT, created_at__gte=now - STALLED_MAX_AGE)
        .filter(
            Q(status=Message.Status.QUEUED, heartbeat_at=None, created_at__lt=since)
            | Q(status=Message.Status.QUEUED, heartbeat_at__lt=since)
            | Q(status=Message.Status.GENERATING, heartbeat_at__lt=now - REPLY_LEASE)
        )
        .order_by("created_at")
    )
    if conversation_id is not None:
        stalled = stalled.filter(conversation_id=conversation_id)
    ids = list(stalled.values_list("pk", flat=True)[:limit])
    Message.objects.filter(pk__in=ids, status=Message.Status.QUEUED).update(heartbeat_at=now)
    return ids


def reply_fail(*, reply_id: int, code: str, text: str) -> bool:
    updated = Message.objects.filter(
        pk=reply_id, status__in=[Message.Status.GENERATING, Message.Status.QUEUED]
    ).update(status=Message.Status.FAILED, text=text, error_code=code, finished_at=timezone.now())
    return updated == 1
