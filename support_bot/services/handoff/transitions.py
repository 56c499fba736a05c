"""The writes: each arrow of the conversation's state machine, the agents' notes, and
the shopper's rating and contact address."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from support_bot.models import (
    Conversation,
    InternalNote,
    Message,
    Rating,
)
from support_bot.services.handoff.agents import _require_agent, agent_display_name, agents_on_duty
from support_bot.services.handoff.common import (
    MAX_NOTE_CHARS,
    MAX_RATING_COMMENT_CHARS,
    MAX_REPLY_CHARS,
    Kind,
    State,
    _after_commit,
    _after_transition,
    _clean_text,
    _lock,
    _message_frame,
    _publish_board_change,
    _reasons,
    _record,
    _require_state,
    _system_message,
)
from support_bot.services.handoff.console import (
    _note_card,
    _queue_position,
    _wait_minutes,
    note_payload,
)
from support_bot.services.handoff.errors import (
    AgentNotOnDuty,
    AlreadyRated,
    AlreadyTaken,
    ContactNotAllowed,
    IllegalTransition,
    InvalidEmail,
    InvalidRating,
    NotAssigned,
    RatingNotAllowed,
)
from support_bot.services.handoff.notices import _notice
from support_bot.streams import publish


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
