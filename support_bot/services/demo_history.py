"""Demo history for the cost report: weeks of conversations, escalations, ratings and
the ledger rows their bot replies cost.

The demo's conversations are unmistakable: their public ids lie in a reserved range of
UUIDs that are not version 4, and every real conversation's id is (``uuid.uuid4``). So
seeding again replaces exactly the demo's conversations, messages, ratings and ledger
rows, and never touches a shopper's. The ledger rows come from
``routing.services.ledger_history``, which gets the bot replies to bill by id.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import connection, transaction
from django.db.models import Model, QuerySet
from django.utils import timezone

from routing.services.ledger_history import BilledTurn, ledger_history_clear, ledger_history_seed
from support_bot.models import Conversation, Message, Rating

# Version nibble 0: uuid4 never produces these (see the module docstring).
DEMO_ID_FIRST = uuid.UUID("0000de30-0000-0000-0000-000000000000")
DEMO_ID_LAST = uuid.UUID("0000de30-0000-0000-ffff-ffffffffffff")
BATCH = 2_000

CONVERSATIONS_A_DAY = 30
WEEKDAY = (1.15, 1.1, 1.05, 1.0, 0.95, 0.75, 0.7)  # Monday first: shoppers write on weekdays
HOURS = [1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 8, 9, 9, 8, 8, 8, 8, 9, 10, 9, 7, 4, 2]
TURNS = ((1, 30), (2, 30), (3, 20), (4, 12), (5, 8))
ESCALATED, ABANDONED, RATED = 0.12, 0.18, 0.35
SCORES: dict[str, tuple[int, ...]] = {
    Conversation.Resolution.BOT: (6, 7, 12, 30, 45),
    Conversation.Resolution.AGENT: (3, 5, 9, 28, 55),
}
QUESTIONS = (
    "Where is my order?",
    "My parcel says delivered but I don't have it.",
    "Can I return the trail runners? They are too small.",
    "When will my refund arrive?",
    "Do you ship to Norway?",
    "Can I change the delivery address?",
    "Was my payment taken twice?",
    "Is the rain jacket back in stock?",
    "How long is the return window?",
    "Can I exchange for a different colour?",
)
REPLIES = (
    "Your order shipped yesterday with UPS; it should arrive within two days.",
    "I've looked at your order: the refund was issued and shows in 3-5 working days.",
    "Yes, you can return unworn items within 30 days of delivery. Shall I start it?",
    "We ship to Norway; delivery takes 4-6 working days.",
    "There is one payment on your order, and one authorisation that will drop off.",
)
HANDOFF = "I'm handing you to a colleague who can sort this out."
AGENT_LINES = (
    "Hi, this is Sam from the support team. I've sorted this out for you.",
    "I've refunded the shipping cost as well. Anything else I can do?",
)


@dataclass(frozen=True)
class DemoHistory:
    days: int
    conversations: int
    messages: int
    ratings: int
    ledger_rows: int

    def __str__(self) -> str:
        return (
            f"{self.conversations:,} conversations, {self.messages:,} messages, "
            f"{self.ratings:,} ratings and {self.ledger_rows:,} ledger rows "
            f"over the {self.days} days before today"
        )


@dataclass
class _Plan:
    """One demo conversation, before it is written."""

    conversation: Conversation
    # Inserting sets auto_now(_add) fields to now: the real times are kept here.
    started_at: datetime
    last_at: datetime
    messages: list[Message]
    message_times: list[datetime]
    billed: list[int]  # indexes in ``messages`` of the bot replies the ledger bills
    rating: Rating | None


def demo_conversations() -> QuerySet[Conversation]:
    return Conversation.objects.filter(public_id__gte=DEMO_ID_FIRST, public_id__lte=DEMO_ID_LAST)


@transaction.atomic
def demo_history_seed(*, days: int = 90, seed: int = 7, today: date) -> DemoHistory:
    """Replace the demo history with ``days`` days of it, ending yesterday. Deterministic."""
    rng = random.Random(seed)
    plans = [
        _plan(rng, number=number, day=day)
        for number, day in _conversation_days(rng, days=days, today=today)
    ]
    old = list(demo_conversations().values_list("id", flat=True))
    ledger_history_clear(conversation_ids=old)
    for start in range(0, len(old), BATCH):
        Conversation.objects.filter(id__in=old[start : start + BATCH]).delete()
    _write(plans)
    turns = [
        BilledTurn(
            conversation_id=plan.conversation.pk,
            message_id=plan.messages[index].pk,
            at=plan.message_times[index],
            turn=turn,
        )
        for plan in plans
        for turn, index in enumerate(plan.billed, start=1)
    ]
    ledger_rows = ledger_history_seed(days=days, seed=seed, today=today, turns=turns)
    return DemoHistory(
        days=days,
        conversations=len(plans),
        messages=sum(len(plan.messages) for plan in plans),
        ratings=sum(1 for plan in plans if plan.rating is not None),
        ledger_rows=ledger_rows,
    )


def _conversation_days(rng: random.Random, *, days: int, today: date) -> list[tuple[int, date]]:
    """(number, day) of every demo conversation: more on weekdays, growing over time."""
    out: list[tuple[int, date]] = []
    for offset in range(days, 0, -1):
        day = today - timedelta(days=offset)
        growth = 0.8 + 0.4 * (days - offset) / max(days, 1)
        count = round(
            CONVERSATIONS_A_DAY * WEEKDAY[day.weekday()] * growth * rng.uniform(0.85, 1.15)
        )
        first = len(out)
        out.extend((first + n, day) for n in range(count))
    return out


def _plan(rng: random.Random, *, number: int, day: date) -> _Plan:
    tz = timezone.get_default_timezone()
    hour = rng.choices(range(24), HOURS)[0]
    at = datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)), tzinfo=tz)
    turns = rng.choices([t for t, _ in TURNS], [w for _, w in TURNS])[0]
    escalate_after = rng.randint(1, turns) if rng.random() < ESCALATED else None
    conversation = Conversation(
        public_id=uuid.UUID(int=DEMO_ID_FIRST.int + number),
        language="en",
        identity=Conversation.Identity.ANONYMOUS,
    )
    messages: list[Message] = []
    times: list[datetime] = []
    billed: list[int] = []

    def say(role: str, text: str, after: timedelta) -> Message:
        nonlocal at
        at += after
        message = Message(conversation=conversation, role=role, text=text)
        messages.append(message)
        times.append(at)
        return message

    for turn in range(1, turns + 1):
        question = say(
            Message.Role.SHOPPER, rng.choice(QUESTIONS), timedelta(seconds=rng.randint(20, 180))
        )
        say(
            Message.Role.BOT, rng.choice(REPLIES), timedelta(seconds=rng.randint(3, 14))
        ).reply_to = question
        billed.append(len(messages) - 1)
        if turn == escalate_after:
            break
    if escalate_after is not None:
        say(Message.Role.SYSTEM, HANDOFF, timedelta(seconds=2))
        conversation.escalated_at = at
        conversation.escalation_reasons = ["asked_for_a_person"]
        for line in AGENT_LINES:
            say(Message.Role.AGENT, line, timedelta(minutes=rng.randint(2, 25)))
    rating = _resolve(rng, conversation, last_at=at)
    started_at = times[0] - timedelta(seconds=5)
    last_at = conversation.resolved_at or at
    return _Plan(conversation, started_at, last_at, messages, times, billed, rating)


def _resolve(rng: random.Random, conversation: Conversation, *, last_at: datetime) -> Rating | None:
    """Escalated conversations end with an agent; most others with the bot; some shoppers
    just leave. A third of the resolved ones get rated."""
    if conversation.escalated_at is not None:
        resolution = Conversation.Resolution.AGENT
    elif rng.random() >= ABANDONED:
        resolution = Conversation.Resolution.BOT
    else:
        return None
    conversation.state = Conversation.State.RESOLVED
    conversation.resolution = resolution
    conversation.resolved_at = last_at + timedelta(minutes=rng.randint(1, 10))
    if rng.random() >= RATED:
        return None
    return Rating(conversation=conversation, score=rng.choices(range(1, 6), SCORES[resolution])[0])


def _write(plans: list[_Plan]) -> None:
    """Bulk inserts, then the real timestamps.

    Foreign keys to objects inserted just before pick up their new ids in bulk_create.
    """
    conversations = [plan.conversation for plan in plans]
    Conversation.objects.bulk_create(conversations, batch_size=BATCH)
    messages = [message for plan in plans for message in plan.messages]
    # Shopper questions first: the bot replies point at them.
    Message.objects.bulk_create(
        [m for m in messages if m.role == Message.Role.SHOPPER], batch_size=BATCH
    )
    Message.objects.bulk_create(
        [m for m in messages if m.role != Message.Role.SHOPPER], batch_size=BATCH
    )
    ratings = [plan.rating for plan in plans if plan.rating is not None]
    Rating.objects.bulk_create(ratings, batch_size=BATCH)
    _backdate(
        Conversation,
        ["created_at", "updated_at"],
        [(plan.conversation.pk, plan.started_at, plan.last_at) for plan in plans],
    )
    _backdate(
        Message,
        ["created_at"],
        [
            (message.pk, at)
            for plan in plans
            for message, at in zip(plan.messages, plan.message_times, strict=True)
        ],
    )
    _backdate(
        Rating,
        ["created_at"],
        [(p.rating.pk, p.last_at + timedelta(minutes=3)) for p in plans if p.rating is not None],
    )


def _backdate(
    model: type[Model], fields: list[str], rows: list[tuple[int, datetime, *tuple[datetime, ...]]]
) -> None:
    """Set ``auto_now``/``auto_now_add`` fields, which every ORM insert sets to now.

    One prepared UPDATE run for all rows: ``bulk_update`` builds a CASE per object, which
    takes seconds for the demo's tens of thousands of rows.
    """
    column = {field.name: str(field.column) for field in model._meta.concrete_fields}
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(column[name])} = %s" for name in fields)
    # Identifiers come from the model's own metadata, quoted; every value is a parameter.
    sql = f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE id = %s"  # noqa: S608
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.executemany(sql, [[*(adapt(at) for at in times), pk] for pk, *times in rows])
