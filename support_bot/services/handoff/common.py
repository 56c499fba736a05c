"""What the hand-off modules share: its settings, and the pieces every write uses (the
conversation lock, state checks, the audit record, frames after commit)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from django.db import connection, transaction

from support_bot.models import (
    AgentAction,
    Conversation,
    Message,
)
from support_bot.services.handoff.errors import (
    ConversationNotFound,
    IllegalTransition,
    InvalidInput,
)
from support_bot.streams import publish

SUPPORT_AGENTS_GROUP = "Support agents"
# Every agent console listens here for queue and presence changes.
AGENTS_GROUP = "agents"
# An agent counts as on duty while their console reported in this recently.
PRESENCE_WINDOW = timedelta(seconds=60)
ASKED_FOR_PERSON = "asked_for_person"
MAX_NOTE_CHARS = 4000
MAX_REPLY_CHARS = 4000
MAX_RATING_COMMENT_CHARS = 2000

State = Conversation.State
Kind = AgentAction.Kind


# --- shared pieces of the writes ---------------------------------------------------------


def _lock(conversation_id: int) -> Conversation:
    try:
        return Conversation.objects.select_for_update().get(pk=conversation_id)
    except Conversation.DoesNotExist:
        raise ConversationNotFound("There is no such conversation.") from None


# What a shopper message reads of its conversation, in the model's field order (as
# ``from_db`` takes them); the other fields load when used. Built once.
_MESSAGE_FIELDS = [
    field.attname
    for field in Conversation._meta.concrete_fields
    if field.attname in {"id", "public_id", "state", "contact_email"}
]
_MESSAGE_LOCK_SQL = (
    f"SELECT {', '.join(_MESSAGE_FIELDS)} FROM support_bot_conversation WHERE id = %s"  # noqa: S608
)
_PUBLIC_ID = _MESSAGE_FIELDS.index("public_id")


def _lock_for_message(conversation_id: int) -> Conversation:
    """``_lock`` for the one write every shopper message makes: the same row lock, written
    out and reading four columns (through the ORM, building and compiling the query took
    longer than running it, on the one thread that stores every websocket's messages)."""
    sql = _MESSAGE_LOCK_SQL
    if connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(sql, [conversation_id])
        row = cursor.fetchone()
    if row is None:
        raise ConversationNotFound("There is no such conversation.")
    values = list(row)
    values[_PUBLIC_ID] = Conversation._meta.get_field("public_id").to_python(values[_PUBLIC_ID])
    return Conversation.from_db(connection.alias, _MESSAGE_FIELDS, values)


def _require_state(conversation: Conversation, action: str, *allowed: str) -> None:
    if conversation.state not in allowed:
        raise IllegalTransition(
            f"Cannot {action} a conversation that is {conversation.get_state_display().lower()}."
        )


def _reasons(reasons: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for reason in reasons:
        cleaned = str(reason).strip()[:80]
        if cleaned and cleaned not in seen:
            seen.append(cleaned)
    return seen[:10]


def _clean_text(text: object, *, limit: int, what: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(f"The {what} is empty.")
    text = text.strip()
    if len(text) > limit:
        raise InvalidInput(f"The {what} is longer than {limit} characters.")
    return text


def _system_message(conversation: Conversation, text: str) -> Message:
    return Message.objects.create(conversation=conversation, role=Message.Role.SYSTEM, text=text)


def _record(conversation: Conversation, kind: str, agent_id: int | None, **detail: Any) -> None:
    AgentAction.objects.create(
        conversation=conversation, agent_id=agent_id, kind=kind, detail=detail
    )


def _after_commit(callback: Callable[[], None]) -> None:
    transaction.on_commit(callback)


def _message_frame(message: Message) -> dict[str, Any]:
    return {"type": "message", "message_id": message.pk, "role": message.role, "text": message.text}


def _after_transition(
    conversation: Conversation,
    change: str,
    agent_id: int | None,
    *,
    messages: list[Message],
    to_agent_id: int | None = None,
) -> None:
    """After commit: the new state and any system message to the widgets, and the board."""
    group = conversation.group_name
    frames = [{"type": "state", "state": conversation.state}]
    frames += [_message_frame(message) for message in messages]
    conversation_id = conversation.pk

    def send() -> None:
        for frame in frames:
            publish(group, frame)
        _publish_board_change(change, conversation_id, agent_id, to_agent_id=to_agent_id)

    _after_commit(send)


def _publish_board_change(
    change: str, conversation_id: int | None, agent_id: int | None, **extra: Any
) -> None:
    publish(
        AGENTS_GROUP,
        {
            "type": "board_changed",
            "change": change,
            "conversation_id": conversation_id,
            "agent_id": agent_id,
            **{key: value for key, value in extra.items() if value is not None},
        },
    )
