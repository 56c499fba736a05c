"""Reading conversations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection

from support_bot.memory import Remembered, split_recent
from support_bot.models import Conversation, Message
from support_bot.streams import partial_get

HISTORY_LIMIT = 50


@dataclass(frozen=True)
class Turn:
    role: str
    text: str


@dataclass(frozen=True)
class ReplyJob:
    """Everything a worker needs to write one reply, read in one go."""

    reply_id: int
    conversation_id: int
    attempt: int
    group: str
    conversation_state: str
    language: str
    customer_id: int | None
    customer_name: str | None
    history: tuple[Turn, ...]
    memory_summary: str = ""
    # Turns older than the recent window that the stored summary does not hold yet.
    memory_pending: tuple[Remembered, ...] = ()


def conversation_history(*, conversation_id: int) -> list[dict[str, Any]]:
    """The conversation as the widget shows it, partial replies included."""
    messages = list(
        Message.objects.filter(conversation_id=conversation_id)
        .exclude(role=Message.Role.BOT, status=Message.Status.QUEUED)
        .order_by("-created_at", "-id")[:HISTORY_LIMIT]
    )
    frames = []
    for message in reversed(messages):
        item: dict[str, Any] = {
            "id": message.pk,
            "role": message.role,
            "text": message.text,
            "status": message.status,
            "seq": 0,
        }
        if message.status == Message.Status.GENERATING:
            partial = partial_get(message.pk) or {}
            item["text"] = str(partial.get("text", ""))
            item["seq"] = int(partial.get("seq", 0))
        frames.append(item)
    return frames


def reply_state(*, reply_id: int, conversation_id: int) -> tuple[str, str] | None:
    """A reply's (status, text), if it is one of this conversation's messages."""
    return (
        Message.objects.filter(pk=reply_id, conversation_id=conversation_id)
        .values_list("status", "text")
        .first()
    )


# The two statements of ``reply_job_get``, written out: the ORM took ~2 ms to build and
# compile them on every reply, three times what PostgreSQL takes to run them. Parameters
# only; the tables are the models' (``Message``, ``Conversation``, ``orders.Customer``).
_REPLY_JOB_SQL = (
    "SELECT m.attempts, m.conversation_id, c.public_id, c.state, c.language,"
    " c.memory_summary, c.memory_upto, c.customer_id, cu.name"
    " FROM support_bot_message m JOIN support_bot_conversation c ON c.id = m.conversation_id"
    " LEFT JOIN orders_customer cu ON cu.id = c.customer_id"
    " WHERE m.id = %s"
)
_REPLY_TURNS_SQL = (
    "SELECT id, role, text FROM support_bot_message"
    " WHERE conversation_id = %s"
    " AND created_at <= (SELECT created_at FROM support_bot_message WHERE id = %s)"
    " AND id <> %s AND status = %s AND role <> %s"
    " ORDER BY created_at DESC, id DESC LIMIT %s"
)

_PUBLIC_ID = Conversation._meta.get_field("public_id")


def reply_job_get(*, reply_id: int, turns: int = 40) -> ReplyJob:
    """Raises ``Message.DoesNotExist`` for a reply that is not stored."""
    # Plain rows, not model instances: this runs before every reply.
    with connection.cursor() as cursor:
        cursor.execute(_REPLY_JOB_SQL, [reply_id])
        reply = cursor.fetchone()
        if reply is None:
            raise Message.DoesNotExist(f"no reply {reply_id}")
        (attempts, conversation_id, public_id, state, language) = reply[:5]
        (memory_summary, memory_upto, customer_id, customer_name) = reply[5:]
        cursor.execute(
            _REPLY_TURNS_SQL,
            [
                conversation_id,
                reply_id,
                reply_id,
                Message.Status.DONE.value,
                Message.Role.SYSTEM.value,
                turns,
            ],
        )
        rows = cursor.fetchall()
    remembered = [Remembered(id=pk, role=role, text=text) for pk, role, text in reversed(rows)]
    start = split_recent(remembered)
    earlier = remembered[start:]
    return ReplyJob(
        reply_id=reply_id,
        conversation_id=conversation_id,
        attempt=attempts,
        # The field's own conversion: PostgreSQL returns a UUID, SQLite 32 hex digits.
        group=Conversation.group_name_of(_PUBLIC_ID.to_python(public_id)),
        conversation_state=state,
        language=language,
        customer_id=customer_id,
        customer_name=customer_name,
        history=tuple(Turn(role=m.role, text=m.text) for m in earlier),
        memory_summary=memory_summary,
        memory_pending=tuple(m for m in remembered[:start] if m.id > memory_upto),
    )
