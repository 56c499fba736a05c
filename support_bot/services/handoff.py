"""Human escalation: the bot hands a conversation to a person, and back.

The conversation's state machine (``Conversation.state``); every arrow is one service
below, taken under ``select_for_update`` of the conversation row, recorded as an
``AgentAction``, and refused with ``IllegalTransition`` from any other state::

    bot ─escalate─▶ waiting ─claim─▶ agent ─resolve─▶ resolved ─reopen─▶ bot
     │                                 │ ▲                 ▲
     │                                 │ └─reassign─┘      │
     ├◀──────────hand back─────────────┘                   │
     └─────────────────────resolve_by_bot──────────────────┘

Escalating stops the bot: its open replies are flipped to failed (``handed_off``), so the
reply writer's conditional heartbeat/finish updates fail, and the shopper's consumer
drops bot frames while a person holds the conversation.

Frames go out only after commit. Widgets get ``state`` and ``message`` frames on the
conversation's group; agent consoles also get internal frames on
``conversation.agents_group_name`` and board changes on ``AGENTS_GROUP``
(docs/agent_protocol.md). The read side the console needs follows the services.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from orders.context import order_facts_for_customer, render_orders
from orders.models import Order
from routing.decisions import asks_for_person
from support_bot.models import (
    AgentAction,
    AgentPresence,
    CannedReply,
    Conversation,
    InternalNote,
    Message,
    Rating,
)
from support_bot.services.messages import Received, message_received_before, message_store
from support_bot.streams import partial_get, publish

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


# --- errors ------------------------------------------------------------------------------


class HandoffError(Exception):
    """A refused handoff request; ``code`` is what the websocket error frame carries."""

    code = "handoff_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConversationNotFound(HandoffError):
    code = "not_found"


class IllegalTransition(HandoffError):
    code = "illegal_transition"


class AlreadyTaken(IllegalTransition):
    code = "already_taken"

    def __init__(self, holder: str) -> None:
        super().__init__(f"Already taken by {holder}.")
        self.holder = holder


class NotAssigned(IllegalTransition):
    code = "not_assigned"


class NotAnAgent(HandoffError):
    code = "not_an_agent"


class AgentNotOnDuty(HandoffError):
    code = "not_on_duty"


class InvalidInput(HandoffError):
    code = "invalid_input"


class InvalidRating(InvalidInput):
    code = "invalid_rating"


class InvalidEmail(InvalidInput):
    code = "invalid_email"


class RatingNotAllowed(HandoffError):
    code = "not_resolved"


class AlreadyRated(HandoffError):
    code = "already_rated"


class ContactNotAllowed(HandoffError):
    code = "not_waiting"


# --- what the shopper reads (en/de/fr/es) ----------------------------------------------

NOTICES: dict[str, dict[str, str]] = {
    "queued": {
        "en": "I'm passing you to a person from our support team. You're number {position} "
        "in the queue; the wait is about {minutes} minutes.",
        "de": "Ich leite Sie an eine Person aus unserem Support-Team weiter. Sie sind Nummer "
        "{position} in der Warteschlange; die Wartezeit beträgt etwa {minutes} Minuten.",
        "fr": "Je vous transfère à une personne de notre équipe d'assistance. Vous êtes "
        "numéro {position} dans la file d'attente ; l'attente est d'environ {minutes} minutes.",
        "es": "Te paso con una persona de nuestro equipo de soporte. Eres el número "
        "{position} en la cola; la espera es de unos {minutes} minutos.",
    },
    "queued_soon": {
        "en": "I'm passing you to a person from our support team. You're number {position} "
        "in the queue; someone will be with you in a few minutes.",
        "de": "Ich leite Sie an eine Person aus unserem Support-Team weiter. Sie sind Nummer "
        "{position} in der Warteschlange; in wenigen Minuten ist jemand für Sie da.",
        "fr": "Je vous transfère à une personne de notre équipe d'assistance. Vous êtes "
        "numéro {position} dans la file d'attente ; quelqu'un sera avec vous dans quelques "
        "minutes.",
        "es": "Te paso con una persona de nuestro equipo de soporte. Eres el número "
        "{position} en la cola; alguien te atenderá en unos minutos.",
    },
    "nobody": {
        "en": "Nobody from our support team is available right now. Please leave your email "
        "address here and we'll get back to you as soon as we can.",
        "de": "Gerade ist leider niemand aus unserem Support-Team erreichbar. Hinterlassen Sie "
        "hier Ihre E-Mail-Adresse, dann melden wir uns so schnell wie möglich.",
        "fr": "Personne de notre équipe d'assistance n'est disponible pour le moment. "
        "Laissez-nous votre adresse e-mail ici et nous vous répondrons dès que possible.",
        "es": "Ahora mismo no hay nadie disponible en nuestro equipo de soporte. Déjanos aquí "
        "tu dirección de correo electrónico y te responderemos lo antes posible.",
    },
    "joined": {
        "en": "{name} from our support team has joined the chat.",
        "de": "{name} aus unserem Support-Team ist jetzt im Chat.",
        "fr": "{name}, de notre équipe d'assistance, a rejoint la conversation.",
        "es": "{name}, de nuestro equipo de soporte, se ha unido al chat.",
    },
    "joined_unnamed": {
        "en": "A person from our support team has joined the chat.",
        "de": "Eine Person aus unserem Support-Team ist jetzt im Chat.",
        "fr": "Une personne de notre équipe d'assistance a rejoint la conversation.",
        "es": "Una persona de nuestro equipo de soporte se ha unido al chat.",
    },
    "handed_back": {
        "en": "You're chatting with our virtual assistant again. You can ask for a person at "
        "any time.",
        "de": "Sie chatten jetzt wieder mit unserem virtuellen Assistenten. Sie können "
        "jederzeit nach einer Person fragen.",
        "fr": "Vous discutez de nouveau avec notre assistant virtuel. Vous pouvez demander "
        "une personne à tout moment.",
        "es": "Vuelves a hablar con nuestro asistente virtual. Puedes pedir una persona "
        "cuando quieras.",
    },
    "contact_saved": {
        "en": "Thanks! We'll reply to {email} as soon as someone is available.",
        "de": "Danke! Wir antworten an {email}, sobald jemand verfügbar ist.",
        "fr": "Merci ! Nous répondrons à {email} dès que quelqu'un sera disponible.",
        "es": "¡Gracias! Responderemos a {email} en cuanto haya alguien disponible.",
    },
}


def _notice(key: str, language: str, **values: object) -> str:
    texts = NOTICES[key]
    return texts.get(language, texts["en"]).format(**values)


# --- asking for a person: routing's rule, applied the moment the message arrives ----------


def wants_a_person(text: str) -> bool:
    """Does the shopper ask for a person (en/de)? The same rule routing gives as a reason."""
    return asks_for_person(text)


_EMAIL_IN_TEXT = re.compile(r"[^\s<>()\[\]\"',;:]+@[^\s<>()\[\]\"',;:]+\.[A-Za-z]{2,}")


def email_in(text: str) -> str | None:
    """The one email address in a short message, if it holds exactly one."""
    if len(text) > 300:
        return None
    found = _EMAIL_IN_TEXT.findall(text)
    if len(found) != 1:
        return None
    candidate = found[0].rstrip(".")
    try:
        validate_email(candidate)
    except ValidationError:
        return None
    return candidate


# --- agents and presence -----------------------------------------------------------------


def _agents() -> Any:
    return User.objects.filter(is_active=True).filter(
        Q(is_superuser=True) | Q(groups__name=SUPPORT_AGENTS_GROUP)
    )


def user_is_agent(*, user: Any) -> bool:
    """Members of the "Support agents" group, and superusers."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return bool(user.is_superuser or user.groups.filter(name=SUPPORT_AGENTS_GROUP).exists())


