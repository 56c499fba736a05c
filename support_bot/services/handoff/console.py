"""What the agent console reads: the queue, the hand-off summary, the conversation view."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from orders.context import order_facts_for_customer, render_orders
from orders.models import Order
from support_bot.models import (
    AgentAction,
    CannedReply,
    Conversation,
    InternalNote,
    Message,
    Rating,
)
from support_bot.services.handoff.agents import AgentCard, agent_display_name, agents_on_duty
from support_bot.services.handoff.common import ASKED_FOR_PERSON, Kind, State
from support_bot.services.handoff.errors import ConversationNotFound
from support_bot.streams import partial_get

URGENT, HIGH, NORMAL = 3, 2, 1
PRIORITY_LABELS = {URGENT: "Urgent", HIGH: "High", NORMAL: "Normal"}
# Matched inside routing's reason strings ("dispute", "legal_threat", "sentiment:angry"...).
_URGENT_WORDS = ("legal", "lawyer", "chargeback", "dispute", "abuse", "fraud", "threat")
_HIGH_WORDS = ("angry", "anger", "frustrat", "upset", "complain", "negative", "churn")
# A customer whose latest order is worth this much moves up one level (never to urgent).
HIGH_VALUE_ORDER_TOTAL = Decimal("250")
REASON_LABELS = {
    ASKED_FOR_PERSON: "Asked for a person",
    "human_agent": "Asked for a person",
    "dispute": "Dispute or legal threat",
}


def escalation_priority(reasons: Iterable[str], order_value: Decimal | None = None) -> int:
    text = " ".join(reasons).lower()
    if any(word in text for word in _URGENT_WORDS):
        return URGENT
    level = HIGH if any(word in text for word in _HIGH_WORDS) else NORMAL
    if order_value is not None and order_value >= HIGH_VALUE_ORDER_TOTAL:
        level = min(level + 1, HIGH)
    return level


def reason_label(reason: str) -> str:
    return REASON_LABELS.get(reason, reason.replace("_", " ").replace(":", ": ").capitalize())


@dataclass(frozen=True)
class QueueItem:
    conversation_id: int
    reference: str
    state: str
    customer_name: str | None
    language: str
    reasons: tuple[str, ...]
    priority: int
    order_value: Decimal | None
    order_currency: str | None
    escalated_at: datetime | None
    contact_email: str
    assigned_agent_id: int | None
    assigned_agent_name: str | None
    last_shopper_text: str

    @property
    def priority_label(self) -> str:
        return PRIORITY_LABELS[self.priority]

    @property
    def reason_labels(self) -> tuple[str, ...]:
        return tuple(reason_label(reason) for reason in self.reasons)


@dataclass(frozen=True)
class Board:
    waiting: tuple[QueueItem, ...]  # highest priority first, oldest first within one
    active: tuple[QueueItem, ...]  # with an agent, most recently escalated first
    on_duty: tuple[AgentCard, ...]


def _queue_items(states: Iterable[str]) -> list[QueueItem]:
    latest_order = Order.objects.filter(customer=OuterRef("customer")).order_by("-placed_at")
    last_shopper = Message.objects.filter(
        conversation=OuterRef("pk"), role=Message.Role.SHOPPER
    ).order_by("-created_at", "-id")
    rows = (
        Conversation.objects.filter(state__in=list(states))
        .select_related("customer", "assigned_agent")
        .annotate(
            order_value=Subquery(latest_order.values("total")[:1]),
            order_currency=Subquery(latest_order.values("currency")[:1]),
            last_shopper_text=Subquery(last_shopper.values("text")[:1]),
        )
    )
    items = []
    for row in rows:
        reasons = tuple(str(r) for r in row.escalation_reasons)
        order_value = row.order_value
        items.append(
            QueueItem(
                conversation_id=row.pk,
                reference=row.public_id.hex[:8],
                state=row.state,
                customer_name=row.customer.name if row.customer else None,
                language=row.language,
                reasons=reasons,
                priority=escalation_priority(reasons, order_value),
                order_value=order_value,
                order_currency=row.order_currency,
                escalated_at=row.escalated_at,
                contact_email=row.contact_email,
                assigned_agent_id=row.assigned_agent_id,
                assigned_agent_name=(
                    agent_display_name(row.assigned_agent) if row.assigned_agent else None
                ),
                last_shopper_text=(row.last_shopper_text or "")[:200],
            )
        )
    return items


def _queue_order(item: QueueItem) -> tuple[int, datetime]:
    return (-item.priority, item.escalated_at or timezone.now())


def queue_board() -> Board:
    items = _queue_items([State.WAITING, State.AGENT])
    waiting = sorted((i for i in items if i.state == State.WAITING), key=_queue_order)
    active = sorted(
        (i for i in items if i.state == State.AGENT),
        key=lambda i: i.escalated_at or timezone.now(),
        reverse=True,
    )
    return Board(tuple(waiting), tuple(active), tuple(agents_on_duty()))


def _queue_position(conversation_id: int) -> int:
    waiting = sorted(_queue_items([State.WAITING]), key=_queue_order)
    ids = [item.conversation_id for item in waiting]
    return ids.index(conversation_id) + 1 if conversation_id in ids else len(ids) + 1


def average_handling_time(*, samples: int = 50, since_days: int = 14) -> timedelta | None:
    """From claim to resolution, over recent agent resolutions; None below 3 samples."""
    since = timezone.now() - timedelta(days=since_days)
    resolved = list(
        AgentAction.objects.filter(
            kind=Kind.RESOLVED, agent__isnull=False, created_at__gte=since
        ).order_by("-created_at")[:samples]
    )
    claims: dict[int, list[datetime]] = {}
    for action in AgentAction.objects.filter(
        kind=Kind.CLAIMED, conversation_id__in={a.conversation_id for a in resolved}
    ):
        claims.setdefault(action.conversation_id, []).append(action.created_at)
    durations = []
    for action in resolved:
        earlier = [t for t in claims.get(action.conversation_id, []) if t <= action.created_at]
        if earlier:
            durations.append(action.created_at - max(earlier))
    if len(durations) < 3:
        return None
    return sum(durations, timedelta()) / len(durations)


def _wait_minutes(position: int, on_duty: int) -> int | None:
    handling = average_handling_time()
    if handling is None:
        return None
    rounds = math.ceil(position / max(on_duty, 1))
    return max(2, math.ceil(rounds * handling.total_seconds() / 60))


@dataclass(frozen=True)
class CustomerCard:
    name: str
    email: str
    external_id: str
    language: str


@dataclass(frozen=True)
class HandoffSummary:
    reasons: tuple[str, ...]  # readable labels
    shopper_wants: tuple[str, ...]  # the shopper's last messages, oldest first
    bot_tried: tuple[str, ...]  # the bot's last replies, trimmed, oldest first
    customer: CustomerCard | None
    orders_text: str | None


SUMMARY_TURNS = 3
SUMMARY_TRIM = 280


def _trim(text: str, limit: int = SUMMARY_TRIM) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def handoff_summary(*, conversation_id: int) -> HandoffSummary:
    """What an agent reads first: what the shopper wants, what the bot tried, who it is."""
    conversation = Conversation.objects.select_related("customer").get(pk=conversation_id)
    messages = Message.objects.filter(conversation=conversation).order_by("-created_at", "-id")
    wants = messages.filter(role=Message.Role.SHOPPER).values_list("text", flat=True)
    tried = messages.filter(role=Message.Role.BOT, status=Message.Status.DONE).values_list(
        "text", flat=True
    )
    customer = conversation.customer
    return HandoffSummary(
        reasons=tuple(reason_label(str(r)) for r in conversation.escalation_reasons),
        shopper_wants=tuple(_trim(t) for t in reversed(wants[:SUMMARY_TURNS])),
        bot_tried=tuple(_trim(t) for t in reversed(tried[:SUMMARY_TURNS])),
        customer=(
            CustomerCard(customer.name, customer.email, customer.external_id, customer.language)
            if customer
            else None
        ),
        orders_text=(
            render_orders(order_facts_for_customer(customer_id=customer.pk)) if customer else None
        ),
    )


@dataclass(frozen=True)
class TranscriptEntry:
    id: int
    role: str
    text: str
    status: str
    created_at: datetime


def conversation_transcript(*, conversation_id: int, limit: int = 200) -> list[TranscriptEntry]:
    """The conversation as an agent reads it: a streaming reply shows what it has so far."""
    rows = list(
        Message.objects.filter(conversation_id=conversation_id)
        .exclude(role=Message.Role.BOT, status=Message.Status.QUEUED)
        .exclude(role=Message.Role.BOT, status=Message.Status.FAILED, text="")
        .order_by("-created_at", "-id")[:limit]
    )
    entries = []
    for row in reversed(rows):
        text = row.text
        if row.status == Message.Status.GENERATING:
            text = str((partial_get(row.pk) or {}).get("text", ""))
        entries.append(TranscriptEntry(row.pk, row.role, text, row.status, row.created_at))
    return entries


@dataclass(frozen=True)
class NoteCard:
    id: int
    author: str
    text: str
    created_at: datetime


def _note_card(note: InternalNote) -> NoteCard:
    author = agent_display_name(note.author) if note.author else "Deleted user"
    return NoteCard(note.pk, author, note.text, note.created_at)


def note_payload(note: NoteCard) -> dict[str, Any]:
    """A note as agent consoles receive it (live in a ``note`` frame, and in the view)."""
    return {
        "id": note.id,
        "author": note.author,
        "text": note.text,
        "created_at": note.created_at.isoformat(),
    }


@dataclass(frozen=True)
class ConversationDetail:
    conversation_id: int
    reference: str
    state: str
    language: str
    contact_email: str
    escalated_at: datetime | None
    assigned_agent_id: int | None
    assigned_agent_name: str | None
    rating: tuple[int, str] | None
    summary: HandoffSummary
    transcript: list[TranscriptEntry]
    notes: list[NoteCard]


def conversation_detail(*, conversation_id: int) -> ConversationDetail:
    try:
        conversation = Conversation.objects.select_related("assigned_agent").get(pk=conversation_id)
    except Conversation.DoesNotExist:
        raise ConversationNotFound("There is no such conversation.") from None
    rating = Rating.objects.filter(conversation=conversation).first()
    notes = InternalNote.objects.filter(conversation=conversation).select_related("author")
    holder = conversation.assigned_agent
    return ConversationDetail(
        conversation_id=conversation.pk,
        reference=conversation.public_id.hex[:8],
        state=conversation.state,
        language=conversation.language,
        contact_email=conversation.contact_email,
        escalated_at=conversation.escalated_at,
        assigned_agent_id=conversation.assigned_agent_id,
        assigned_agent_name=agent_display_name(holder) if holder else None,
        rating=(rating.score, rating.comment) if rating else None,
        summary=handoff_summary(conversation_id=conversation.pk),
        transcript=conversation_transcript(conversation_id=conversation.pk),
        notes=[_note_card(note) for note in notes],
    )


def conversation_groups(*, conversation_id: int) -> tuple[str, str]:
    """The widget group and the agents-only group an agent viewing it joins."""
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None:
        raise ConversationNotFound("There is no such conversation.")
    return conversation.group_name, conversation.agents_group_name


def conversation_held_by(*, conversation_id: int, agent_id: int) -> bool:
    return Conversation.objects.filter(
        pk=conversation_id, state=State.AGENT, assigned_agent_id=agent_id
    ).exists()


@dataclass(frozen=True)
class CannedReplyCard:
    id: int
    title: str
    text: str
    language: str


def canned_reply_list() -> list[CannedReplyCard]:
    return [CannedReplyCard(r.pk, r.title, r.text, r.language) for r in CannedReply.objects.all()]
