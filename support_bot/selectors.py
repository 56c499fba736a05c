"""Reading conversations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


def reply_job_get(*, reply_id: int, turns: int = 40) -> ReplyJob:
    # One row of plain values: this runs before every reply, and model instances of the
    # reply, its conversation and customer cost more to build than the query.
    reply = (
        Message.objects.filter(pk=reply_id)
        .values(
            "created_at",
            "attempts",
            "conversation_id",
            "conversation__public_id",
            "conversation__state",
            "conversation__language",
            "conversation__memory_summary",
            "conversation__memory_upto",
            "conversation__customer_id",
            "conversation__customer__name",
        )
        .get()
    )
    rows = (
        Message.objects.filter(
            conversation_id=reply["conversation_id"], created_at__lte=reply["created_at"]
        )
        .exclude(pk=reply_id)
        .filter(status=Message.Status.DONE)
        .exclude(role=Message.Role.SYSTEM)
        .order_by("-created_at", "-id")
        .values_list("id", "role", "text")[:turns]
    )
    remembered = [
        Remembered(id=pk, role=role, text=text) for pk, role, text in reversed(list(rows))
    ]
    start = split_recent(remembered)
    earlier = remembered[start:]
    return ReplyJob(
        reply_id=reply_id,
        conversation_id=reply["conversation_id"],
        attempt=reply["attempts"],
        group=Conversation.group_name_of(reply["conversation__public_id"]),
        conversation_state=reply["conversation__state"],
        language=reply["conversation__language"],
        customer_id=reply["conversation__customer_id"],
        customer_name=reply["conversation__customer__name"],
        history=tuple(Turn(role=m.role, text=m.text) for m in earlier),
        memory_summary=reply["conversation__memory_summary"],
        memory_pending=tuple(
            m for m in remembered[:start] if m.id > reply["conversation__memory_upto"]
        ),
    )