def agent_display_name(user: User) -> str:
    return user.get_full_name() or user.username


def agent_presence_touch(*, agent_id: int) -> None:
    """The agent's console is alive (called on connect and on every heartbeat)."""
    AgentPresence.objects.update_or_create(
        agent_id=agent_id, defaults={"last_seen_at": timezone.now()}
    )


def agent_availability_set(*, agent_id: int, available: bool) -> None:
    AgentPresence.objects.update_or_create(
        agent_id=agent_id, defaults={"available": available, "last_seen_at": timezone.now()}
    )
    _after_commit(lambda: _publish_board_change("presence", None, agent_id))


@dataclass(frozen=True)
class AgentCard:
    id: int
    name: str


def agents_on_duty() -> list[AgentCard]:
    cutoff = timezone.now() - PRESENCE_WINDOW
    users = (
        _agents()
        .filter(support_presence__available=True, support_presence__last_seen_at__gte=cutoff)
        .distinct()
        .order_by("first_name", "username")
    )
    return [AgentCard(id=user.pk, name=agent_display_name(user)) for user in users]


def _require_agent(agent_id: int) -> User:
    user = _agents().filter(pk=agent_id).first()
    if user is None:
        raise NotAnAgent("Only support agents can do that.")
    return user


# --- writes: the transitions -------------------------------------------------------------


@dataclass(frozen=True)
class EscalationResult:
    conversation_id: int
    escalated: bool  # False: it already was with (or waiting for) a person
    state: str
    position: int | None
    agents_on_duty: int
    wait_minutes: int | None  # None: "a few minutes", or nobody on duty
    stopped_reply_ids: tuple[int, ...]
    notice: str | None  # what the shopper was told


@transaction.atomic
def conversation_escalate(*, conversation_id: int, reasons: list[str]) -> EscalationResult:
    """bot → waiting: stop the bot, queue the conversation, tell the shopper how long."""
    conversation = _lock(conversation_id)
    cleaned = _reasons(reasons)
    if conversation.state in (State.WAITING, State.AGENT):
        merged = _reasons([*conversation.escalation_reasons, *cleaned])
        if merged != list(conversation.escalation_reasons):
            conversation.escalation_reasons = merged
            conversation.save(update_fields=["escalation_reasons", "updated_at"])
            _after_commit(lambda: _publish_board_change("reprioritised", conversation_id, None))
        return EscalationResult(conversation_id, False, conversation.state, None, 0, None, (), None)
    _require_state(conversation, "escalate", State.BOT)
    now = timezone.now()
    stopped = tuple(
        Message.objects.filter(
            conversation=conversation,
            role=Message.Role.BOT,
            status__in=[Message.Status.QUEUED, Message.Status.GENERATING],
        ).values_list("pk", flat=True)
    )
    # The reply writer's heartbeat and finish only update rows still "generating": this
    # is what stops a reply that is streaming right now.
    Message.objects.filter(pk__in=stopped).update(
        status=Message.Status.FAILED, error_code="handed_off", finished_at=now
    )
    conversation.state = State.WAITING
    conversation.escalated_at = now
    conversation.escalation_reasons = cleaned
    conversation.assigned_agent = None
    conversation.save(
        update_fields=[
            "state",
            "escalated_at",
            "escalation_reasons",
            "assigned_agent",
            "updated_at",
        ]
    )
    on_duty = len(agents_on_duty())
    position = _queue_position(conversation_id)
    wait = _wait_minutes(position, on_duty) if on_duty else None
    if not on_duty:
        notice = _notice("nobody", conversation.language)
    elif wait is None:
        notice = _notice("queued_soon", conversation.language, position=position)
    else:
        notice = _notice("queued", conversation.language, position=position, minutes=wait)
    message = _system_message(conversation, notice)
    _record(conversation, Kind.ESCALATED, None, reasons=cleaned, stopped_replies=list(stopped))
    _after_transition(conversation, "escalated", None, messages=[message])
    return EscalationResult(
        conversation_id=conversation_id,
        escalated=True,
        state=conversation.state,
        position=position,
        agents_on_duty=on_duty,
        wait_minutes=wait,
        stopped_reply_ids=stopped,
        notice=notice,
    )


@dataclass(frozen=True)
class ClaimResult:
    conversation_id: int
    agent_id: int
    claimed: bool  # False: this agent already held it


@transaction.atomic
def escalation_claim(*, conversation_id: int, agent_id: int) -> ClaimResult:
    """waiting → agent, exactly once: the row lock makes a second claimer see the first."""
    agent = _require_agent(agent_id)
    conversation = _lock(conversation_id)
    if conversation.state == State.AGENT:
        if conversation.assigned_agent_id == agent_id:
            return ClaimResult(conversation_id, agent_id, claimed=False)
        raise AlreadyTaken(_holder_name(conversation))
    _require_state(conversation, "claim", State.WAITING)
    conversation.state = State.AGENT
    conversation.assigned_agent = agent
    conversation.save(update_fields=["state", "assigned_agent", "updated_at"])
    message = _system_message(conversation, _joined_notice(agent, conversation.language))
    _record(conversation, Kind.CLAIMED, agent_id)
    _after_transition(conversation, "claimed", agent_id, messages=[message])
    return ClaimResult(conversation_id, agent_id, claimed=True)


@transaction.atomic
def agent_reply(*, conversation_id: int, agent_id: int, text: str) -> Message:
    """The assigned agent writes to the shopper; stored, then published live."""
    text = _clean_text(text, limit=MAX_REPLY_CHARS, what="reply")
    _require_agent(agent_id)
    conversation = _lock(conversation_id)
    _require_holder(conversation, agent_id, "reply to")
    message = Message.objects.create(conversation=conversation, role=Message.Role.AGENT, text=text)
    conversation.save(update_fields=["updated_at"])
    _record(conversation, Kind.REPLIED, agent_id, message_id=message.pk)
    frame = _message_frame(message)
    group = conversation.group_name
    _after_commit(lambda: publish(group, frame))
    return message


@transaction.atomic
def conversation_resolve(*, conversation_id: int, agent_id: int) -> None:
    """agent → resolved, by the agent holding it; the widget then asks for a rating."""
    _require_agent(agent_id)
    conversation = _lock(conversation_id)
    _require_holder(conversation, agent_id, "resolve")
    _resolve(conversation, Conversation.Resolution.AGENT, agent_id)


@transaction.atomic
def conversation_resolve_by_bot(*, conversation_id: int) -> None:
    """bot → resolved: the bot answered and the shopper is done (thanks, bye, a rating)."""
    conversation = _lock(conversation_id)
    _require_state(conversation, "resolve by the bot", State.BOT)
    _resolve(conversation, Conversation.Resolution.BOT, None)


def _resolve(conversation: Conversation, resolution: str, agent_id: int | None) -> None:
    conversation.state = State.RESOLVED
    conversation.resolution = resolution
    conversation.resolved_at = timezone.now()
    conversation.save(update_fields=["state", "resolution", "resolved_at", "updated_at"])
    _record(conversation, Kind.RESOLVED, agent_id, resolution=resolution)
    _after_transition(conversation, "resolved", agent_id, messages=[])


@transaction.atomic
def conversation_hand_back(*, conversation_id: int, agent_id: int) -> None:
    """agent → bot: the holder lets the bot answer again."""
    _require_agent(agent_id)
    conversation = _lock(conversation_id)
    _require_holder(conversation, agent_id, "hand back")
    conversation.state = State.BOT
    conversation.assigned_agent = None
    conversation.save(update_fields=["state", "assigned_agent", "updated_at"])
    message = _system_message(conversation, _notice("handed_back", conversation.language))
    _record(conversation, Kind.HANDED_BACK, agent_id)
    _after_transition(conversation, "handed_back", agent_id, messages=[message])


@transaction.atomic
def conversation_reassign(*, conversation_id: int, from_agent_id: int, to_agent_id: int) -> None:
    """agent → agent: the holder passes the conversation to another agent on duty."""
    _require_agent(from_agent_id)
    conversation = _lock(conversation_id)
    _require_holder(conversation, from_agent_id, "reassign")
    if to_agent_id == from_agent_id:
        raise IllegalTransition("You already hold this conversation.")
    target = _require_agent(to_agent_id)
    if to_agent_id not in {card.id for card in agents_on_duty()}:
        raise AgentNotOnDuty(f"{agent_display_name(target)} is not on duty.")
    conversation.assigned_agent = target
    conversation.save(update_fields=["assigned_agent", "updated_at"])
    message = _system_message(conversation, _joined_notice(target, conversation.language))
    _record(conversation, Kind.REASSIGNED, from_agent_id, to_agent_id=to_agent_id)
    _after_transition(
        conversation, "reassigned", from_agent_id, messages=[message], to_agent_id=to_agent_id
    )


@transaction.atomic
def conversation_reopen(*, conversation_id: int) -> None:
    """resolved → bot: the shopper writes again in a resolved conversation."""
    conversation = _lock(conversation_id)
    _require_state(conversation, "reopen", State.RESOLVED)
    _reopen(conversation)


def _reopen(conversation: Conversation) -> None:
    conversation.state = State.BOT
    conversation.resolution = ""
    conversation.resolved_at = None
    conversation.assigned_agent = None
    conversation.save(
        update_fields=["state", "resolution", "resolved_at", "assigned_agent", "updated_at"]
    )
    _record(conversation, Kind.REOPENED, None)
    _after_transition(conversation, "reopened", None, messages=[])


@transaction.atomic
def note_add(*, conversation_id: int, agent_id: int, text: str) -> InternalNote:
    """An internal note for the agents; never sent to the shopper."""
    text = _clean_text(text, limit=MAX_NOTE_CHARS, what="note")
    agent = _require_agent(agent_id)
    conversation = _lock(conversation_id)
    note = InternalNote.objects.create(conversation=conversation, author=agent, text=text)
    _record(conversation, Kind.NOTED, agent_id, note_id=note.pk)
    frame = {
        "type": "note",
        "conversation_id": conversation_id,
        "note": note_payload(_note_card(note)),
    }
    group = conversation.agents_group_name
    _after_commit(lambda: publish(group, frame))
    return note


@transaction.atomic
def rating_record(*, conversation_id: int, score: int, comment: str | None = "") -> Rating:
    """CSAT, once per resolved conversation."""
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise InvalidRating("The score must be a whole number from 1 to 5.")
    if comment is None:
        comment = ""
    if not isinstance(comment, str):
        raise InvalidRating("The comment must be text.")
    comment = comment.strip()
    if len(comment) > MAX_RATING_COMMENT_CHARS:
        raise InvalidRating(f"The comment is longer than {MAX_RATING_COMMENT_CHARS} characters.")
    conversation = _lock(conversation_id)
    if conversation.state != State.RESOLVED:
        raise RatingNotAllowed("Ratings are taken once a conversation is resolved.")
    if Rating.objects.filter(conversation=conversation).exists():
        raise AlreadyRated("This conversation has already been rated.")
    rating = Rating.objects.create(conversation=conversation, score=score, comment=comment)
    frame = {
        "type": "rating",
        "conversation_id": conversation_id,
        "score": score,
        "comment": comment,
    }
    group = conversation.agents_group_name
    _after_commit(lambda: publish(group, frame))
    return rating


@transaction.atomic
def contact_email_record(*, conversation_id: int, email: str) -> str:
    """A waiting shopper leaves an email address for when nobody is on duty."""
    if not isinstance(email, str) or len(email.strip()) > 254:
        raise InvalidEmail("That is not a valid email address.")
    email = email.strip()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidEmail("That is not a valid email address.") from None
    conversation = _lock(conversation_id)
    if conversation.state != State.WAITING:
        raise ContactNotAllowed("An email address is taken while you wait for a person.")
    conversation.contact_email = email
    conversation.save(update_fields=["contact_email", "updated_at"])
    message = _system_message(
        conversation, _notice("contact_saved", conversation.language, email=email)
    )
    widget_frame = _message_frame(message)
    agents_frame = {"type": "contact", "conversation_id": conversation_id, "email": email}
    group, agents_group = conversation.group_name, conversation.agents_group_name

    def send() -> None:
        publish(group, widget_frame)
        publish(agents_group, agents_frame)
        _publish_board_change("contact", conversation_id, None)

    _after_commit(send)
    return email


# --- the shopper's message, with the handoff rules ---------------------------------------


@dataclass(frozen=True)
class ShopperMessage:
    received: Received
    escalation: EscalationResult | None
    contact_email: str | None


@transaction.atomic
def shopper_message_receive(
    *, conversation_id: int, text: str, client_id: uuid.UUID
) -> ShopperMessage:
    """Store a shopper message; reopen, escalate or take a contact address as it asks.

    A message in a resolved conversation reopens it for the bot; an explicit request for
    a person is stored without a bot reply and escalates; an email address sent while
    waiting is kept to answer later. Agent consoles see the message live.
    """
    # One lock and one look for a resend: this runs for every message a shopper sends.
    conversation = _lock(conversation_id)
    resent = message_received_before(conversation=conversation, client_id=client_id)
    if resent is not None:
        return ShopperMessage(resent, None, None)
    if conversation.state == State.RESOLVED:
        _reopen(conversation)
    asks = conversation.state == State.BOT and wants_a_person(text)
    received = message_store(
        conversation=conversation, text=text, client_id=client_id, queue_reply=not asks
    )
    if not received.created:
        return ShopperMessage(received, None, None)
    frame = {
        "type": "message",
        "conversation_id": conversation_id,
        "message_id": received.shopper_message_id,
        "role": Message.Role.SHOPPER,
        "text": text,
    }
    agents_group = conversation.agents_group_name
    _after_commit(lambda: publish(agents_group, frame))
    escalation = None
    if asks:
        escalation = conversation_escalate(
            conversation_id=conversation_id, reasons=[ASKED_FOR_PERSON]
        )
        conversation.refresh_from_db(fields=["state", "contact_email"])
    contact = None
    found = email_in(text)
    if conversation.state == State.WAITING and not conversation.contact_email and found:
        contact = contact_email_record(conversation_id=conversation_id, email=found)
    return ShopperMessage(received, escalation, contact)


def shopper_typing_frame(*, conversation_id: int) -> dict[str, Any]:
    return {"type": "typing", "role": "shopper", "conversation_id": conversation_id}


# --- shared pieces of the writes ---------------------------------------------------------


def _lock(conversation_id: int) -> Conversation:
    try:
        return Conversation.objects.select_for_update().get(pk=conversation_id)
    except Conversation.DoesNotExist:
        raise ConversationNotFound("There is no such conversation.") from None


def _require_state(conversation: Conversation, action: str, *allowed: str) -> None:
    if conversation.state not in allowed:
        raise IllegalTransition(
            f"Cannot {action} a conversation that is {conversation.get_state_display().lower()}."
        )


def _require_holder(conversation: Conversation, agent_id: int, action: str) -> None:
    _require_state(conversation, action, State.AGENT)
    if conversation.assigned_agent_id != agent_id:
        raise NotAssigned(f"Only {_holder_name(conversation)} can {action} this conversation.")


def _holder_name(conversation: Conversation) -> str:
    if conversation.assigned_agent_id is None:
        return "another agent"
    holder = User.objects.filter(pk=conversation.assigned_agent_id).first()
    return agent_display_name(holder) if holder else "another agent"


def _joined_notice(agent: User, language: str) -> str:
    if agent.first_name:
        return _notice("joined", language, name=agent.first_name)
    return _notice("joined_unnamed", language)


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


# --- reads: the queue, the handoff summary, the conversation view ------------------------

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
